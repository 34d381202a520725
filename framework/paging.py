"""Keyset ("seek") pagination and capped counts: list pages whose cost does not grow with the table.

`OFFSET 5000` makes the database read and throw away 5,000 rows; a keyset page instead starts
right after the last row shown, found through the index that serves the order. The address
carries that position as an opaque cursor (`after=…` or `before=…`), plus `p=N` for the page
number shown. Counting every matching row is the other cost that grows with the data: lists
count up to ROLEBOOK_COUNT_CAP rows and then say "more than N", unless the caller knows the
exact number cheaply (e.g. from the role digests).

Usage::

    paginator = KeysetPaginator(queryset, ["confidence", "pk"], per_page=50)
    page = paginator.page(request.GET)           # raises InvalidCursor for a bad cursor
    page.object_list, page.next_query, page.count, page.count_is_capped
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.http import QueryDict

CURSOR_PARAMS = ("after", "before", "p", "page")
# Bounds of what a cursor may hold: any list's keys fit well inside them.
MAX_CURSOR_LENGTH = 4096
MAX_TEXT_KEY = 1000  # text keys without a max_length
INTEGER_FIELDS = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
                  "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField"}


class InvalidCursor(ValueError):
    """A cursor that this list did not make (edited, truncated, or from another sort)."""


def capped_count(queryset: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    """Count the rows of `queryset` up to `cap`; return (count, whether there are more than `cap`)."""
    cap = settings.ROLEBOOK_COUNT_CAP if cap is None else cap
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return (cap, True) if found > cap else (found, False)


def _encode(values: list[Any]) -> str:
    plain = []
    for value in values:
        if isinstance(value, Decimal):
            plain.append(str(value))
        elif isinstance(value, dt.datetime | dt.date):
            plain.append(value.isoformat())
        else:
            plain.append(value)
    raw = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _checked(value: Any, output_field: Any) -> Any:
    """`value` as `output_field` holds it, when it is one _encode could have written; else InvalidCursor.

    The cursor is read from the address, so anything can arrive here: a NUL (which PostgreSQL
    refuses in text), a number for a text key, a float for an id, a time without an offset.
    """
    internal = output_field.get_internal_type()
    if internal in INTEGER_FIELDS:
        # bool is an int to Python; a float (1e400, 1.5) is no id.
        if type(value) is not int or not -(2**63) <= value < 2**63:
            raise InvalidCursor("not a position in this list")
    elif internal == "FloatField":
        if type(value) not in (int, float) or not math.isfinite(value):
            raise InvalidCursor("not a position in this list")
    elif internal == "BooleanField":
        if type(value) is not bool:
            raise InvalidCursor("not a position in this list")
    elif (not isinstance(value, str) or "\x00" in value
          or len(value) > (getattr(output_field, "max_length", None) or MAX_TEXT_KEY)):
        raise InvalidCursor("not a position in this list")
    try:
        typed = output_field.to_python(value)
    except (ValidationError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidCursor("not a position in this list") from exc
    if isinstance(typed, dt.datetime):
        # _encode writes aware times; one without an offset, or out of range in UTC, is not ours.
        if typed.tzinfo is None:
            raise InvalidCursor("not a position in this list")
        try:
            typed = typed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise InvalidCursor("not a position in this list") from exc
    return typed


def _decode(cursor: str, fields: list[Any]) -> list[Any]:
    # A cursor is a few dozen characters; a long one is refused before any decoding work.
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("not a position in this list")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCursor("not a position in this list") from exc
    if not isinstance(values, list) or len(values) != len(fields):
        raise InvalidCursor("not a position in this list")
    return [_checked(value, output_field) for value, output_field in zip(values, fields, strict=True)]


@dataclass
class KeysetPage:
    object_list: list[Any]
    number: int
    has_next: bool
    has_previous: bool
    next_query: str = ""
    previous_query: str = ""
    count: int = 0
    count_is_capped: bool = False
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


class KeysetPaginator:
    """Pages of `queryset` in the order `ordering` (field paths, "-" for descending; the last must be unique).

    Rows compare on the ordering's values, so the index that serves the order also finds a page's start.
    """

    def __init__(
        self,
        queryset: QuerySet,
        ordering: Sequence[str],
        *,
        per_page: int,
        exact_count: Callable[[], int] | None = None,
        cap: int | None = None,
    ) -> None:
        self.keys = [(name.lstrip("-"), name.startswith("-")) for name in ordering]
        self.aliases = [f"_keyset_{i}" for i in range(len(self.keys))]
        self.queryset = queryset.annotate(**{a: F(path) for a, (path, _desc) in zip(self.aliases, self.keys,
                                                                                      strict=True)})
        self.per_page = per_page
        self.exact_count = exact_count
        self.cap = cap
        self._base = queryset

    def _order(self, reverse: bool = False) -> list[str]:
        return [("-" if desc != reverse else "") + alias for alias, (_p, desc) in zip(self.aliases, self.keys,
                                                                                    strict=True)]

    def _fields(self) -> list[Any]:
        annotations = self.queryset.query.annotations
        return [annotations[alias].output_field for alias in self.aliases]

    def _beyond(self, values: list[Any], *, backwards: bool) -> Q:
        """Rows after `values` in the list's order (before them when `backwards`)."""
        condition = Q()
        for i, (alias, (_path, desc)) in enumerate(zip(self.aliases, self.keys, strict=True)):
            greater = desc == backwards
            step = Q(**{f"{alias}__{'gt' if greater else 'lt'}": values[i]})
            for j in range(i):
                step &= Q(**{self.aliases[j]: values[j]})
            condition |= step
        # The first key alone bounds the index range; the OR above then picks exact rows.
        first_greater = self.keys[0][1] == backwards
        return Q(**{f"{self.aliases[0]}__{'gte' if first_greater else 'lte'}": values[0]}) & condition

    def page(self, params: QueryDict) -> KeysetPage:
        """The page `params` (a request's GET) asks for. Raises InvalidCursor for a cursor it cannot read."""
        after, before = params.get("after", ""), params.get("before", "")
        try:
            number = max(1, int(params.get("p", "1")))
        except ValueError:
            number = 1
        if after and before:
            raise InvalidCursor("give after or before, not both")
        qs = self.queryset
        if before:
            rows = list(qs.filter(self._beyond(_decode(before, self._fields()), backwards=True))
                        .order_by(*self._order(reverse=True))[: self.per_page + 1])
            has_previous = len(rows) > self.per_page
            rows = list(reversed(rows[: self.per_page]))
            has_next = True
            if not has_previous:
                number = 1
        else:
            if after:
                qs = qs.filter(self._beyond(_decode(after, self._fields()), backwards=False))
            else:
                number = 1
            rows = list(qs.order_by(*self._order())[: self.per_page + 1])
            has_next = len(rows) > self.per_page
            rows = rows[: self.per_page]
            has_previous = bool(after)
        page = KeysetPage(object_list=rows, number=number, has_next=has_next and bool(rows), has_previous=has_previous)
        base = params.copy()
        for name in CURSOR_PARAMS:
            base.pop(name, None)
        if page.has_next and rows:
            q = base.copy()
            q["after"] = _encode([getattr(rows[-1], a) for a in self.aliases])
            q["p"] = str(number + 1)
            page.next_query = q.urlencode()
        if page.has_previous:
            q = base.copy()
            if rows:
                q["before"] = _encode([getattr(rows[0], a) for a in self.aliases])
                q["p"] = str(max(1, number - 1))
            page.previous_query = q.urlencode()
        if self.exact_count is not None:
            page.count = self.exact_count()
        else:
            page.count, page.count_is_capped = capped_count(self._base, self.cap)
        return page
