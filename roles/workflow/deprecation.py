"""Deprecations through review: a published role, alias or mapping is deprecated, never deleted.

A curator proposes a deprecation of one item, with a reason and optionally its replacement (a
role for a role, an alias for an alias). A reviewer who wrote no part of the proposal approves
or rejects it. Approving writes, in one transaction: the proposal's review state and its
Decision row, and the item's `deprecated` flag and replacement with a history row naming the
approver and the reason. Nothing else sets those fields (tests/roles/test_review_core.py scans
for it), so an item is deprecated exactly when its last approved proposal deprecated it.

A mistaken deprecation is undone the same way: a curator proposes to reinstate the item, and a
second person approves. Only a plain deprecation is reinstated (a merge or split moved the
role's items: the role they went to is split or merged back instead), and an alias or mapping
only while its role is live. The releases then carry the item as live again, and the next
release's delta says so.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from framework.audit import acting_as, has_visible_text

from .. import derived
from ..models import ClassificationMapping, DecisionKind, Deprecation, Role, TitleAlias
from . import restructure
from .core import _move, start
from .rules import (
    ItemGone,
    ReasonRequired,
    ReviewError,
    ReviewPermissionDenied,
    check_move,
    check_permission,
    clean_reason,
    history_reason,
    require_version,
    target_status,
)

PROPOSE_PERMISSION = "roles.add_deprecation"
DECISION_KINDS = (DecisionKind.APPROVE, DecisionKind.REJECT)


class DeprecationRefused(ReviewError):
    """The proposal or its approval would leave the taxonomy inconsistent; the message says why."""


def _target_field(item: Any) -> str:
    if isinstance(item, Role):
        return "role"
    if isinstance(item, TitleAlias):
        return "alias"
    if isinstance(item, ClassificationMapping):
        return "mapping"
    raise DeprecationRefused(f"{type(item).__name__} items are not deprecated: only roles, aliases and mappings.")


def _label(item: Any) -> str:
    field = _target_field(item)
    if field == "role":
        return f"role {item.code}"
    if field == "alias":
        return f"alias “{item.alias}”"
    return f"mapping {item.code}"


def check_replacement(item: Any, replaced_by: Any) -> None:
    """Raise DeprecationRefused unless `replaced_by` may replace `item` (same kind, another live item)."""
    if replaced_by is None:
        return
    if isinstance(item, ClassificationMapping):
        raise DeprecationRefused("A mapping has no replacement: propose the new mapping on the role instead.")
    if type(replaced_by) is not type(item):
        raise DeprecationRefused(f"A {_target_field(item)} is replaced by a {_target_field(item)}, not by "
                                 f"{_label(replaced_by)}.")
    if replaced_by.pk == item.pk:
        raise DeprecationRefused(f"The {_label(item)} cannot replace itself.")
    if replaced_by.deprecated:
        raise DeprecationRefused(f"The {_label(replaced_by)} is deprecated itself: name what replaces it.")
    if isinstance(replaced_by, TitleAlias) and replaced_by.status != TitleAlias.Status.APPROVED:
        raise DeprecationRefused(f"The {_label(replaced_by)} is not approved: only a published alias replaces one.")


def propose(item: Any, *, actor: Any, reason: str, replaced_by: Any = None) -> Deprecation:
    """Propose deprecating `item` (a saved role, alias or mapping) as `actor`; return the open proposal.

    Raises ReviewPermissionDenied (needs roles.add_deprecation), ReasonRequired, DeprecationRefused
    (already deprecated or proposed, a wrong replacement).
    """
    _check_proposer(actor)
    field = _target_field(item)
    text = _reason(reason)
    with transaction.atomic():
        locked = _lock(item)
        if locked.deprecated:
            raise DeprecationRefused(f"The {_label(locked)} is already deprecated.")
        check_replacement(locked, replaced_by)
        proposal = Deprecation(**{field: locked}, reason=text)
        if isinstance(locked, Role):
            proposal.replaced_by_role = replaced_by
        elif isinstance(locked, TitleAlias):
            proposal.replaced_by_alias = replaced_by
        _open(proposal, actor=actor, text=text, label=_label(locked))
    return proposal


def propose_reinstatement(item: Any, *, actor: Any, reason: str) -> Deprecation:
    """Propose undoing the approved deprecation of `item` as `actor`; return the open proposal.

    Raises ReviewPermissionDenied, ReasonRequired, ItemGone, DeprecationRefused (not deprecated, merged
    or split rather than deprecated, its role deprecated, a proposal already open).
    """
    _check_proposer(actor)
    field = _target_field(item)
    text = _reason(reason)
    with transaction.atomic():
        locked = _lock(item)
        _check_reinstatable(locked, field)
        proposal = Deprecation(kind=Deprecation.Kind.REINSTATE, **{field: locked}, reason=text)
        _open(proposal, actor=actor, text=text, label=_label(locked))
    return proposal


def _lock(item: Any) -> Any:
    """The item's row, locked for this transaction; raise ItemGone when it was deleted."""
    locked = type(item).objects.select_for_update().filter(pk=item.pk).first()
    if locked is None:
        raise ItemGone(f"This {type(item)._meta.verbose_name} no longer exists.")
    return locked


