"""Reads for review: who may decide what, the queues, alias flags, and the reference lookups.

Everything here reads; nothing writes. Queue helpers return querysets so views can chain
filters, sort and paginate, and per-row extras (flags, what changed) are computed for a
whole page in a constant number of queries.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, Lower, Replace, TruncDate
from django.utils import timezone

from roles.models import ClassificationMapping, Decision, Role, TitleAlias
from roles.workflow import four_eyes_q, four_eyes_reason  # noqa: F401 - the queues read them from here
from taxonomy.models import OccupationCode

from .groups import REVIEW_ALIAS, REVIEW_MAPPING

GROUP_LEVELS = (OccupationCode.Level.MAJOR, OccupationCode.Level.MINOR, OccupationCode.Level.BROAD)


# ---------------------------------------------------------------------------------------------
# Permissions


def review_permission(item: Any) -> str:
    """Return the permission needed to decide `item` (an alias or a mapping, instance or class)."""
    model = item if isinstance(item, type) else type(item)
    if issubclass(model, TitleAlias):
        return REVIEW_ALIAS
    if issubclass(model, ClassificationMapping):
        return REVIEW_MAPPING
    raise TypeError(f"{model.__name__} is not reviewable.")


def can_review(user: Any, item: Any) -> bool:
    """Whether `user` may decide items like `item` at all (four-eyes is checked separately)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(review_permission(item))


def can_approve(user: Any, item: TitleAlias | ClassificationMapping) -> bool:
    """Whether `user` may approve `item`: the review permission and four-eyes."""
    return can_review(user, item) and not four_eyes_reason(user, item)


# ---------------------------------------------------------------------------------------------
# Reference codes


def is_group_level(occupation: OccupationCode | None) -> bool:
    """True for a major, minor or broad SOC group: approving it needs an explicit confirmation."""
    return occupation is not None and occupation.level in GROUP_LEVELS


def occupation_ancestors(pk: int) -> list[OccupationCode]:
    """Return [occupation, parent, grandparent, …] up to the major group, in one query.

    Raises OccupationCode.DoesNotExist for an unknown pk.
    """
    # An O*NET-SOC occupation sits four levels below its major group.
    occupation = OccupationCode.objects.select_related("parent__parent__parent__parent").get(pk=pk)
    chain = [occupation]
    while chain[-1].parent_id is not None and len(chain) < 5:
        chain.append(chain[-1].parent)
    return chain


def detailed_codes_under(occupation: OccupationCode, query: str = "") -> QuerySet[OccupationCode]:
    """Return the refinements a reviewer may pick under `occupation`, filtered by code or title.

    Under a group: its SOC detailed occupations. Under a detailed occupation: its O*NET-SOC ones.
    """
    if is_group_level(occupation):
        qs = OccupationCode.objects.detailed().filter(
            Q(parent=occupation) | Q(parent__parent=occupation) | Q(parent__parent__parent=occupation)
        )
    else:
        qs = OccupationCode.objects.filter(parent=occupation, level=OccupationCode.Level.ONET)
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(code__startswith=query) | Q(title__icontains=query))
    return qs.order_by("code")


def _normal_title(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower().replace("&", " and ")).split())


def title_mismatch(card_title: str, official_title: str) -> str:
    """Describe how the card's title differs from the official one, or "" when they agree.

    "&" for "and", case and punctuation differences are named as such, so the reviewer can
    take the official title.
    """
    if not card_title or card_title == official_title:
        return ""
    if _normal_title(card_title) == _normal_title(official_title):
        if ("&" in card_title) != ("&" in official_title):
            return "“&” where the official title has “and”" if "&" in card_title else "“and” for “&”"
        return "differs only in case or punctuation"
    return "a different title"


# ---------------------------------------------------------------------------------------------
# Alias flags


@dataclass(frozen=True)
class Flag:
    code: str
    label: str
    detail: str = ""


FLAG_CHOICES = [
    ("conflict", "Used by another role"),
    ("role_title", "Another role's title"),
    ("near_duplicate", "Near-duplicate in this role"),
    ("level", "At odds with the level"),
]

# Punctuation that separates words in an alias; roman numerals compare equal to digits.
# Kept short: each is one nested REPLACE in SQL, and SQLite's parser stack is shallow.
_SEPARATORS = "-/.,&"
_ROMAN = [("iii", "3"), ("ii", "2"), ("iv", "4"), ("i", "1")]


def duplicate_key(text: str) -> str:
    """Return the key near-duplicates share: case, punctuation, spacing and I/1 ignored.

    "Machine Learning I", "machine-learning 1" and "Machine  Learning 1." share one key.
    The SQL twin is `duplicate_key_expression()`.
    """
    lowered = text.lower()
    for sep in _SEPARATORS:
        lowered = lowered.replace(sep, " ")
    roman = dict(_ROMAN)
    return "".join(roman.get(word, word) for word in lowered.split())


