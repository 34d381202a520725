"""Review decisions: one function per transition, each a thin, permission-checked call of the state machine.

Every service checks the reviewer's permission up front, then runs in a transaction that
re-reads the item with `select_for_update()` and moves it through `roles.workflow`, which checks
the transition table and four-eyes, stamps the decider, saves the item's history row with the
comment or reason, and writes the Decision row. Failures raise a `ReviewError` subclass whose
message says what to do next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from framework.audit import has_visible_text
from roles import workflow
from roles.models import MAPPING_CODE_RE, ClassificationMapping, DecisionKind, Reviewable, TitleAlias
from roles.workflow import (
    AlreadyDecided,
    FourEyesViolation,
    GroupLevelNotConfirmed,
    IllegalTransition,
    InvalidCode,
    ItemChanged,
    ItemGone,
    ReasonRequired,
    ReviewError,
    ReviewPermissionDenied,
    Skipped,
)
from taxonomy.models import OccupationCode

from .groups import REVIEW_ALIAS, REVIEW_MAPPING
from .selectors import is_group_level, occupation_ancestors

__all__ = [
    "AlreadyDecided", "BulkResult", "FourEyesViolation", "GroupLevelNotConfirmed", "IllegalTransition",
    "InvalidCode", "ItemChanged", "ItemGone", "ReasonRequired", "ReplaceNotConfirmed", "ReviewError",
    "ReviewPermissionDenied", "Skipped", "approve_alias", "approve_aliases", "approve_mapping", "refine_mapping",
    "reject_alias", "reject_aliases", "reject_mapping", "reopen_alias", "reopen_mapping", "replace_mapping",
    "undo_decisions",
]

# Items decided per batch by the bulk services: each batch costs a constant number of queries.
BULK_BATCH_SIZE = 500

ALIAS = TitleAlias.Status
MAPPING = ClassificationMapping.Status


class ReplaceNotConfirmed(ReviewError):
    """Replacing a code with one outside it needs the reviewer to confirm the group was wrong."""


@dataclass
class BulkResult:
    """What a bulk service decided and what it skipped (with a reason per skip)."""

    decided: list[Any] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def decided_count(self) -> int:
        return len(self.decided)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    def summary(self, verb: str) -> str:
        text = f"{verb.capitalize()} {self.decided_count} item{'s' if self.decided_count != 1 else ''}"
        if self.skipped:
            text += f"; skipped {self.skipped_count}"
        return text + "."


# ---------------------------------------------------------------------------------------------
# Shared steps


def _require_permission(actor: Any, perm: str, what: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise ReviewPermissionDenied(
            f"You may not {what}: it needs the permission {perm} (ask an administrator to add "
            "you to the Reviewers group)."
        )


def _require_reason(reason: str | None, what: str) -> str:
    if not has_visible_text(reason):
        raise ReasonRequired(f"Give a reason to {what}: it is recorded in the audit history.")
    return reason.strip()


def _lock(model: type[Reviewable], item: Reviewable) -> Any:
    """Re-read `item` with a row lock; the lock holds until the surrounding transaction ends."""
    try:
        return model.objects.select_for_update().get(pk=item.pk)
    except model.DoesNotExist:
        raise ItemGone(f"This {model._meta.verbose_name} no longer exists: reload the queue.") from None


def _copy_back(target: models.Model, source: models.Model, fields: Iterable[str]) -> None:
    """Update the caller's instance so it matches what was saved (and knows it was saved)."""
    if target is source:
        return
    for name in fields:
        setattr(target, name, getattr(source, name))
    target._loaded_values = dict(source._loaded_values)


def _decide(
    model: type[Reviewable], item: Reviewable, to: str, *, actor: Any, kind: str, text: str = "",
    expected_version: int | None = None,
) -> Reviewable:
    """Lock `item` and move it to `to` through the state machine; return the locked, moved copy.

    With `expected_version` (the version the decider was shown), a changed item raises ItemChanged.
    """
    with transaction.atomic():
        locked = _lock(model, item)
        workflow.require_version(locked, expected_version)
        workflow.move_to(locked, to, by=actor, kind=kind, reason=text)
    _copy_back(item, locked, [*model.REVIEW_STATE_FIELDS, "decided_by_id", "version"])
    return locked


