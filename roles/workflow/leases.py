"""Work handed out, not grabbed: a reviewer's batch of open items that nobody else holds.

"Review next" leases a batch (`take_batch`) from the queue the reviewer is looking at, with its
filters and sort: the first REVIEW_BATCH_SIZE open items nobody else holds and the reviewer may
decide (four-eyes), for REVIEW_LEASE_MINUTES. A lease ends when it expires, when its holder takes
the next batch or gives the batch back (`release`), or when the item is decided (the review core
deletes it in the decision's transaction).

No item is ever held twice:
- the lease table has one row per item at most (one-to-one keys): a taker's insert skips an item
  another taker leased meanwhile, only expired leases are deleted to make way, and the batch
  returned is what the taker's own rows hold;
- on PostgreSQL the batch's items are chosen with `SELECT … FOR UPDATE SKIP LOCKED`: two reviewers
  taking at once lock disjoint rows, and a row being decided is skipped. (A taker that committed
  just before another's SELECT reached its rows leaves them unlocked, and READ COMMITTED does not
  re-check their new lease rows: the insert above is what refuses the double then);
- on SQLite every write transaction is IMMEDIATE (framework.settings): takers queue, and each
  sees the leases of the one before.

A decision on an item another reviewer holds is refused with the holder's name and the time left
(`check_lease`), except for a lead (roles.lead_review), whose decision takes the item over.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import LEAD_REVIEW, Decision, DecisionKind, Lease, Reviewable
from . import samples
from .rules import ReviewError, check_permission, describe, four_eyes_q


class HeldByAnother(ReviewError):
    """The item is leased to another reviewer, who has not finished with it."""


def _field(model: type[Reviewable]) -> str:
    return Decision.item_field(model)


def held_by_others(user: Any, model: type[Reviewable], at: datetime | None = None) -> Q:
    """The filter for `model` items another reviewer holds now (a queue hides them by default)."""
    return Q(lease__expires_at__gt=at or timezone.now()) & ~Q(lease__holder=user)


def held_by(user: Any, at: datetime | None = None) -> Q:
    """The filter for the items `user` holds now."""
    return Q(lease__expires_at__gt=at or timezone.now(), lease__holder=user)


def is_lead(user: Any) -> bool:
    return user.has_perm(LEAD_REVIEW)


def take_batch(
    model: type[Reviewable], queryset: QuerySet, *, actor: Any, size: int | None = None, minutes: int | None = None,
    first: Q | None = None,
) -> list[int]:
    """Lease the next batch of `queryset` (filtered and sorted as the queue shows it) to `actor`.

    Gives back the actor's current batch of `model` first. Takes open items only, that nobody
    else holds, that four-eyes lets the actor approve, that are not in a double-blind sample the
    actor reviewed or that waits for a lead, in the queryset's order: those matching
    `first` (the actor's assignments) before the rest. Returns their pks in that order (empty
    when nothing is left). Raises ReviewPermissionDenied for a non-reviewer.
    """
    check_permission(actor, model, DecisionKind.REJECT)
    size = size or settings.REVIEW_BATCH_SIZE
    now = timezone.now()
    until = now + timedelta(minutes=minutes or settings.REVIEW_LEASE_MINUTES)
    field = _field(model)
    with transaction.atomic():
        Lease.objects.filter(holder=actor, **{f"{field}__isnull": False}).delete()
        free = (
            queryset.filter(status=model.OPEN)
            .exclude(Q(lease__expires_at__gt=now))
            .exclude(four_eyes_q(actor))
            .exclude(samples.hidden_from_q(actor, model))
        )
        if connection.features.has_select_for_update_skip_locked:
            free = free.select_for_update(skip_locked=True, of=("self",))
        pks: list[int] = []
        for _attempt in range(3):  # again only when another taker won some of the rows chosen
            chosen = _choose(free, first, size - len(pks), pks)
            if not chosen:
                break
            won = _lease(model, chosen, actor=actor, now=now, until=until)
            pks += won
            if len(won) == len(chosen) or len(pks) >= size:
                break
    return pks


def _choose(free: QuerySet, first: Q | None, size: int, taken: list[int]) -> list[int]:
    """The next `size` free pks in the queue's order, those matching `first` before the rest."""
    free = free.exclude(pk__in=taken) if taken else free
    pks = list(free.filter(first).values_list("pk", flat=True)[:size]) if first is not None else []
    if len(pks) < size:
        pks += list(free.exclude(pk__in=pks).values_list("pk", flat=True)[: size - len(pks)])
    return pks


