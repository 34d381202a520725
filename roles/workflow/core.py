"""The review core: the one place that writes review state.

Review state is an item's `status`, its `decided_by`/`decided_at` stamps, its authors
(`content_editors`) and the Decision row that logs each move. Every writer comes here: the
desk and the admin (`decide`, `decide_many`, `undo_many`), curators' edits (`save_content`),
and the batch writers, card imports, fixture loads, the demo generator and the SOC coder's
suggestions, which plan their rows in memory (`start`, `claim`, `prepare_move`,
`note_content_change`) and write them with `persist`.

Each entry point, in one transaction: checks the actor's permission once, locks the rows,
checks the version shown, the transition table, four-eyes and the reason once each, writes the
items with one history row per move and one Decision per move, records who authored the
content, and marks the derived rows stale. Nothing else in the project assigns a review field
or saves a Decision (tests/roles/test_review_core.py scans the code for it).

A reviewer's decision may be drawn for a double-blind sample (`samples`): it is then recorded as
a blind review and the item stays open; the decision that settles a sample (an agreeing second
review, a lead's settlement) is made here like any other, with the sample recorded on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from framework.audit import acting_as, require_reason, save_with_reason, update_with_history
from taxonomy.models import OccupationCode

from .. import derived
from ..models import (
    CODE_CHANGING_KINDS,
    ClassificationMapping,
    Decision,
    DecisionKind,
    Reviewable,
    SampleState,
    TitleAlias,
)
from . import leases, samples
from .rules import (
    APPROVED,
    FourEyesViolation,
    IllegalTransition,
    InvalidCode,
    ItemGone,
    ReplaceNotConfirmed,
    ReviewError,
    add_author,
    already_decided,
    approval_problem,
    check_move,
    check_permission,
    clean_reason,
    describe,
    detailed_target,
    four_eyes_reason,
    history_reason,
    is_approval,
    is_under,
    require_version,
    skip_text,
    target_status,
)

# Sent after every move inside the decision's transaction (notifications listen), with
# sender=the model, items=the moved items, kind, actor and reason.
decided = Signal()
logger = logging.getLogger("rolebook.review")

# Items decided per batch by `decide_many`: each batch costs a constant number of queries.
BULK_BATCH_SIZE = 500
# The fields a refine or replace writes besides the review state.
CODE_FIELDS = ["previous_code", "code", "occupation", "title", "source", "content_changed_by", "content_changed_at"]
UNDOABLE = frozenset({DecisionKind.APPROVE, DecisionKind.REJECT, DecisionKind.REFINE, DecisionKind.REPLACE})


@dataclass
class Skipped:
    """An item a bulk move left as it was, and why."""

    item: Any
    reason: str


@dataclass
class BulkResult:
    """What a bulk decision decided and what it skipped (with a reason per skip)."""

    decided: list[Any] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # Drawn for a second, blind review: recorded as the first review, still open.
    drawn: list[Any] = field(default_factory=list)

    @property
    def decided_count(self) -> int:
        return len(self.decided)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    def summary(self, verb: str) -> str:
        text = f"{verb.capitalize()} {self.decided_count} item{'s' if self.decided_count != 1 else ''}"
        if self.drawn:
            text += f"; {len(self.drawn)} drawn for a second, blind review (they stay open until it agrees)"
        if self.skipped:
            text += f"; skipped {self.skipped_count}"
        return text + "."


# ---------------------------------------------------------------------------------------------
# In memory: the one function that assigns review state


def _move(
    item: Reviewable, to: str, *, actor: Any, kind: str, text: str, at: datetime,
    decided_at: datetime | None = None, old_code: str = "", new_code: str = "", wrote_content: bool = False,
) -> Decision:
    """Set `item`'s review state for a checked move and return its Decision, both unsaved."""
    from_status = item.status
    item.status = to
    if to == item.OPEN:
        item.decided_by, item.decided_at = None, None
    else:
        item.decided_by, item.decided_at = actor, decided_at or at
    if wrote_content:
        add_author(item, actor)
    return Decision(
        **{Decision.item_field(type(item)): item},
        decision=kind, actor=actor, comment=text, from_status=from_status, to_status=to,
        old_code=old_code, new_code=new_code, created_at=at,
    )


