"""Cursor pagination in code-point order of the code: stable while data changes, never skips a row."""

from __future__ import annotations

import base64

from django.conf import settings
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from .selectors import ORDER

BAD_CURSOR = "Not a cursor from this API: start without one."
MAX_POSITION = 200  # characters; role and occupation codes have at most 40


class CodeCursorPagination(CursorPagination):
    """Pages of ROLEBOOK_API_PAGE_SIZE rows (``page_size`` up to ROLEBOOK_API_MAX_PAGE_SIZE), by code.

    The querysets annotate ``api_order``: the code in code-point order on every database, so
    the order, and a cursor taken on one page, mean the same on SQLite and PostgreSQL.
    """

    ordering = (ORDER,)
    page_size_query_param = "page_size"
    page_size_query_description = "Rows per page (default and maximum are set by the server)."
    cursor_query_description = "The page to read: copy it from a response's next or previous link."

    def __init__(self):
        self.page_size = settings.ROLEBOOK_API_PAGE_SIZE
        self.max_page_size = settings.ROLEBOOK_API_MAX_PAGE_SIZE

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            # A cursor the server did not write is a bad parameter, not a missing page.
            raise ValidationError({self.cursor_query_param: [BAD_CURSOR]}) from None
        # The position is compared with codes in SQL: PostgreSQL refuses a NUL in text, and no code
        # is longer than MAX_POSITION, so either is a cursor this API did not write.
        position = cursor.position if cursor is not None else None
        if position is not None and ("\x00" in position or len(position) > MAX_POSITION):
            raise ValidationError({self.cursor_query_param: [BAD_CURSOR]})
        return cursor


class VersionCursorPagination:
    """Cursor pagination over the short, newest-first list of published releases.

    The cursor is the version of the page's last row (next) or first row (previous), encoded, so
    a page stays put while new releases are published. Same parameters and body as the others.
    """

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate(self, items: list, key, request) -> list:
        """Return the page of `items` (each identified by key(item)) that `request` asks for."""
        self.request = request
        size = CodeCursorPagination().get_page_size(request)
        raw = request.query_params.get(self.cursor_query_param)
        keys = [key(item) for item in items]
        start, end = 0, size
        if raw:
            try:
                direction, _, version = base64.urlsafe_b64decode(raw.encode("ascii")).decode("utf-8").partition(":")
            except (ValueError, UnicodeError):
                direction, version = "", ""
            if direction not in ("n", "p") or version not in keys:
                raise ValidationError({self.cursor_query_param: [BAD_CURSOR]})
            at = keys.index(version)
            start, end = (at + 1, at + 1 + size) if direction == "n" else (max(0, at - size), at)
        self.keys = keys
        self.start, self.end = start, min(end, len(items))
        return items[start:end]

    def _link(self, direction: str, version: str) -> str:
        cursor = base64.urlsafe_b64encode(f"{direction}:{version}".encode()).decode("ascii")
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        next_link = self._link("n", self.keys[self.end - 1]) if self.end < len(self.keys) else None
        previous = self._link("p", self.keys[self.start]) if self.start > 0 and self.start < len(self.keys) else None
        return Response({"next": next_link, "previous": previous, "results": data})

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return CodeCursorPagination().get_schema_operation_parameters(view)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return CodeCursorPagination().get_paginated_response_schema(schema)