# ---------------------------------------------------------------------------------------------
# Aliases


def approve_alias(
    *, alias: TitleAlias, actor: Any, comment: str = "", expected_version: int | None = None
) -> TitleAlias:
    """Approve a pending alias as `actor` and return it.

    `expected_version` is the version the reviewer was shown: a changed alias is not approved.
    Raises ReviewPermissionDenied, ItemGone, ItemChanged, AlreadyDecided (someone decided it
    first), FourEyesViolation (the actor created it or changed its content since its last approval).
    """
    _require_permission(actor, REVIEW_ALIAS, "approve aliases")
    return _decide(TitleAlias, alias, ALIAS.APPROVED, actor=actor, kind=DecisionKind.APPROVE, text=comment,
                   expected_version=expected_version)


def reject_alias(
    *, alias: TitleAlias, actor: Any, reason: str, expected_version: int | None = None
) -> TitleAlias:
    """Reject a pending alias as `actor` with a required reason, and return it.

    Raises ReasonRequired, ReviewPermissionDenied, ItemGone, ItemChanged, AlreadyDecided.
    """
    _require_permission(actor, REVIEW_ALIAS, "reject aliases")
    reason = _require_reason(reason, "reject an alias")
    return _decide(TitleAlias, alias, ALIAS.REJECTED, actor=actor, kind=DecisionKind.REJECT, text=reason,
                   expected_version=expected_version)


def reopen_alias(*, alias: TitleAlias, actor: Any, reason: str) -> TitleAlias:
    """Send an approved or rejected alias back to pending, with a required reason.

    Raises ReasonRequired, ReviewPermissionDenied, ItemGone, IllegalTransition (already pending).
    """
    _require_permission(actor, REVIEW_ALIAS, "reopen aliases")
    reason = _require_reason(reason, "reopen an alias")
    return _decide(TitleAlias, alias, ALIAS.PENDING, actor=actor, kind=DecisionKind.REOPEN, text=reason)


def _alias_pks(aliases: Iterable[TitleAlias | int] | models.QuerySet) -> list[int]:
    if isinstance(aliases, models.QuerySet):
        return sorted(set(aliases.values_list("pk", flat=True)))
    return sorted({a if isinstance(a, int) else a.pk for a in aliases})


def _bulk_decide_aliases(
    aliases: Iterable[TitleAlias | int] | models.QuerySet,
    *,
    actor: Any,
    to_status: str,
    kind: str,
    text: str,
    versions: dict[int, int] | None = None,
) -> BulkResult:
    """Decide every pending alias among `aliases`; skip the rest with a reason each.

    With `versions` ({pk: version} as shown to the reviewer), an alias whose version moved on
    since is skipped as "changed since you saw it". Per batch of BULK_BATCH_SIZE: one locking
    SELECT, then `workflow.move_many`'s UPDATE, history INSERT … SELECT and Decision
    INSERT … SELECT (one more SELECT for the names when some item was already decided).
    """
    result = BulkResult()
    with transaction.atomic():
        pks = _alias_pks(aliases)
        for start in range(0, len(pks), BULK_BATCH_SIZE):
            batch = list(
                TitleAlias.objects.filter(pk__in=pks[start : start + BULK_BATCH_SIZE])
                .select_for_update()
                .order_by("pk")
            )
            if versions is not None:
                current = []
                for item in batch:
                    if versions.get(item.pk) != item.version:
                        result.skipped.append(Skipped(item, "changed since you saw it: review it again"))
                    else:
                        current.append(item)
                batch = current
            moved, skipped = workflow.move_many(TitleAlias, batch, to_status, by=actor, kind=kind, reason=text)
            result.decided.extend(moved)
            result.skipped.extend(skipped)
    return result


def approve_aliases(
    *,
    aliases: Iterable[TitleAlias | int] | models.QuerySet,
    actor: Any,
    comment: str = "",
    versions: dict[int, int] | None = None,
) -> BulkResult:
    """Approve every pending alias in `aliases` (a queryset, or a list of aliases or pks) as `actor`.

    Items already decided, that four-eyes forbids the actor to approve, or (given `versions`)
    that changed since the reviewer saw them are skipped and reported in the result. Writes one
    history row and one Decision per decided alias, in a constant number of queries per batch.
    Raises ReviewPermissionDenied.
    """
    _require_permission(actor, REVIEW_ALIAS, "approve aliases")
    return _bulk_decide_aliases(
        aliases, actor=actor, to_status=ALIAS.APPROVED, kind=DecisionKind.APPROVE,
        text=(comment or "").strip(), versions=versions,
    )