def start(item: Reviewable, *, actor: Any, at: datetime | None = None) -> None:
    """Give a new item (unsaved) its opening review state: open, created by `actor`, its first author."""
    item.status = item.OPEN
    item.decided_by, item.decided_at = None, None
    item.created_by = actor
    if at is not None:
        item.created_at = at
    item.content_editors = ""
    add_author(item, actor)


def prepare_move(
    item: Reviewable, to: str, *, actor: Any, kind: str, reason: str = "", at: datetime | None = None,
    decided_at: datetime | None = None,
) -> Decision:
    """Check a move of `item` (in memory) and make it; return its Decision, unsaved, for `persist`.

    `decided_at` is the decision's own date when it differs from `at` (an imported approval
    keeps the date the card gives). The permission is checked by `persist`, once per batch.
    Raises IllegalTransition, AlreadyDecided, FourEyesViolation, ReasonRequired.
    """
    text = clean_reason(kind, reason)
    check_move(item, to, actor=actor, kind=kind)
    return _move(item, to, actor=actor, kind=kind, text=text, at=at or timezone.now(), decided_at=decided_at)


def claim(
    item: Reviewable, to: str, *, actor: Any, reason: str, decided_at: datetime | None = None,
) -> Decision:
    """Turn a file's claimed review state (a card's Approved date, a fixture's status) into the importer's
    "imported" decision, in memory. The importer decides: four-eyes applies to an imported
    approval as to any other, so content the importer wrote is never approved by the import.
    Raises what `prepare_move` raises.
    """
    return prepare_move(item, to, actor=actor, kind=DecisionKind.IMPORTED, reason=reason, decided_at=decided_at)


def note_content_change(
    item: Reviewable, *, actor: Any, reason: str, at: datetime | None = None
) -> Decision | None:
    """Record that `actor` changed `item`'s content (unsaved) and send a decided item back to review.

    `actor` becomes one of the item's authors. Returns the unsaved RETURNED Decision for a
    decided item, else None; `persist` (or `save_content`) writes both. Raises ReasonRequired.
    """
    if getattr(item, "deprecated", False):
        # Frozen as published, open or decided: a deprecated item's content is what its releases said.
        raise IllegalTransition(
            f"{describe(item).capitalize()} is deprecated: it stays as it was published. Reinstate it through "
            "review first (Reinstate… on its page), or propose a new item."
        )
    at = at or timezone.now()
    item.content_changed_by, item.content_changed_at = actor, at
    add_author(item, actor)
    if item.is_open:
        return None
    return prepare_move(item, item.OPEN, actor=actor, kind=DecisionKind.RETURNED, reason=reason, at=at)


# ---------------------------------------------------------------------------------------------
# After every write


def _mark_stale(items: Iterable[Reviewable], *, content: bool) -> None:
    """Mark the derived rows the written items feed stale: their roles (counts and flags), and when
    their `content` was written, for aliases their texts (the flags of aliases spelled alike)."""
    roles: set[int] = set()
    texts: set[str] = set()
    for item in items:
        roles.add(item.role_id)
        loaded = getattr(item, "_loaded_values", None) or {}
        if loaded.get("role_id") is not None:
            roles.add(loaded["role_id"])
        if content and isinstance(item, TitleAlias):
            texts.update(t for t in (item.alias, loaded.get("alias")) if t)
    derived.enqueue(roles=roles, texts=texts)


