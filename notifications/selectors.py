"""Reads of notifications and preferences: each person sees only their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from roles.models import Assignment, ClassificationMapping, TitleAlias
from roles.workflow import four_eyes_q

from .models import Notification, NotificationPreference

BELL_SIZE = 5
REVIEW_PERMISSIONS = (TitleAlias.REVIEW_PERMISSION, ClassificationMapping.REVIEW_PERMISSION)


def notifications_for(user: Any) -> QuerySet[Notification]:
    """Return `user`'s notifications, newest first (nobody else's, whoever asks)."""
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-pk")


def unread_count(user: Any) -> int:
    """Return how many of `user`'s notifications are unread (one query)."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def recent(user: Any, limit: int = BELL_SIZE) -> list[Notification]:
    """Return `user`'s newest `limit` notifications, read or not (one query)."""
    return list(notifications_for(user)[:limit])


def preferences_for(user: Any) -> NotificationPreference:
    """Return `user`'s preferences, or the defaults (unsaved) when they never chose."""
    try:
        return NotificationPreference.objects.get(user=user)
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(user=user)


def digest_recipients() -> list[Any]:
    """Return the active users who opted in to the daily digest and may review aliases or mappings."""
    users = (
        get_user_model()
        .objects.filter(is_active=True, notification_preference__daily_digest=True)
        .exclude(email="")
        .order_by("pk")
    )
    return [user for user in users if any(user.has_perm(p) for p in REVIEW_PERMISSIONS)]


@dataclass
class DigestSummary:
    """What waits for review: counts per family (aliases, mappings) and the item waiting longest."""

    aliases_by_family: dict[str, int]
    mappings_by_family: dict[str, int]
    oldest_text: str
    oldest_since: datetime | None
    # Open items under the reviewer's assignments past their due date.
    overdue: int = 0

    @property
    def total(self) -> int:
        return sum(self.aliases_by_family.values()) + sum(self.mappings_by_family.values())

    def families(self) -> list[tuple[str, int, int]]:
        """(family, aliases, mappings) for every family with work waiting, in code order."""
        codes = sorted(set(self.aliases_by_family) | set(self.mappings_by_family))
        return [(c, self.aliases_by_family.get(c, 0), self.mappings_by_family.get(c, 0)) for c in codes]


def _by_family(queryset: QuerySet) -> dict[str, int]:
    rows = queryset.values("role__node__parent__code").annotate(n=Count("pk")).order_by()
    return {row["role__node__parent__code"] or "?": row["n"] for row in rows}


def digest_summary(user: Any) -> DigestSummary:
    """What `user` may review: open aliases and/or mappings per family, the oldest open item, and what is
    past due under their assignments (5 queries, 7 with an assignment past due).

    What four-eyes keeps from `user` (items they authored: created, or edited the content of) is
    left out, as the review dashboard leaves it out.
    """
    aliases = TitleAlias.objects.pending() if user.has_perm(TitleAlias.REVIEW_PERMISSION) else TitleAlias.objects.none()
    mappings = (
        ClassificationMapping.objects.filter(status=ClassificationMapping.OPEN)
        if user.has_perm(ClassificationMapping.REVIEW_PERMISSION)
        else ClassificationMapping.objects.none()
    )
    aliases, mappings = aliases.exclude(four_eyes_q(user)), mappings.exclude(four_eyes_q(user))
    oldest_alias = aliases.select_related("role").order_by("created_at", "pk").first()
    oldest_mapping = mappings.select_related("role").order_by("created_at", "pk").first()
    candidates = [i for i in (oldest_alias, oldest_mapping) if i is not None]
    oldest = min(candidates, key=lambda i: i.created_at) if candidates else None
    if isinstance(oldest, TitleAlias):
        text = f"the alias “{oldest.alias}” of {oldest.role.code}"
    elif oldest is not None:
        text = f"the mapping of {oldest.role.code} to {oldest.code}"
    else:
        text = ""
    overdue = 0
    late = Q(pk__in=[])
    for assignment in Assignment.objects.for_user(user).filter(due_date__lt=timezone.localdate()).select_related(
        "node"
    ):
        late |= assignment.covers()
    if late != Q(pk__in=[]):
        overdue = aliases.filter(late).count() + mappings.filter(late).count()
    return DigestSummary(
        aliases_by_family=_by_family(aliases),
        mappings_by_family=_by_family(mappings),
        oldest_text=text,
        oldest_since=oldest.created_at if oldest is not None else None,
        overdue=overdue,
    )