def reject_aliases(
    *,
    aliases: Iterable[TitleAlias | int] | models.QuerySet,
    actor: Any,
    reason: str,
    versions: dict[int, int] | None = None,
) -> BulkResult:
    """Reject every pending alias in `aliases` as `actor` with one required reason.

    Items already decided (or changed since shown, given `versions`) are skipped and reported.
    Raises ReasonRequired, ReviewPermissionDenied.
    """
    _require_permission(actor, REVIEW_ALIAS, "reject aliases")
    reason = _require_reason(reason, "reject aliases")
    return _bulk_decide_aliases(
        aliases, actor=actor, to_status=ALIAS.REJECTED, kind=DecisionKind.REJECT, text=reason, versions=versions
    )


# ---------------------------------------------------------------------------------------------
# Mappings


def _lock_mapping(mapping: ClassificationMapping) -> ClassificationMapping:
    locked = _lock(ClassificationMapping, mapping)
    # The occupation is reference data (never locked): read it with its parents for the checks.
    if locked.occupation_id is not None:
        locked.occupation = occupation_ancestors(locked.occupation_id)[0]
    return locked


def approve_mapping(
    *,
    mapping: ClassificationMapping,
    actor: Any,
    comment: str = "",
    confirm_group_level: bool = False,
    use_official_title: bool = False,
    expected_version: int | None = None,
) -> ClassificationMapping:
    """Approve a mapping that needs review, as `actor`, and return it.

    A code that stops at a major, minor or broad group is approved only with
    `confirm_group_level=True` (refining it is the recommended move). `use_official_title`
    replaces the card's title with the reference title as part of the approval.
    Raises ReviewPermissionDenied, ItemGone, ItemChanged (not the version shown), AlreadyDecided,
    FourEyesViolation, InvalidCode (the code is not in the reference), GroupLevelNotConfirmed.
    """
    _require_permission(actor, REVIEW_MAPPING, "approve mappings")
    comment = (comment or "").strip()
    with transaction.atomic():
        locked = _lock_mapping(mapping)
        workflow.require_version(locked, expected_version)
        workflow.check_move(locked, MAPPING.APPROVED, by=actor, kind=DecisionKind.APPROVE)
        if locked.occupation is None:
            raise InvalidCode(
                f"{locked.code} is not an official SOC 2018 or O*NET-SOC 2019 code: refine it to an "
                "official code or reject the mapping."
            )
        if is_group_level(locked.occupation) and not confirm_group_level:
            raise GroupLevelNotConfirmed(
                f"{locked.code} is a {locked.occupation.get_level_display().lower()}, not a detailed "
                "occupation. Refine it to a detailed code, or tick “approve as group-level” to approve "
                "it as it is."
            )
        also = []
        if use_official_title and locked.title != locked.occupation.title:
            locked.title = locked.occupation.title
            also.append("title")
        note = comment + (" (approved as group-level)" if is_group_level(locked.occupation) else "")
        workflow.move_to(
            locked, MAPPING.APPROVED, by=actor, kind=DecisionKind.APPROVE, reason=note.strip(), also=also
        )
    _copy_back(mapping, locked, [*ClassificationMapping.REVIEW_STATE_FIELDS, "decided_by_id", "version", *also])
    return locked


def reject_mapping(
    *, mapping: ClassificationMapping, actor: Any, reason: str, expected_version: int | None = None
) -> ClassificationMapping:
    """Reject a mapping that needs review, with a required reason, and return it.

    Raises ReasonRequired, ReviewPermissionDenied, ItemGone, ItemChanged, AlreadyDecided.
    """
    _require_permission(actor, REVIEW_MAPPING, "reject mappings")
    reason = _require_reason(reason, "reject a mapping")
    return _decide(
        ClassificationMapping, mapping, MAPPING.REJECTED, actor=actor, kind=DecisionKind.REJECT, text=reason,
        expected_version=expected_version,
    )