def _announce(model: type[Reviewable], items: list[Reviewable], to: str, *, kind: str, actor: Any, text: str) -> None:
    """Log one line naming the decided items once the transaction commits, and send `decided` now."""
    what = describe(items[0]) if len(items) == 1 else f"{len(items)} {model._meta.verbose_name_plural}"
    transaction.on_commit(partial(
        logger.info, "%s %s → %s by %s", kind, what, to, actor.get_username(),
        extra={"decision": kind, "item_type": Decision.item_field(model), "item_ids": [i.pk for i in items],
               "to_status": to, "actor_id": actor.pk, "reason": text},
    ))
    decided.send(sender=model, items=items, kind=kind, actor=actor, reason=text)


def _copy_back(target: models.Model, source: models.Model, fields: Iterable[str]) -> None:
    """Update the caller's instance so it matches what was saved (and knows it was saved)."""
    if target is source:
        return
    for name in fields:
        setattr(target, name, getattr(source, name))
    target._loaded_values = dict(source._loaded_values)


def _lock(model: type[Reviewable], pk: int | None) -> Reviewable:
    """Re-read an item with a row lock (until the transaction ends); a mapping with its occupation."""
    try:
        # With its lease, if any (read, never locked): who else holds the item; and its role (read,
        # never locked), which the notifications name.
        locked = (
            model.objects.select_related("lease__holder", "role").select_for_update(of=("self",))
            .annotate(in_sample=samples.in_open_sample(model)).get(pk=pk)
        )
    except model.DoesNotExist:
        raise ItemGone(f"This {model._meta.verbose_name} no longer exists: reload the queue.") from None
    if isinstance(locked, ClassificationMapping) and locked.occupation_id is not None:
        # Reference data, never locked: read with its parents for the checks.
        locked.occupation = OccupationCode.objects.ancestors(locked.occupation_id)[0]
    return locked


# ---------------------------------------------------------------------------------------------
# One item