def _check_reinstatable(item: Any, field: str) -> None:
    """Raise DeprecationRefused unless `item` (locked) is deprecated by a plain deprecation and its role is live."""
    if not item.deprecated:
        raise DeprecationRefused(f"The {_label(item)} is not deprecated: there is nothing to reinstate.")
    last = (Deprecation.objects.filter(**{field: item}, status=Deprecation.Status.APPROVED)
            .order_by("-decided_at", "-pk").first())
    if last is not None and last.kind in (Deprecation.Kind.MERGE, Deprecation.Kind.SPLIT):
        raise DeprecationRefused(
            f"The {_label(item)} was {_VERB[last.kind]} and its items moved: split or merge the role they went "
            "to instead."
        )
    if field != "role":
        # Read, not locked: the role's lock is taken before its items' elsewhere (merges), never after.
        role = Role.objects.only("code", "deprecated").get(pk=item.role_id)
        if role.deprecated:
            raise DeprecationRefused(f"Its role {role.code} is deprecated: reinstate the role first.")


def _check_proposer(actor: Any) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(PROPOSE_PERMISSION):
        raise ReviewPermissionDenied(
            f"You may not propose deprecations, merges or splits: it needs the permission {PROPOSE_PERMISSION}. "
            "Ask an administrator to add you to the Curators group."
        )


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not has_visible_text(text):
        raise ReasonRequired("Say why: the reason is shown to the reviewer and recorded in the audit history.")
    return text


def _open(proposal: Deprecation, *, actor: Any, text: str, label: str) -> None:
    """Save a new proposal, open and authored by `actor`; one open proposal per item (a constraint)."""
    start(proposal, actor=actor)
    try:
        with transaction.atomic(), acting_as(actor, f"{_NOUN[proposal.kind]} proposed: {text}"):
            proposal.save()
    except IntegrityError:
        raise DeprecationRefused(f"The {label} is already proposed for deprecation, merge, split or "
                                 "reinstatement: decide that first.") from None


def propose_merge(source: Role, target: Role, *, actor: Any, reason: str) -> Deprecation:
    """Propose merging role `source` into role `target` as `actor`; refused with its conflicts if any.

    Raises ReviewPermissionDenied, ReasonRequired, RestructureRefused (with `.conflicts`),
    DeprecationRefused (a live proposal on `source` already).
    """
    return _propose_restructure(
        source, actor=actor, reason=reason, plan=lambda locked: restructure.plan_merge(locked, target),
        proposal=lambda locked, text: Deprecation(kind=Deprecation.Kind.MERGE, role=locked,
                                                  replaced_by_role=target, reason=text),
    )


def propose_split(source: Role, targets: list[Role], assignments: dict[str, dict[int, int]], *, actor: Any,
                  reason: str) -> Deprecation:
    """Propose splitting role `source` into `targets`, each alias and component assigned as `assignments` says.

    Raises ReviewPermissionDenied, ReasonRequired, RestructureRefused (with `.conflicts`: an item
    left without a role, a duplicate in its new role, fewer than two roles…), DeprecationRefused.
    """
    targets = list(targets)
    plan = restructure.split_plan(targets, assignments)
    return _propose_restructure(
        source, actor=actor, reason=reason,
        plan=lambda locked: restructure.plan_split(locked, targets, assignments),
        proposal=lambda locked, text: Deprecation(kind=Deprecation.Kind.SPLIT, role=locked, plan=plan, reason=text),
    )


def _propose_restructure(source: Role, *, actor: Any, reason: str, plan, proposal) -> Deprecation:
    """Check the proposer and reason, lock the role, refuse on the plan's conflicts, and open the proposal."""
    _check_proposer(actor)
    text = _reason(reason)
    with transaction.atomic():
        locked = Role.objects.select_for_update().filter(pk=source.pk).first()
        if locked is None:
            raise ItemGone("This role no longer exists.")
        preview = plan(locked)
        if preview.conflicts:
            raise restructure.RestructureRefused(preview.conflicts)
        opened = proposal(locked, text)
        _open(opened, actor=actor, text=text, label=_label(locked))
    return opened