def duplicate_key_expression(field: str = "alias"):
    """The SQL expression of `duplicate_key()`, for filtering by the near-duplicate flag."""
    expr = Lower(field, output_field=CharField())
    for sep in _SEPARATORS:
        expr = Replace(expr, Value(sep), Value(" "))
    expr = Concat(Value(" "), expr, Value(" "), output_field=CharField())
    for roman, digit in _ROMAN:
        expr = Replace(expr, Value(f" {roman} "), Value(f" {digit} "))
    return Replace(expr, Value(" "), Value(""))


def _role_key_expression():
    return Concat(Cast("role_id", CharField()), Value(":"), duplicate_key_expression(), output_field=CharField())


@lru_cache(maxsize=8)
def _level_pattern(words: tuple[str, ...]) -> str:
    # POSIX-compatible word boundaries: the same pattern runs in Python and in PostgreSQL.
    return r"(^|[^a-z0-9])(" + "|".join(re.escape(w).replace(r"\ ", " ") for w in words) + r")([^a-z0-9]|$)"


def _level_rules() -> list[tuple[str, str, int | None, int | None]]:
    rules = []
    for name, rule in settings.REVIEW_LEVEL_WORDS.items():
        rules.append((name, _level_pattern(tuple(rule["words"])), rule.get("max_rank"), rule.get("min_rank")))
    return rules


def level_flag(alias_text: str, level_code: str, rank: int) -> Flag | None:
    """Return a flag when the alias carries a word at odds with the role's level (no queries)."""
    for name, pattern, max_rank, min_rank in _level_rules():
        match = re.search(pattern, alias_text, re.IGNORECASE)
        if not match:
            continue
        if (max_rank is not None and rank > max_rank) or (min_rank is not None and rank < min_rank):
            return Flag("level", "At odds with the level", f"“{match.group(2)}” ({name}) on {level_code}")
    return None


def alias_flags(aliases: list[TitleAlias]) -> dict[int, list[Flag]]:
    """Return the flags of each alias in `aliases` (a page), keyed by pk, in three queries.

    Queries: aliases of other roles with the same text; roles whose title equals an alias;
    the sibling aliases of the page's roles. Aliases need `role__level` loaded (with_related()).
    """
    if not aliases:
        return {}
    lowers = {a.alias.lower() for a in aliases}
    role_ids = {a.role_id for a in aliases}
    used_by: dict[str, set[str]] = defaultdict(set)
    for text, role_id, role_code in (
        TitleAlias.objects.annotate(text_lower=Lower("alias"))
        .filter(text_lower__in=lowers)
        .values_list("text_lower", "role_id", "role__code")
    ):
        used_by[text].add((role_id, role_code))
    titled: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for text, role_id, role_code in (
        Role.objects.annotate(title_lower=Lower("title"))
        .filter(title_lower__in=lowers)
        .values_list("title_lower", "pk", "code")
    ):
        titled[text].add((role_id, role_code))
    keys: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    for pk, role_id, text in TitleAlias.objects.filter(role_id__in=role_ids).values_list("pk", "role_id", "alias"):
        keys[(role_id, duplicate_key(text))].append((pk, text))

    flags: dict[int, list[Flag]] = {}
    for a in aliases:
        found = []
        text = a.alias.lower()
        others = sorted(code for rid, code in used_by[text] if rid != a.role_id)
        if others:
            found.append(Flag("conflict", "Used by another role", ", ".join(others[:3])))
        titles = sorted(code for rid, code in titled[text] if rid != a.role_id)
        if titles:
            found.append(Flag("role_title", "Another role's title", ", ".join(titles[:3])))
        twins = [t for pk, t in keys[(a.role_id, duplicate_key(a.alias))] if pk != a.pk]
        if twins:
            found.append(Flag("near_duplicate", "Near-duplicate", "; ".join(twins[:3])))
        level = a.role.level
        flag = level_flag(a.alias, level.code, level.rank)
        if flag:
            found.append(flag)
        flags[a.pk] = found
    return flags