def decide(
    item: Reviewable,
    *,
    kind: str,
    actor: Any,
    reason: str = "",
    expected_version: int | None = None,
    code: str = "",
    confirm_group_level: bool = False,
    use_official_title: bool = False,
    confirm_wrong_group: bool = False,
) -> Reviewable:
    """Make a reviewer's decision of `kind` (approve, reject, reopen, refine, replace) on one item.

    `expected_version` is the version the reviewer was shown. For mappings: `code` is the new
    detailed code of a refine (under the current code) or a replace (outside it, with
    `confirm_wrong_group` and a reason); a group-level code is approved only with
    `confirm_group_level`; `use_official_title` takes the reference title as it approves. A
    refiner or replacer becomes an author of the code they chose. Returns the locked, saved item
    (and updates `item`), whose `review_outcome` says what happened: "decided", or in a
    double-blind sample "drawn" (a first blind review, the item stays open), "disputed" (a second
    review that differs; a lead settles it), "agreed" or "adjudicated" (the sample is settled).
    Raises ReviewPermissionDenied, ReasonRequired, ReplaceNotConfirmed, ItemGone, ItemChanged,
    IllegalTransition, AlreadyDecided, FourEyesViolation, InvalidCode, GroupLevelNotConfirmed,
    AlreadyReviewed, NotIndependent, AwaitingLead.
    """
    model = type(item)
    check_permission(actor, model, kind)
    to = target_status(model, kind)
    text = clean_reason(kind, reason)
    if kind == DecisionKind.REPLACE and not confirm_wrong_group:
        raise ReplaceNotConfirmed(
            "Tick “the current code is wrong” to replace it with a code outside it: a replacement says the "
            "inferred group was a mistake."
        )
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(model, item.pk)
        require_version(locked, expected_version)
        lead = leases.is_lead(actor)
        sample = samples.open_sample(locked, actor=actor, at=now) if kind in samples.SAMPLED_KINDS else None
        if sample is not None:
            samples.check_turn(sample, locked, actor=actor, is_lead=lead)
            if sample.state == SampleState.DISPUTED:
                text = samples.adjudication_reason(text)
        check_move(locked, to, actor=actor, kind=kind)
        leases.check_lease(locked, actor=actor, at=now)
        target = None
        if kind in CODE_CHANGING_KINDS:
            target = _code_target(locked, kind=kind, code=code)
        elif kind == DecisionKind.APPROVE:
            if problem := approval_problem(locked, confirm_group_level=confirm_group_level):
                raise problem
        new_code = samples.resulting_code(locked, kind, target.code if target else "")
        if sample is None and samples.draws(locked, actor=actor, kind=kind):
            # Drawn: this decision is the first of two blind reviews, and the item stays open.
            samples.draw([locked], kind=kind, actor=actor, text=text, codes={locked.pk: new_code}, at=now)
            return _blind(item, locked, "drawn")
        if sample is not None and sample.state == SampleState.AWAITING:
            first = samples.first_review(sample)
            if samples.verdict_label(first) != samples.label(locked, kind, new_code):
                samples.dispute(locked, sample, kind=kind, actor=actor, text=text, new_code=new_code, at=now)
                return _blind(item, locked, "disputed")
        also: list[str] = []
        old_code = ""
        if target is not None:
            old_code = _apply_code(locked, target, actor=actor, at=now)
            also = CODE_FIELDS
        elif kind == DecisionKind.APPROVE and isinstance(locked, ClassificationMapping):
            if use_official_title and locked.title != locked.occupation.title:
                locked.title = locked.occupation.title
                also = ["title"]
            if locked.occupation.is_group_level:
                text = f"{text} (approved as group-level)".strip()
        decision = _move(locked, to, actor=actor, kind=kind, text=text, at=now, old_code=old_code,
                         new_code=new_code if (sample is not None or target is not None) else "",
                         wrote_content=bool(also))
        if sample is not None:
            decision.sample, decision.verdict = sample, kind
        with acting_as(actor, history_reason(kind, text, old_code, new_code)):
            locked.save(update_fields=[*model.REVIEW_STATE_FIELDS, *also])
        decision.save()
        if sample is not None:
            outcome = "agreed" if sample.state == SampleState.AWAITING else "adjudicated"
            samples.settle(sample, locked, actor=actor, at=now, reason=text)
        leases.end([locked])
        _mark_stale([locked], content=bool(also))
        _announce(model, [locked], to, kind=kind, actor=actor, text=text)
    _copy_back(item, locked, [*model.REVIEW_STATE_FIELDS, "decided_by_id", "version", *also])
    locked.review_outcome = outcome if sample is not None else "decided"
    return locked


def _blind(item: Reviewable, locked: Reviewable, outcome: str) -> Reviewable:
    """A blind review moved nothing: the lease ends (the item goes back to the pool) and the caller is told."""
    leases.end([locked])
    locked.review_outcome = outcome
    item.review_outcome = outcome
    return locked


def _code_target(locked: ClassificationMapping, *, kind: str, code: str) -> OccupationCode:
    """The official detailed `code` a refine (under the current code) or replace (outside it) leads to."""
    occupation, chain = detailed_target(code)
    under = is_under(locked, chain)
    if kind == DecisionKind.REFINE and not under:
        raise InvalidCode(
            f"{occupation.code} {occupation.title} is not under {locked.code}: refine to a more specific code "
            f"within {locked.code}, or replace the code if the group itself is wrong (that needs a reason)."
        )
    if kind == DecisionKind.REPLACE and under:
        raise InvalidCode(
            f"{occupation.code} is under {locked.code}: refine the mapping to it instead of replacing it."
        )
    duplicate = (
        ClassificationMapping.objects.filter(role_id=locked.role_id, scheme=locked.scheme, code=occupation.code)
        .exclude(pk=locked.pk)
        .exists()
    )
    if duplicate:
        raise InvalidCode(
            f"This role already has a mapping to {occupation.code}: review that one and reject this mapping."
        )
    return occupation