def reopen_mapping(*, mapping: ClassificationMapping, actor: Any, reason: str) -> ClassificationMapping:
    """Send an approved or rejected mapping back to needs_review, with a required reason.

    Raises ReasonRequired, ReviewPermissionDenied, ItemGone, IllegalTransition (already waiting).
    """
    _require_permission(actor, REVIEW_MAPPING, "reopen mappings")
    reason = _require_reason(reason, "reopen a mapping")
    return _decide(
        ClassificationMapping, mapping, MAPPING.NEEDS_REVIEW, actor=actor, kind=DecisionKind.REOPEN, text=reason
    )


REFINE_FIELDS = ["previous_code", "code", "occupation", "title", "source", "content_changed_by", "content_changed_at"]


def _detailed_target(code: str) -> tuple[OccupationCode, list[OccupationCode]]:
    """Return (occupation, its chain of groups) for an official detailed `code`; raises InvalidCode."""
    if not re.fullmatch(MAPPING_CODE_RE, code):
        raise InvalidCode(f"{code!r} is not a SOC code: use NN-NNNN (SOC 2018) or NN-NNNN.NN (O*NET-SOC).")
    target = (
        OccupationCode.objects.filter(scheme=ClassificationMapping.reference_scheme(code), code=code)
        .values_list("pk", flat=True)
        .first()
    )
    if target is None:
        raise InvalidCode(f"{code} is not in the SOC 2018 / O*NET-SOC 2019 reference: pick a listed code.")
    chain = occupation_ancestors(target)
    occupation = chain[0]
    if is_group_level(occupation):
        raise InvalidCode(
            f"{code} {occupation.title} is a {occupation.get_level_display().lower()}, not a detailed "
            "occupation: refine to a detailed code, or approve the mapping as group-level."
        )
    return occupation, chain


def _is_under(locked: ClassificationMapping, chain: list[OccupationCode]) -> bool:
    """Whether the target whose chain is given lies under the mapping's current code."""
    if locked.occupation is not None:
        return locked.occupation.pk in {o.pk for o in chain[1:]}
    return chain[0].code[:2] == locked.code[:2]


def _change_code(
    locked: ClassificationMapping, occupation: OccupationCode, *, actor: Any, kind: str, text: str
) -> str:
    """Give `locked` the new official code and approve it as `kind` (refine or replace); return the old code."""
    duplicate = (
        ClassificationMapping.objects.filter(role_id=locked.role_id, scheme=locked.scheme, code=occupation.code)
        .exclude(pk=locked.pk)
        .exists()
    )
    if duplicate:
        raise InvalidCode(
            f"This role already has a mapping to {occupation.code}: review that one and reject this mapping."
        )
    old_code, now = locked.code, timezone.now()
    locked.previous_code, locked.code, locked.occupation = old_code, occupation.code, occupation
    locked.title = occupation.title
    locked.source = ClassificationMapping.Source.MANUAL
    locked.content_changed_by, locked.content_changed_at = actor, now
    workflow.move_to(
        locked, MAPPING.APPROVED, by=actor, kind=kind, reason=text, at=now, also=REFINE_FIELDS,
        old_code=old_code, new_code=occupation.code,
    )
    return old_code


