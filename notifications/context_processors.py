"""The header's bell on every page: unread count and the newest few, read only when a page shows them."""

from __future__ import annotations

from functools import cached_property

from django.http import HttpRequest

from . import selectors


class Bell:
    """Lazy: a page that never renders the bell (or an anonymous visitor) costs no query; one that does, two."""

    def __init__(self, user) -> None:
        self.user = user

    @cached_property
    def unread(self) -> int:
        return selectors.unread_count(self.user)

    @cached_property
    def recent(self) -> list:
        return selectors.recent(self.user)


def bell(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {"notification_bell": Bell(user) if user is not None else None}