def _apply_code(locked: ClassificationMapping, occupation: OccupationCode, *, actor: Any, at: datetime) -> str:
    """Give `locked` the checked code of a refine or replace; return the code it had."""
    old_code = locked.code
    locked.previous_code, locked.code, locked.occupation = old_code, occupation.code, occupation
    locked.title = occupation.title
    locked.source = ClassificationMapping.Source.MANUAL
    locked.content_changed_by, locked.content_changed_at = actor, at
    return old_code


# ---------------------------------------------------------------------------------------------
# Many items at once


def _pks(items: Iterable[Reviewable | int] | models.QuerySet) -> list[int]:
    if isinstance(items, models.QuerySet):
        return sorted(set(items.values_list("pk", flat=True)))
    return sorted({i if isinstance(i, int) else i.pk for i in items})


def decide_many(
    model: type[Reviewable],
    items: Iterable[Reviewable | int] | models.QuerySet,
    *,
    kind: str,
    actor: Any,
    reason: str = "",
    versions: dict[int, int] | None = None,
) -> BulkResult:
    """Approve, reject or reopen many items of `model` the same way; skip the rest with a reason each.

    With `versions` ({pk: version} as shown to the reviewer), an item that moved on since, or
    was not shown, is skipped as changed. Items already decided, that four-eyes forbids the
    actor to approve, or (mappings) whose code cannot be approved as it stands are skipped too.
    Per batch of BULK_BATCH_SIZE: one locking SELECT, one UPDATE, one history INSERT … SELECT and
    one Decision INSERT … SELECT per status moved from. Raises ReviewPermissionDenied and
    ReasonRequired for the whole batch, IllegalTransition for a kind that needs one item at a time.
    """
    check_permission(actor, model, kind)
    if kind in CODE_CHANGING_KINDS:
        raise IllegalTransition("Refining or replacing a code is decided one mapping at a time.")
    to = target_status(model, kind)
    text = clean_reason(kind, reason)
    result = BulkResult()
    pks = _pks(items)
    with transaction.atomic():
        for begin in range(0, len(pks), BULK_BATCH_SIZE):
            batch = _lock_batch(model, pks[begin : begin + BULK_BATCH_SIZE])
            if versions is not None:
                current = []
                for item in batch:
                    if versions.get(item.pk) != item.version:
                        result.skipped.append(Skipped(item, "changed since you saw it: review it again"))
                    else:
                        current.append(item)
                batch = current
            moved, skipped = _move_many(model, batch, to, actor=actor, kind=kind, text=text, drawn=result.drawn)
            result.decided.extend(moved)
            result.skipped.extend(skipped)
    return result


def _lock_batch(model: type[Reviewable], pks: list[int]) -> list[Reviewable]:
    # Only the items are locked; their leases, and a mapping's occupation (reference data), are read with them.
    queryset = model.objects.filter(pk__in=pks).select_related("lease__holder").select_for_update(of=("self",))
    # Whether each is in an open double-blind sample: read with them, so a batch with none costs no query.
    queryset = queryset.annotate(in_sample=samples.in_open_sample(model))
    if model is ClassificationMapping:
        queryset = queryset.select_related("occupation")
    return list(queryset.order_by("pk"))