def refine_mapping(
    *, mapping: ClassificationMapping, actor: Any, code: str, comment: str = "", expected_version: int | None = None
) -> ClassificationMapping:
    """Replace the mapping's code with a detailed official code under it, and approve it.

    The new code must be a detailed SOC 2018 occupation (or an O*NET-SOC occupation under a
    detailed code): refining to a minor or broad group would skip the group-level confirmation.
    Records the old code in `previous_code`, takes the official title, sets the source to
    manual, and counts the reviewer as the one who wrote the new code (after a reopen, someone
    else must approve it). Raises ReviewPermissionDenied, ItemGone, ItemChanged, AlreadyDecided,
    FourEyesViolation, InvalidCode (not official, not detailed, not under the current code, or
    already mapped for this role).
    """
    _require_permission(actor, REVIEW_MAPPING, "refine mappings")
    code = (code or "").strip()
    comment = (comment or "").strip()
    if not re.fullmatch(MAPPING_CODE_RE, code):
        raise InvalidCode(f"{code!r} is not a SOC code: use NN-NNNN (SOC 2018) or NN-NNNN.NN (O*NET-SOC).")
    with transaction.atomic():
        locked = _lock_mapping(mapping)
        workflow.require_version(locked, expected_version)
        workflow.check_move(locked, MAPPING.APPROVED, by=actor, kind=DecisionKind.REFINE)
        occupation, chain = _detailed_target(code)
        if not _is_under(locked, chain):
            raise InvalidCode(
                f"{code} {occupation.title} is not under {locked.code}: refine to a more specific code within "
                f"{locked.code}, or replace the code if the group itself is wrong (that needs a reason)."
            )
        _change_code(locked, occupation, actor=actor, kind=DecisionKind.REFINE, text=comment)
    _copy_back(mapping, locked, [*ClassificationMapping.REVIEW_STATE_FIELDS, "decided_by_id", "version",
                                 *REFINE_FIELDS])
    return locked


def replace_mapping(
    *,
    mapping: ClassificationMapping,
    actor: Any,
    code: str,
    reason: str,
    confirm_wrong_group: bool,
    expected_version: int | None = None,
) -> ClassificationMapping:
    """Replace the mapping's code with a detailed official code outside it, and approve it.

    For a mapping whose inferred group was wrong (an "Accounting Manager" under 13-0000 that is
    11-3031): the reviewer confirms that the group was wrong and gives a reason. The Decision
    (kind "replace") and the history record the old code and the new one. Raises
    ReasonRequired, ReplaceNotConfirmed, ReviewPermissionDenied, ItemGone, ItemChanged,
    AlreadyDecided, FourEyesViolation, InvalidCode (not official, not detailed, under the current
    code — refine it instead — or already mapped for this role).
    """
    _require_permission(actor, REVIEW_MAPPING, "replace mapping codes")
    reason = _require_reason(reason, "replace a mapping's code")
    if not confirm_wrong_group:
        raise ReplaceNotConfirmed(
            "Tick “the current code is wrong” to replace it with a code outside it: a replacement says the "
            "inferred group was a mistake."
        )
    code = (code or "").strip()
    with transaction.atomic():
        locked = _lock_mapping(mapping)
        workflow.require_version(locked, expected_version)
        workflow.check_move(locked, MAPPING.APPROVED, by=actor, kind=DecisionKind.REPLACE)
        occupation, chain = _detailed_target(code)
        if _is_under(locked, chain):
            raise InvalidCode(f"{code} is under {locked.code}: refine the mapping to it instead of replacing it.")
        _change_code(locked, occupation, actor=actor, kind=DecisionKind.REPLACE, text=reason)
    _copy_back(mapping, locked, [*ClassificationMapping.REVIEW_STATE_FIELDS, "decided_by_id", "version",
                                 *REFINE_FIELDS])
    return locked


# ---------------------------------------------------------------------------------------------
# Undo


UNDOABLE = frozenset({DecisionKind.APPROVE, DecisionKind.REJECT, DecisionKind.REFINE, DecisionKind.REPLACE})


def undo_decisions(*, model: type[Reviewable], pks: Iterable[int], actor: Any, window_seconds: int) -> BulkResult:
    """Reopen the items of `pks` that `actor` decided in the last `window_seconds`, with the reason "undo".

    An item someone decided or changed since, or that the actor decided longer ago, is skipped
    with the reason (reopening it then needs a reason of its own). A refined or replaced mapping
    goes back to review with its new code. Raises ReviewPermissionDenied.
    """
    _require_permission(actor, model.REVIEW_PERMISSION, "undo decisions")
    result = BulkResult()
    since = timezone.now() - timedelta(seconds=window_seconds)
    with transaction.atomic():
        items = list(model.objects.filter(pk__in=sorted(set(pks))).select_for_update().order_by("pk"))
        latest = workflow.last_decisions(items)
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
        moved, skipped = workflow.move_many(model, undoable, model.OPEN, by=actor, kind=DecisionKind.REOPEN,
                                            reason="undo")
        result.decided.extend(moved)
        result.skipped.extend(skipped)
    return result