def filter_alias_flag(qs: QuerySet[TitleAlias], flag: str) -> QuerySet[TitleAlias]:
    """Keep the aliases that carry `flag` (one of FLAG_CHOICES); raises ValueError for another."""
    if flag == "conflict":
        shared = (
            TitleAlias.objects.annotate(text_lower=Lower("alias"))
            .values("text_lower")
            .annotate(roles=Count("role_id", distinct=True))
            .filter(roles__gt=1)
            .values("text_lower")
        )
        return qs.annotate(text_lower=Lower("alias")).filter(text_lower__in=shared)
    if flag == "role_title":
        titles = Role.objects.annotate(title_lower=Lower("title")).values("title_lower")
        # An alias equal to its own role's title is not this flag (unless another role shares it).
        other_titles = Role.objects.annotate(title_lower=Lower("title")).filter(
            title_lower=OuterRef("text_lower")
        ).exclude(pk=OuterRef("role_id"))
        return (
            qs.annotate(text_lower=Lower("alias"))
            .filter(text_lower__in=titles)
            .filter(Exists(other_titles))
        )
    if flag == "near_duplicate":
        # "role:key" pairs shared by two or more aliases, found in one grouped scan; an
        # uncorrelated IN is computed once (a correlated EXISTS would rescan per row).
        twins = (
            TitleAlias.objects.annotate(pair=_role_key_expression())
            .values("pair")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .values("pair")
        )
        return qs.annotate(pair=_role_key_expression()).filter(pair__in=twins)
    if flag == "level":
        condition = Q(pk__in=[])
        for _name, pattern, max_rank, min_rank in _level_rules():
            if max_rank is not None:
                condition |= Q(role__level__rank__gt=max_rank, alias__iregex=pattern)
            if min_rank is not None:
                condition |= Q(role__level__rank__lt=min_rank, alias__iregex=pattern)
        return qs.filter(condition)
    raise ValueError(f"Unknown alias flag {flag!r}: use one of {', '.join(c for c, _ in FLAG_CHOICES)}.")


# ---------------------------------------------------------------------------------------------
# Queues


def alias_queue() -> QuerySet[TitleAlias]:
    """All aliases with what a queue row shows joined in; filter with review.filters.AliasFilter."""
    # content_changed_by: the queue names who changed a reopened alias.
    return TitleAlias.objects.with_related().select_related("content_changed_by")


def mapping_queue() -> QuerySet[ClassificationMapping]:
    """All mappings with what a queue row shows joined in; filter with review.filters.MappingFilter."""
    # occupation__parent: the row shows the group a code sits in.
    return ClassificationMapping.objects.with_related().select_related(
        "occupation__parent", "content_changed_by"
    )


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


def content_changes(items: list[TitleAlias] | list[ClassificationMapping]) -> dict[int, list[Change]]:
    """Return what changed (old → new) in the content of items a curator edited, keyed by pk.

    "Old" is the content as it stood when the item was last decided. One query over the
    history of the items that have a content change (none when no item has one), and one for
    the codes of the roles an item was moved away from, when one was.
    """
    changed = [i for i in items if i.content_changed_at is not None]
    if not changed:
        return {}
    model = type(changed[0])
    # The occupation follows from the code: showing the code's change says it all.
    fields = [f for f in model.CONTENT_FIELDS if f != "occupation"]
    attnames = {f: model._meta.get_field(f).attname for f in fields}
    rows = (
        model.history.filter(id__in=[i.pk for i in changed])
        .exclude(status=model.OPEN)
        .order_by("id", "-history_date", "-history_id")
        .values("id", *attnames.values())
    )
    decided: dict[int, dict[str, Any]] = {}
    for row in rows:
        decided.setdefault(row["id"], row)
    changes: dict[int, list[Change]] = {}
    moved_from: set[int] = set()
    for item in changed:
        old = decided.get(item.pk)
        if old is None:
            continue
        diff = [Change(f, old[attnames[f]], getattr(item, attnames[f])) for f in fields
                if old[attnames[f]] != getattr(item, attnames[f])]
        if diff:
            changes[item.pk] = diff
            moved_from.update(c.old for c in diff if c.field == "role")
    if moved_from:
        codes = dict(Role.objects.filter(pk__in=moved_from).values_list("pk", "code"))
        for item in changed:
            changes[item.pk] = [
                Change("role", codes.get(c.old, "(deleted role)"), item.role.code) if c.field == "role" else c
                for c in changes.get(item.pk, [])
            ]
    return changes


def backlog_by_status() -> dict[str, dict[str, int]]:
    """Return {"aliases": {status: n}, "mappings": {status: n}} in two queries."""
    result = {}
    for name, model in (("aliases", TitleAlias), ("mappings", ClassificationMapping)):
        counts = dict(model.objects.order_by().values_list("status").annotate(n=Count("pk")))
        result[name] = {value: counts.get(value, 0) for value, _label in model.Status.choices}
    return result


def pending_by_family(limit: int = 15) -> list[tuple[str, int]]:
    """Return [(family code, pending aliases + mappings)] largest first, in two queries."""
    totals: dict[str, int] = defaultdict(int)
    for qs in (TitleAlias.objects.pending(), ClassificationMapping.objects.needs_review()):
        for family, n in (
            qs.order_by().values_list("role__node__parent__code").annotate(n=Count("pk"))
        ):
            totals[family or "—"] += n
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def decisions_per_day(days: int = 7) -> list[tuple[Any, int]]:
    """Return [(date, decisions)] for each of the last `days` days, oldest first, in one query."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    counts = dict(
        Decision.objects.reviews().filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day")
        .annotate(n=Count("pk"))
    )
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]