def _move_many(
    model: type[Reviewable], items: Sequence[Reviewable], to: str, *, actor: Any, kind: str, text: str,
    at: datetime | None = None, drawn: list | None = None,
) -> tuple[list[Reviewable], list[Skipped]]:
    """Check and write one move for many locked items; return (moved, skipped).

    A reviewer's verdict (approve, reject) may draw items for a second, blind review: those are
    appended to `drawn` instead of moving. Items in a sample are decided one at a time.
    """
    at = at or timezone.now()
    moved: list[Reviewable] = []
    skipped: list[Skipped] = []
    refused = [item for item in items if not item.can_transition_to(to, kind)]
    latest = last_decisions(refused) if refused else {}
    # Items another reviewer holds are theirs to decide (a lead's decision takes them over).
    held = {} if leases.is_lead(actor) else leases.held(list(items), actor=actor, at=at)
    sampled = samples.open_samples(model, list(items), actor=actor, at=at) if kind in samples.SAMPLED_KINDS else {}
    for item in items:
        try:
            if item.pk in held:
                raise leases.HeldByAnother(leases.held_text(held[item.pk], at))
            if item.pk in sampled:
                raise samples.AlreadyReviewed("in a double-blind sample: decide it on its own")
            check_move(item, to, actor=actor, kind=kind, decision=latest.get(item.pk))
            if is_approval(kind, to) and (problem := approval_problem(item)):
                raise problem
        except ReviewError as exc:
            skipped.append(Skipped(item, skip_text(exc)))
            continue
        moved.append(item)
    if drawn is not None and kind in samples.SAMPLED_KINDS:
        chosen = [item for item in moved if samples.draws(item, actor=actor, kind=kind)]
        if chosen:
            codes = {item.pk: samples.resulting_code(item, kind, "") for item in chosen}
            samples.draw(chosen, kind=kind, actor=actor, text=text, codes=codes, at=at)
            leases.end(chosen)
            drawn.extend(chosen)
            moved = [item for item in moved if item not in chosen]
    if not moved:
        return moved, skipped
    opening = to == model.OPEN
    values: dict[str, Any] = {
        "status": to,
        "decided_by_id": None if opening else actor.pk,
        "decided_at": None if opening else at,
        "version": F("version") + 1,
    }
    # Every row gets the same values: one UPDATE and one INSERT … SELECT of history rows.
    update_with_history(model, [item.pk for item in moved], user=actor, reason=history_reason(kind, text),
                        date=at, **values)
    for from_status in sorted({item.status for item in moved}):
        group = [item.pk for item in moved if item.status == from_status]
        _insert_decisions(model, group, kind=kind, actor=actor, comment=text, from_status=from_status,
                          to_status=to, at=at)
    for item in moved:
        item.status = to
        item.decided_by_id, item.decided_at = values["decided_by_id"], values["decided_at"]
        item.version += 1
    leases.end(moved)
    _mark_stale(moved, content=False)
    _announce(model, moved, to, kind=kind, actor=actor, text=text)
    return moved, skipped


def _insert_decisions(
    model: type[Reviewable], pks: list[int], *, kind: str, actor: Any, comment: str, from_status: str,
    to_status: str, at: datetime,
) -> None:
    """Write one Decision per item in `pks` with a single INSERT … SELECT (same values for all)."""
    connection = connections[router.db_for_write(Decision)]
    quote = connection.ops.quote_name
    item_column = f"{Decision.item_field(model)}_id"
    columns = [item_column, "decision", "actor_id", "comment", "from_status", "to_status", "old_code",
               "new_code", "created_at", "verdict"]
    created_at = Decision._meta.get_field("created_at").get_db_prep_save(at, connection)
    pk_column = quote(model._meta.pk.column)
    sql = (
        f"INSERT INTO {quote(Decision._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT {pk_column}, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM {quote(model._meta.db_table)} "
        f"WHERE {pk_column} IN ({', '.join(['%s'] * len(pks))}) ORDER BY {pk_column}"
    )
    params = [kind, actor.pk, comment, from_status, to_status, "", "", created_at, "", *pks]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def last_decisions(items: Sequence[Reviewable]) -> dict[int, Decision]:
    """Return the newest Decision of each item (same model), keyed by item pk, in one query."""
    if not items:
        return {}
    item_field = Decision.item_field(type(items[0]))
    latest: dict[int, Decision] = {}
    rows = (
        Decision.objects.filter(**{f"{item_field}__in": [i.pk for i in items]})
        .select_related("actor")
        .order_by(f"{item_field}_id", "-created_at", "-pk")
    )
    for decision in rows:
        latest.setdefault(getattr(decision, f"{item_field}_id"), decision)
    return latest