def decide(
    proposal: Deprecation, *, kind: str, actor: Any, reason: str = "", expected_version: int | None = None
) -> Deprecation:
    """Approve or reject a deprecation proposal as `actor`; approving deprecates its item at once.

    Four-eyes: nobody approves a proposal they wrote. Raises ReviewPermissionDenied (needs
    roles.review_deprecation), ReasonRequired (rejecting), ItemGone, ItemChanged, AlreadyDecided,
    IllegalTransition, FourEyesViolation, DeprecationRefused (the item or its replacement was
    deprecated meanwhile).
    """
    if kind not in DECISION_KINDS:
        raise DeprecationRefused("A deprecation is approved or rejected; a new proposal follows a rejection.")
    check_permission(actor, Deprecation, kind)
    to = target_status(Deprecation, kind)
    text = clean_reason(kind, reason)
    now = timezone.now()
    with transaction.atomic():
        try:
            locked = Deprecation.objects.select_for_update(of=("self",)).get(pk=proposal.pk)
        except Deprecation.DoesNotExist:
            raise ItemGone("This deprecation proposal no longer exists.") from None
        require_version(locked, expected_version)
        check_move(locked, to, actor=actor, kind=kind)
        touched: set[int] = set()
        if kind == DecisionKind.APPROVE:
            touched = _apply(locked, actor=actor, text=text)
        decision = _move(locked, to, actor=actor, kind=kind, text=text, at=now)
        with acting_as(actor, history_reason(kind, text)):
            locked.save(update_fields=list(Deprecation.REVIEW_STATE_FIELDS))
        decision.save()
        if touched:
            derived.enqueue(roles=touched, texts=set())
    proposal.status, proposal.decided_by, proposal.decided_at = locked.status, locked.decided_by, locked.decided_at
    proposal.version = locked.version
    return locked


def _apply(proposal: Deprecation, *, actor: Any, text: str) -> set[int]:
    """Deprecate the proposal's item (locked, re-checked) with its replacement, after a merge's or
    split's moves; return the pks of the roles whose derived rows change."""
    field = "role" if proposal.role_id else "alias" if proposal.alias_id else "mapping"
    model = type(proposal)._meta.get_field(field).related_model
    item = model.objects.select_for_update().get(pk=getattr(proposal, f"{field}_id"))
    if proposal.kind == Deprecation.Kind.REINSTATE:
        return _reinstate(item, field, proposal=proposal, actor=actor, text=text)
    if item.deprecated:
        raise DeprecationRefused(f"The {_label(item)} is already deprecated.")
    replacement = proposal.replacement
    if replacement is not None:
        replacement = type(replacement).objects.select_for_update().get(pk=replacement.pk)
        check_replacement(item, replacement)
    note = f"{_VERB[proposal.kind]}: {proposal.reason}"
    if replacement is not None:
        note += f" (replaced by {_label(replacement)})"
    elif proposal.kind == Deprecation.Kind.SPLIT:
        note += f" (split into {', '.join(t.code for t in restructure.plan_of(proposal).targets)})"
    note = f"{note} — approved: {text}" if text else note
    roles = {item.pk if isinstance(item, Role) else item.role_id}
    if proposal.kind != Deprecation.Kind.DEPRECATE:
        roles |= restructure.apply(proposal, actor=actor, note=note)
        item.refresh_from_db()
    _write_flag(item, deprecated=True, replacement=replacement, actor=actor, note=note)
    if proposal.kind == Deprecation.Kind.SPLIT:
        restructure.link_split(proposal, actor=actor, note=note)
    return roles


def _reinstate(item: Any, field: str, *, proposal: Deprecation, actor: Any, text: str) -> set[int]:
    """Make the deprecated `item` (locked, re-checked) live again, without replacement; return its role's pk."""
    _check_reinstatable(item, field)
    note = f"reinstated: {proposal.reason}"
    note = f"{note} — approved: {text}" if text else note
    _write_flag(item, deprecated=False, replacement=None, actor=actor, note=note)
    return {item.pk if isinstance(item, Role) else item.role_id}


def _write_flag(item: Any, *, deprecated: bool, replacement: Any, actor: Any, note: str) -> None:
    """Save the item's `deprecated` flag and replacement (a mapping has none), with a history row."""
    item.deprecated = deprecated
    fields = ["deprecated"]
    if not isinstance(item, ClassificationMapping):
        item.replaced_by = replacement
        fields.append("replaced_by")
    with acting_as(actor, note):
        item.save(update_fields=fields)


_NOUN = {Deprecation.Kind.DEPRECATE: "deprecation", Deprecation.Kind.MERGE: "merge",
         Deprecation.Kind.SPLIT: "split", Deprecation.Kind.REINSTATE: "reinstatement"}
_VERB = {Deprecation.Kind.DEPRECATE: "deprecated", Deprecation.Kind.MERGE: "merged",
         Deprecation.Kind.SPLIT: "split", Deprecation.Kind.REINSTATE: "reinstated"}
