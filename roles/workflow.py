"""The review state machine: the one place where a title alias's or a mapping's review state changes.

A review state is `status`, the `decided_by`/`decided_at` stamps, the `content_editors` that
four-eyes reads, and the Decision row that logs each move. Every writer goes through here:
review decisions one at a time (`move_to`) or in bulk (`move_many`), curators' content edits
that send a decided item back to review (`note_content_change`), card imports and fixture
loads (`prepare_move`, written in bulk by the importer). Each move is checked against the
model's TRANSITIONS table, the actor's permission for that kind of move, four-eyes and the
reason rule, in that order, before anything is written.

Nothing here locks rows: callers hold the transaction and the row locks (`select_for_update`)
from their read to their write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.utils import timezone

from framework.audit import acting_as, has_visible_text, update_with_history

from . import derived
from .models import (
    APPROVING_KINDS,
    IMPORT_DECISIONS,
    KINDS_NEEDING_REASON,
    ClassificationMapping,
    Decision,
    DecisionKind,
    Reviewable,
    TitleAlias,
)

APPROVED = "approved"
# issue 12: sent after every move_to / move_many inside the decision's transaction (notifications
# listen), with sender=the model, items=the moved items, kind, actor and reason.
decided = Signal()
logger = logging.getLogger("rolebook.review")
KIND_VALUES = frozenset(DecisionKind.values)
REVIEWABLE_MODELS: tuple[type[Reviewable], ...] = (TitleAlias, ClassificationMapping)


class ReviewError(Exception):
    """A review move that cannot be made; the message tells the person what to do."""


class ReviewPermissionDenied(ReviewError):
    """The actor does not hold the permission this kind of move needs."""


class FourEyesViolation(ReviewError):
    """The actor created the item or changed its content since it was last approved."""


class ReasonRequired(ReviewError):
    """Rejecting, reopening, importing or changing needs a reason with visible text."""


class IllegalTransition(ReviewError):
    """The transition table does not allow this move (e.g. reopening a pending alias)."""


class AlreadyDecided(IllegalTransition):
    """Someone already decided the item; the message names who, what and when."""


class ItemGone(ReviewError):
    """The item was deleted while the person looked at it."""


class ItemChanged(ReviewError):
    """The item changed since the person looked at it: they must look again before deciding."""


class InvalidCode(ReviewError):
    """The mapping's code is not an official code, or not a detailed refinement of the current one."""


class GroupLevelNotConfirmed(ReviewError):
    """A mapping to a major, minor or broad group needs an explicit "approve as group-level"."""


# ---------------------------------------------------------------------------------------------
# Words for people


def describe(item: Reviewable) -> str:
    """Return "the alias “…”" or "the mapping to 15-2051"."""
    if isinstance(item, TitleAlias):
        return f"the alias “{item.alias}”"
    return f"the mapping to {item.code}"


def who_decided(item: Reviewable, decision: Decision | None) -> str:
    """Return "approved by alice on 2026-11-26 01:50 UTC" for the item's last decision."""
    if decision is not None and decision.to_status == item.status:
        verb = item.get_status_display().lower()
        who = decision.actor.get_username()
        when = decision.created_at
    else:
        # No logged move to this state (e.g. loaded by a bare loaddata): use the item's stamps.
        verb = item.get_status_display().lower()
        who = item.decided_by.get_username() if item.decided_by_id else "an unknown reviewer"
        when = item.decided_at
    when_text = f" on {timezone.localtime(when):%Y-%m-%d %H:%M %Z}" if when else ""
    return f"{verb} by {who}{when_text}"


def _already_decided(item: Reviewable, decision: Decision | None) -> AlreadyDecided:
    return AlreadyDecided(
        f"{describe(item).capitalize()} was already {who_decided(item, decision)}. "
        "Reload the queue; reopen it first if it must be decided again."
    )


def last_decisions(items: Sequence[Reviewable]) -> dict[int, Decision]:
    """Return the newest Decision of each item (same model), keyed by item pk, in one query."""
    if not items:
        return {}
    field = Decision.item_field(type(items[0]))
    latest: dict[int, Decision] = {}
    rows = (
        Decision.objects.filter(**{f"{field}__in": [i.pk for i in items]})
        .select_related("actor")
        .order_by(f"{field}_id", "-created_at", "-pk")
    )
    for decision in rows:
        latest.setdefault(getattr(decision, f"{field}_id"), decision)
    return latest