def undo_many(model: type[Reviewable], pks: Iterable[int], *, actor: Any, window_seconds: int) -> BulkResult:
    """Reopen the items of `pks` that `actor` decided in the last `window_seconds`, with the reason "undo".

    An item someone decided or changed since, or that the actor decided longer ago, is skipped
    with the reason (reopening it then needs a reason of its own). A refined or replaced mapping
    goes back to review with its new code, and its refiner stays one of its authors. Raises
    ReviewPermissionDenied.
    """
    check_permission(actor, model, DecisionKind.REOPEN)
    result = BulkResult()
    since = timezone.now() - timedelta(seconds=window_seconds)
    with transaction.atomic():
        items = _lock_batch(model, sorted(set(pks)))
        latest = last_decisions(items)
        undoable = []
        for item in items:
            decision = latest.get(item.pk)
            if decision is None or decision.actor_id != actor.pk or decision.decision not in UNDOABLE:
                result.skipped.append(Skipped(item, "its last decision is not yours to undo"))
            elif decision.created_at < since or decision.to_status != item.status:
                why = "it changed since, or it is too late to undo: reopen it with a reason"
                result.skipped.append(Skipped(item, why))
            else:
                undoable.append(item)
        moved, skipped = _move_many(model, undoable, model.OPEN, actor=actor, kind=DecisionKind.REOPEN, text="undo")
        result.decided.extend(moved)
        result.skipped.extend(skipped)
    return result


# ---------------------------------------------------------------------------------------------
# Curators' edits


def save_content(item: Reviewable, *, actor: Any, reason: str, expected_version: int | None = None) -> bool:
    """Create or update an alias's or mapping's content as `actor`; return whether anything was written.

    A new item starts open with `actor` as its creator. A content change makes `actor` an author
    and sends a decided item back to review with a "returned" Decision. The row is locked and
    its version checked first, so a decision made since the editor loaded the item is never
    overwritten. Raises MissingReason, StaleEdit, IllegalTransition (a review field set by hand),
    ReasonRequired.
    """
    reason = require_reason(reason)
    with transaction.atomic():
        if item.pk is None:
            start(item, actor=actor)
            with acting_as(actor, reason):
                item.save()
            _mark_stale([item], content=True)
            return True
        changed = item.changed_fields()
        if not changed:
            return False
        if fields := set(item.REVIEW_STATE_FIELDS) & set(changed):
            raise IllegalTransition(
                f"{', '.join(sorted(fields))} change only through review (approve, reject, reopen)."
            )
        returned = None
        if item.changed_content():
            returned = note_content_change(item, actor=actor, reason=reason, at=timezone.now())
        # Locks the row and checks its version before writing: a concurrent decision wins cleanly.
        save_with_reason(item, actor=actor, reason=reason, expected_version=expected_version)
        if returned is not None:
            returned.save()
            _announce(type(item), [item], item.OPEN, kind=DecisionKind.RETURNED, actor=actor, text=returned.comment)
        _mark_stale([item], content=True)
    return True


# ---------------------------------------------------------------------------------------------
# Batch writers: card imports, fixture loads, the demo generator, suggestions


