"""The reviewers' decisions by name: one function per transition, each one call of the review core.

Nothing is checked here: `roles.workflow` checks the permission, the version shown, the
transition table, four-eyes and the reason once each, and writes the item, its history row, its
Decision and the derived-data marks in one transaction. These names exist so that views, admin
actions and tests read as the decisions they make.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from roles import workflow
from roles.models import ClassificationMapping, DecisionKind, Reviewable, Sample, TitleAlias
from roles.workflow import (
    AlreadyDecided,
    AlreadyReviewed,
    AwaitingLead,
    BulkResult,
    FourEyesViolation,
    GroupLevelNotConfirmed,
    IllegalTransition,
    InvalidCode,
    ItemChanged,
    ItemGone,
    NotIndependent,
    ReasonRequired,
    ReplaceNotConfirmed,
    ReviewError,
    ReviewPermissionDenied,
    Skipped,
)

__all__ = [
    "AlreadyDecided", "AlreadyReviewed", "AwaitingLead", "BulkResult", "NotIndependent", "adjudicate",
    "FourEyesViolation", "GroupLevelNotConfirmed", "IllegalTransition",
    "InvalidCode", "ItemChanged", "ItemGone", "ReasonRequired", "ReplaceNotConfirmed", "ReviewError",
    "ReviewPermissionDenied", "Skipped", "approve_alias", "approve_aliases", "approve_mapping", "approve_mappings",
    "refine_mapping", "reject_alias", "reject_aliases", "reject_mapping", "reject_mappings", "reopen_alias",
    "reopen_mapping", "replace_mapping", "undo_decisions",
]

Items = Iterable[Reviewable | int] | models.QuerySet


# ---------------------------------------------------------------------------------------------
# Aliases


def approve_alias(
    *, alias: TitleAlias, actor: Any, comment: str = "", expected_version: int | None = None
) -> TitleAlias:
    """Approve a pending alias as `actor`; raises what `roles.workflow.decide` raises."""
    return workflow.decide(alias, kind=DecisionKind.APPROVE, actor=actor, reason=comment,
                           expected_version=expected_version)


def reject_alias(*, alias: TitleAlias, actor: Any, reason: str, expected_version: int | None = None) -> TitleAlias:
    """Reject a pending alias with a required reason; raises what `roles.workflow.decide` raises."""
    return workflow.decide(alias, kind=DecisionKind.REJECT, actor=actor, reason=reason,
                           expected_version=expected_version)


def reopen_alias(*, alias: TitleAlias, actor: Any, reason: str) -> TitleAlias:
    """Send a decided alias back to pending with a required reason; raises what `decide` raises."""
    return workflow.decide(alias, kind=DecisionKind.REOPEN, actor=actor, reason=reason)


def approve_aliases(
    *, aliases: Items, actor: Any, comment: str = "", versions: dict[int, int] | None = None
) -> BulkResult:
    """Approve every pending alias in `aliases` (shown at `versions`); the rest are skipped with a reason.

    Raises ReviewPermissionDenied.
    """
    return workflow.decide_many(TitleAlias, aliases, kind=DecisionKind.APPROVE, actor=actor, reason=comment,
                                versions=versions)


def reject_aliases(
    *, aliases: Items, actor: Any, reason: str, versions: dict[int, int] | None = None
) -> BulkResult:
    """Reject every pending alias in `aliases` with one reason; raises ReasonRequired, ReviewPermissionDenied."""
    return workflow.decide_many(TitleAlias, aliases, kind=DecisionKind.REJECT, actor=actor, reason=reason,
                                versions=versions)


# ---------------------------------------------------------------------------------------------
# Mappings


def approve_mapping(
    *,
    mapping: ClassificationMapping,
    actor: Any,
    comment: str = "",
    confirm_group_level: bool = False,
    use_official_title: bool = False,
    expected_version: int | None = None,
) -> ClassificationMapping:
    """Approve a mapping that needs review; a group-level code needs `confirm_group_level`.

    Raises what `roles.workflow.decide` raises (InvalidCode, GroupLevelNotConfirmed among them).
    """
    return workflow.decide(mapping, kind=DecisionKind.APPROVE, actor=actor, reason=comment,
                           expected_version=expected_version, confirm_group_level=confirm_group_level,
                           use_official_title=use_official_title)


def reject_mapping(
    *, mapping: ClassificationMapping, actor: Any, reason: str, expected_version: int | None = None
) -> ClassificationMapping:
    """Reject a mapping that needs review with a required reason; raises what `decide` raises."""
    return workflow.decide(mapping, kind=DecisionKind.REJECT, actor=actor, reason=reason,
                           expected_version=expected_version)


def reopen_mapping(*, mapping: ClassificationMapping, actor: Any, reason: str) -> ClassificationMapping:
    """Send a decided mapping back to needs_review with a required reason; raises what `decide` raises."""
    return workflow.decide(mapping, kind=DecisionKind.REOPEN, actor=actor, reason=reason)


def approve_mappings(*, mappings: Items, actor: Any, comment: str = "", versions: dict[int, int] | None = None
                     ) -> BulkResult:
    """Approve every waiting mapping with an official detailed code; group-level ones are skipped.

    Raises ReviewPermissionDenied.
    """
    return workflow.decide_many(ClassificationMapping, mappings, kind=DecisionKind.APPROVE, actor=actor,
                                reason=comment, versions=versions)


def reject_mappings(*, mappings: Items, actor: Any, reason: str, versions: dict[int, int] | None = None
                    ) -> BulkResult:
    """Reject every waiting mapping in `mappings`; raises ReasonRequired, ReviewPermissionDenied."""
    return workflow.decide_many(ClassificationMapping, mappings, kind=DecisionKind.REJECT, actor=actor,
                                reason=reason, versions=versions)


def refine_mapping(
    *, mapping: ClassificationMapping, actor: Any, code: str, comment: str = "", expected_version: int | None = None
) -> ClassificationMapping:
    """Replace the code with a detailed official code under it and approve; the refiner becomes an author.

    Raises what `roles.workflow.decide` raises (InvalidCode for a code not under the current one).
    """
    return workflow.decide(mapping, kind=DecisionKind.REFINE, actor=actor, reason=comment, code=code,
                           expected_version=expected_version)


def replace_mapping(
    *,
    mapping: ClassificationMapping,
    actor: Any,
    code: str,
    reason: str,
    confirm_wrong_group: bool,
    expected_version: int | None = None,
) -> ClassificationMapping:
    """Replace the code with a detailed official code outside it and approve; the replacer becomes an author.

    Needs a reason and `confirm_wrong_group`. Raises what `roles.workflow.decide` raises.
    """
    return workflow.decide(mapping, kind=DecisionKind.REPLACE, actor=actor, reason=reason, code=code,
                           confirm_wrong_group=confirm_wrong_group, expected_version=expected_version)


def adjudicate(
    *, sample: Sample, actor: Any, verdict: str, reason: str, code: str = "", expected_version: int | None = None
) -> Reviewable:
    """Settle a disputed double-blind sample as a lead: `verdict` (approve, reject, refine, replace) on its item.

    One decision through the review core, like any other; the lead confirms what the reviewer they
    side with confirmed (a group-level approval, a wrong group). Raises what `decide` raises
    (AwaitingLead for a non-lead, AlreadyReviewed for a lead who gave one of the two reviews).
    """
    return workflow.decide(
        sample.item, kind=verdict, actor=actor, reason=reason, code=code, expected_version=expected_version,
        confirm_group_level=verdict == DecisionKind.APPROVE, confirm_wrong_group=verdict == DecisionKind.REPLACE,
    )


def undo_decisions(*, model: type[Reviewable], pks: Iterable[int], actor: Any, window_seconds: int) -> BulkResult:
    """Reopen what `actor` decided in the last `window_seconds`, with the reason "undo".

    Raises ReviewPermissionDenied.
    """
    return workflow.undo_many(model, pks, actor=actor, window_seconds=window_seconds)