def require_version(item: Reviewable, expected: int | None) -> None:
    """Raise ItemChanged when `item` (locked) moved past the version the decider was shown."""
    if expected is None or item.version == expected:
        return
    last = type(item).history.filter(id=item.pk).order_by("-history_id").select_related("history_user").first()
    who = last.history_user.get_username() if last is not None and last.history_user else "someone"
    when = f" on {timezone.localtime(last.history_date):%Y-%m-%d %H:%M %Z}" if last is not None else ""
    raise ItemChanged(
        f"{describe(item).capitalize()} was changed by {who}{when} since you opened it "
        f"(it is now {item.get_status_display().lower()}): look at it again before deciding."
    )


# ---------------------------------------------------------------------------------------------
# Four-eyes


def four_eyes_reason(user: Any, item: Reviewable) -> str:
    """Return why four-eyes forbids `user` to approve `item`, or "" when it does not (no queries)."""
    if settings.REVIEW_ALLOW_SELF_APPROVAL or user is None:
        return ""
    if item.created_by_id is not None and item.created_by_id == user.pk:
        return "you created it"
    if item.content_editors and f",{user.pk}," in item.content_editors:
        return "you changed its content since it was last approved"
    return ""


def four_eyes_q(user: Any) -> Q:
    """The filter for items four-eyes forbids `user` to approve (matches nothing when switched off)."""
    if settings.REVIEW_ALLOW_SELF_APPROVAL:
        return Q(pk__in=[])
    return Q(created_by=user) | Q(content_editors__contains=f",{user.pk},")


# ---------------------------------------------------------------------------------------------
# Checks


def required_permission(model: type[Reviewable], kind: str) -> str | None:
    """The permission a move of `kind` needs; None for a return caused by a content edit.

    A return is the consequence of a write whose own permission the caller checked.
    """
    if kind == DecisionKind.RETURNED:
        return None
    if kind == DecisionKind.IMPORTED:
        return IMPORT_DECISIONS
    return model.REVIEW_PERMISSION


def may_move(user: Any, model: type[Reviewable], kind: str) -> bool:
    """Whether `user` holds the permission moves of `kind` on `model` items need."""
    permission = required_permission(model, kind)
    if permission is None:
        return user is not None
    return bool(user is not None and user.is_authenticated and user.is_active and user.has_perm(permission))


def _check_permission(user: Any, model: type[Reviewable], kind: str) -> None:
    if not may_move(user, model, kind):
        permission = required_permission(model, kind)
        label = DecisionKind(kind).label.lower()
        raise ReviewPermissionDenied(
            f"You may not make this move ({label}, {model._meta.verbose_name_plural}): it needs the "
            f"permission {permission}. Ask an administrator."
        )


def check_move(item: Reviewable, to: str, *, by: Any, kind: str, decision: Decision | None = None) -> None:
    """Raise the ReviewError that forbids moving `item` to `to` by `kind` as `by`; return if allowed.

    `decision` is the item's last Decision, used to name who decided it (looked up when needed).
    Raises IllegalTransition (AlreadyDecided when someone decided first), ReviewPermissionDenied,
    FourEyesViolation.
    """
    if kind not in KIND_VALUES:
        raise IllegalTransition(f"{kind!r} is not a kind of decision.")
    if not item.can_transition_to(to, kind):
        if not item.is_open and to != item.OPEN:
            if decision is None:
                decision = Decision.objects.for_item(item).select_related("actor").first()
            raise _already_decided(item, decision)
        state = item.get_status_display().lower()
        raise IllegalTransition(
            f"{describe(item).capitalize()} is {state}: it cannot be {DecisionKind(kind).label.lower()} "
            f"to {to.replace('_', ' ')}."
        )
    _check_permission(by, type(item), kind)
    if kind in APPROVING_KINDS and (why := four_eyes_reason(by, item)):
        raise FourEyesViolation(f"You cannot approve {describe(item)}: {why}. Ask another reviewer.")


def _reason(kind: str, reason: str | None) -> str:
    text = (reason or "").strip()
    if kind in KINDS_NEEDING_REASON and not has_visible_text(text):
        what = DecisionKind(kind).label.lower()
        raise ReasonRequired(f"Give a reason (“{what}”): it is recorded in the audit history.")
    return text if has_visible_text(text) else ""


def history_reason(kind: str, text: str, old_code: str = "", new_code: str = "") -> str:
    """The change reason of the item's history row for a move: "review: approved — looks right"."""
    verb = DecisionKind(kind).label.split(" (")[0].lower()
    if kind == DecisionKind.REFINE:
        verb = f"refined {old_code} → {new_code}"
    elif kind == DecisionKind.REPLACE:
        verb = f"replaced {old_code} → {new_code}"
    return f"review: {verb} — {text}" if text else f"review: {verb}"