def _lease(model: type[Reviewable], pks: list[int], *, actor: Any, now: datetime, until: datetime) -> list[int]:
    """Lease `pks` to `actor`; return those it now holds, in order.

    Expired leases of these items give way, never a live one; then one insert that skips any item
    another taker leased meanwhile (the one-to-one keys), and one read of what is the actor's.
    """
    field = _field(model)
    Lease.objects.filter(**{f"{field}__in": pks, "expires_at__lte": now}).delete()
    Lease.objects.bulk_create(
        [Lease(**{f"{field}_id": pk}, holder=actor, taken_at=now, expires_at=until) for pk in pks],
        ignore_conflicts=True,
    )
    ours = set(Lease.objects.filter(holder=actor, expires_at=until, **{f"{field}__in": pks})
               .values_list(f"{field}_id", flat=True))
    return [pk for pk in pks if pk in ours]
    return pks


def release(model: type[Reviewable], *, actor: Any) -> int:
    """Give back the actor's batch of `model` items; return how many were held."""
    deleted, _ = Lease.objects.filter(holder=actor, **{f"{_field(model)}__isnull": False}).delete()
    return deleted


def _loaded(items: list[Reviewable]) -> bool:
    """Whether every item was read with its lease (`select_related("lease__holder")`): no query needed."""
    return all(type(item).lease.is_cached(item) for item in items)


def _lease_of(item: Reviewable) -> Lease | None:
    return getattr(item, "lease", None)  # a missing reverse one-to-one raises an AttributeError


def held(items: list[Reviewable], *, actor: Any, at: datetime | None = None) -> dict[int, Lease]:
    """The live leases another reviewer has on any of `items`, by item pk (read with them, else one query)."""
    if not items:
        return {}
    if _loaded(items):
        at = at or timezone.now()
        leases = {item.pk: _lease_of(item) for item in items}
        return {pk: lease for pk, lease in leases.items()
                if lease is not None and lease.expires_at > at and lease.holder_id != actor.pk}
    return holds(type(items[0]), [item.pk for item in items], actor=actor, at=at)


def holds(model: type[Reviewable], pks: list[int], *, actor: Any, at: datetime | None = None) -> dict[int, Lease]:
    """The live leases another reviewer has on any of `pks`, by item pk (one query)."""
    if not pks:
        return {}
    field = _field(model)
    leases = (
        Lease.objects.live(at).filter(**{f"{field}__in": pks}).exclude(holder=actor).select_related("holder")
    )
    return {getattr(lease, f"{field}_id"): lease for lease in leases}


def held_text(lease: Lease, at: datetime | None = None) -> str:
    minutes = max(1, math.ceil((lease.expires_at - (at or timezone.now())).total_seconds() / 60))
    return (f"held by {lease.holder.get_username()} for {minutes} more minute{'s' if minutes != 1 else ''} "
            f"(until {timezone.localtime(lease.expires_at):%H:%M})")


def check_lease(item: Reviewable, *, actor: Any, at: datetime | None = None) -> None:
    """Refuse a decision on an item another reviewer holds, unless the actor is a lead (who takes it over)."""
    if is_lead(actor):
        return
    lease = held([item], actor=actor, at=at).get(item.pk)
    if lease is not None:
        text = f"{describe(item)} is {held_text(lease, at)}: leave it to them, or ask a lead to take it over."
        raise HeldByAnother(text[:1].upper() + text[1:])


def end(items: list[Reviewable]) -> None:
    """Delete the leases of decided items, whoever held them (inside the decision's transaction)."""
    if not items or (_loaded(items) and not any(_lease_of(item) for item in items)):
        return
    model = type(items[0])
    Lease.objects.filter(**{f"{_field(model)}__in": [item.pk for item in items]}).delete()