def persist(
    *,
    actor: Any,
    reason: str,
    creates: dict[type, list] | None = None,
    updates: dict[type, tuple[list, Iterable[str]]] | None = None,
    decisions: Sequence[Decision] = (),
    date: datetime | None = None,
    batch_size: int = 1000,
    mark_texts: bool = True,
) -> None:
    """Write a planned batch: new and changed rows with their history, then their Decisions.

    `creates` and `updates` ({model: rows} and {model: (rows, fields)}) are written in the order
    given, as `actor` with `reason`, one history row each. Reviewable rows must have come through
    `start`, `claim`, `prepare_move` or `note_content_change`: before writing, the batch is
    checked as a whole (permission once per actor and kind, four-eyes per approval, one Decision
    per changed review state), so a batch writer cannot write a state the core did not decide.
    Marks the derived rows of every written item's role stale, and (unless `mark_texts` is off,
    for a writer that marks every role itself) the flags of aliases spelled like the written ones.
    Call inside a transaction. Raises
    ReviewPermissionDenied, FourEyesViolation, IllegalTransition (an inconsistent batch).
    """
    creates, updates = creates or {}, updates or {}
    _check_batch(creates, updates, decisions)
    written: list[Reviewable] = []
    with acting_as(actor, reason):
        for model, objs in creates.items():
            if objs:
                bulk_create_with_history(objs, model, batch_size=batch_size, default_user=actor,
                                         default_change_reason=reason, default_date=date)
                if issubclass(model, Reviewable):
                    written.extend(objs)
        for model, (objs, fields) in updates.items():
            if objs:
                bulk_update_with_history(objs, model, sorted(set(fields)), batch_size=batch_size,
                                         default_user=actor, default_change_reason=reason, default_date=date)
                if issubclass(model, Reviewable):
                    written.extend(objs)
    if decisions:
        # The decided items exist now, so each Decision's foreign key is filled in.
        items = [_item_of(decision) for decision in decisions]
        for decision, item in zip(decisions, items, strict=True):
            setattr(decision, f"{Decision.item_field(type(item))}_id", item.pk)
        Decision.objects.bulk_create(list(decisions), batch_size=batch_size)
        # A decided item is nobody's to review any more: its lease ends, as with a reviewer's decision.
        # Only rows that existed before (the updates) can be held.
        existing = {id(obj) for objs, _fields in updates.values() for obj in objs}
        held = [item for item in items if id(item) in existing and not item.is_open]
        for model in {type(item) for item in held}:
            leases.end([item for item in held if type(item) is model])
    _mark_stale(written, content=mark_texts)


def _item_of(decision: Decision) -> Reviewable:
    """The item a Decision is about, also when the item was not saved yet (its id still empty)."""
    cache = decision._state.fields_cache
    return cache.get("alias") or cache.get("mapping") or decision.item


def _check_batch(creates: dict[type, list], updates: dict[type, tuple[list, Iterable[str]]],
                 decisions: Sequence[Decision]) -> None:
    """Refuse a batch whose review states the core did not decide, or that breaks permission or four-eyes."""
    by_item = {id(_item_of(d)): d for d in decisions}
    allowed: dict[tuple[int, type, str], None] = {}
    for decision in decisions:
        item = _item_of(decision)
        actor = decision.actor if decision.actor_id is not None else None
        key = (decision.actor_id, type(item), decision.decision)
        if key not in allowed:
            check_permission(actor, type(item), decision.decision)
            allowed[key] = None
        if is_approval(decision.decision, decision.to_status) and (why := four_eyes_reason(actor, item)):
            raise FourEyesViolation(f"You cannot approve {describe(item)}: {why}. Ask another reviewer.")
    rows = [(obj, True) for model, objs in creates.items() if issubclass(model, Reviewable) for obj in objs]
    rows += [(obj, False) for model, (objs, _f) in updates.items() if issubclass(model, Reviewable) for obj in objs]
    written = {id(obj) for obj, _new in rows}
    for decision in decisions:
        if id(_item_of(decision)) not in written:
            raise IllegalTransition(f"A decision on {describe(_item_of(decision))} comes without the item's row.")
    for obj, new in rows:
        was = obj.OPEN if new else (obj._loaded_values or {}).get("status")
        decision = by_item.get(id(obj))
        if obj.status != was and (decision is None or decision.to_status != obj.status):
            raise IllegalTransition(f"{describe(obj).capitalize()} would be {obj.status} without a decision.")


__all__ = [
    "APPROVED", "BULK_BATCH_SIZE", "BulkResult", "Skipped", "already_decided", "claim", "decide", "decide_many",
    "decided", "last_decisions", "note_content_change", "persist", "prepare_move", "save_content", "start",
    "undo_many",
]