# ---------------------------------------------------------------------------------------------
# Moves


def prepare_move(
    item: Reviewable,
    to: str,
    *,
    by: Any,
    kind: str,
    reason: str = "",
    at: datetime | None = None,
    decided_at: datetime | None = None,
    old_code: str = "",
    new_code: str = "",
) -> Decision:
    """Check a move and make it on `item` in memory; return its Decision row, unsaved.

    The caller saves both in one transaction (`move_to` does, and so does the card importer for
    many items at once). `decided_at` is the decision's own date when it differs from `at`
    (an imported approval keeps the date the card gives). Raises what `check_move` raises and
    ReasonRequired.
    """
    text = _reason(kind, reason)
    check_move(item, to, by=by, kind=kind)
    at = at or timezone.now()
    from_status = item.status
    item.status = to
    if to == item.OPEN:
        item.decided_by, item.decided_at = None, None
    else:
        item.decided_by, item.decided_at = by, decided_at or at
    if to == APPROVED:
        # An approval vouches for the content as it stands; a refiner wrote the new code, so
        # after a reopen someone else must approve it.
        item.content_editors = f",{by.pk}," if kind == DecisionKind.REFINE else ""
    return Decision(
        **{Decision.item_field(type(item)): item},
        decision=kind,
        actor=by,
        comment=text,
        from_status=from_status,
        to_status=to,
        old_code=old_code,
        new_code=new_code,
        created_at=at,
    )


def move_to(
    item: Reviewable,
    to: str,
    *,
    by: Any,
    kind: str,
    reason: str = "",
    at: datetime | None = None,
    also: Iterable[str] = (),
    old_code: str = "",
    new_code: str = "",
) -> Decision:
    """Move one locked item to `to`: check, stamp, save with its history row, write the Decision.

    `also` names other fields the caller changed on `item` as part of the move (a refine's
    code). Must run inside the caller's transaction, after `select_for_update()`. Raises
    IllegalTransition, AlreadyDecided, ReviewPermissionDenied, FourEyesViolation, ReasonRequired.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("move_to() needs the caller's transaction and row lock.")
    decision = prepare_move(
        item, to, by=by, kind=kind, reason=reason, at=at, old_code=old_code, new_code=new_code
    )
    with acting_as(by, history_reason(kind, decision.comment, old_code, new_code)):
        item.save(update_fields=[*item.REVIEW_STATE_FIELDS, *also])
    decision.save()
    _announce(type(item), [item], to, kind=kind, by=by, text=decision.comment)  # issue 12: log, notify
    return decision


def start(item: Reviewable, *, by: Any, at: datetime | None = None) -> None:
    """Give a new item its opening review state: open, created by `by`, who is its first editor."""
    item.status = item.OPEN
    item.decided_by, item.decided_at = None, None
    item.created_by = by
    if at is not None:
        item.created_at = at
    item.content_editors = f",{by.pk}," if by is not None else ""


def note_content_change(
    item: Reviewable, *, by: Any, reason: str, at: datetime | None = None
) -> Decision | None:
    """Record that `by` changed `item`'s content (unsaved) and send a decided item back to review.

    Returns the unsaved RETURNED Decision for a decided item, else None; the caller saves the
    item, then the decision. Raises ReasonRequired.
    """
    at = at or timezone.now()
    item.content_changed_by, item.content_changed_at = by, at
    if by is not None and by.pk not in item.content_editor_ids():
        item.content_editors = f"{item.content_editors or ','}{by.pk},"
    if item.is_open:
        return None
    return prepare_move(item, item.OPEN, by=by, kind=DecisionKind.RETURNED, reason=reason, at=at)


@dataclass
class Skipped:
    """An item a bulk move left as it was, and why."""

    item: Any
    reason: str


def move_many(
    model: type[Reviewable],
    items: Sequence[Reviewable],
    to: str,
    *,
    by: Any,
    kind: str,
    reason: str = "",
    at: datetime | None = None,
) -> tuple[list[Reviewable], list[Skipped]]:
    """Move many locked items of `model` the same way; return (moved, skipped with a reason each).

    Each item passes the same checks as `move_to`. The moved ones are written with one UPDATE,
    one history INSERT … SELECT and one Decision INSERT … SELECT, so a batch costs a constant
    number of queries (one more, for the names in the skip messages, when some item was already
    decided). Call inside a transaction after `select_for_update()`. Raises
    ReviewPermissionDenied and ReasonRequired for the whole batch.
    """
    _check_permission(by, model, kind)
    text = _reason(kind, reason)
    at = at or timezone.now()
    movable, refused = [], []
    for item in items:
        if item.can_transition_to(to, kind):
            movable.append(item)
        else:
            refused.append(item)
    skipped: list[Skipped] = []
    if refused:
        latest = last_decisions(refused)
        for item in refused:
            try:
                check_move(item, to, by=by, kind=kind, decision=latest.get(item.pk))
            except ReviewError as exc:
                skipped.append(Skipped(item, _skip_text(exc, item)))
    moved = movable
    if kind in APPROVING_KINDS:
        # The table and the permission hold for all of them (checked above): four-eyes is per item.
        moved = []
        for item in movable:
            if why := four_eyes_reason(by, item):
                skipped.append(Skipped(item, f"four-eyes: {why}"))
            else:
                moved.append(item)
    if not moved:
        return moved, skipped
    from_statuses = {item.status for item in moved}
    opening = to == model.OPEN
    values: dict[str, Any] = {
        "status": to,
        "decided_by_id": None if opening else by.pk,
        "decided_at": None if opening else at,
        "version": F("version") + 1,
    }
    if to == APPROVED:
        values["content_editors"] = ""
    pks = [item.pk for item in moved]
    # Every row gets the same values: one UPDATE and one INSERT … SELECT of history rows.
    update_with_history(model, pks, user=by, reason=history_reason(kind, text), date=at, **values)
    # The UPDATE sends no signals: mark the roles' counts (and, for mappings, flags) stale here.
    derived.enqueue(roles={item.role_id for item in moved})
    for from_status in sorted(from_statuses):
        group = [item.pk for item in moved if item.status == from_status]
        _insert_decisions(model, group, kind=kind, actor=by, comment=text, from_status=from_status, to_status=to,
                          at=at)
    for item in moved:
        item.status = to
        item.decided_by_id, item.decided_at = values["decided_by_id"], values["decided_at"]
        if "content_editors" in values:
            item.content_editors = values["content_editors"]
    _announce(model, moved, to, kind=kind, by=by, text=text)  # issue 12: log, notify
    return moved, skipped


def _announce(model: type[Reviewable], items: list[Reviewable], to: str, *, kind: str, by: Any, text: str) -> None:
    """Log one line naming the decided items once the transaction commits, and send `decided` now (issue 12)."""
    what = describe(items[0]) if len(items) == 1 else f"{len(items)} {model._meta.verbose_name_plural}"
    transaction.on_commit(partial(
        logger.info, "%s %s → %s by %s", kind, what, to, by.get_username(),
        extra={"decision": kind, "item_type": Decision.item_field(model), "item_ids": [i.pk for i in items],
               "to_status": to, "actor_id": by.pk, "reason": text},
    ))
    decided.send(sender=model, items=items, kind=kind, actor=by, reason=text)


def _skip_text(exc: ReviewError, item: Reviewable) -> str:
    if isinstance(exc, AlreadyDecided):
        return "already " + str(exc).split(" was already ", 1)[-1].split(". Reload", 1)[0]
    if isinstance(exc, FourEyesViolation):
        return "four-eyes: " + str(exc).split(": ", 1)[-1].removesuffix(". Ask another reviewer.")
    return str(exc)


def _insert_decisions(
    model: type[Reviewable], pks: list[int], *, kind: str, actor: Any, comment: str, from_status: str,
    to_status: str, at: datetime,
) -> None:
    """Write one Decision per item in `pks` with a single INSERT … SELECT (same values for all)."""
    connection = connections[router.db_for_write(Decision)]
    quote = connection.ops.quote_name
    item_column = f"{Decision.item_field(model)}_id"
    columns = [item_column, "decision", "actor_id", "comment", "from_status", "to_status", "old_code",
               "new_code", "created_at"]
    created_at = Decision._meta.get_field("created_at").get_db_prep_save(at, connection)
    pk_column = quote(model._meta.pk.column)
    sql = (
        f"INSERT INTO {quote(Decision._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT {pk_column}, %s, %s, %s, %s, %s, %s, %s, %s FROM {quote(model._meta.db_table)} "
        f"WHERE {pk_column} IN ({', '.join(['%s'] * len(pks))}) ORDER BY {pk_column}"
    )
    params = [kind, actor.pk, comment, from_status, to_status, "", "", created_at, *pks]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
