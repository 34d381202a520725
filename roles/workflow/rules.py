"""The rules of review: what may move where, who may move it, and the words that say why not.

Pure checks over one item and one actor, no writes: `roles.workflow.core` calls them once per
move, inside its transaction, after locking the item.

**Authors.** An item's authors are everyone who made its current content: its creator (a
curator, the importer of a card or fixture, whoever ran the SOC coder's suggestions), everyone
who changed its content since, and a reviewer who refined or replaced its code. They are kept in
`content_editors` and never forgotten: once you have written any part of an item, you do not
approve it (four-eyes), superusers included, unless REVIEW_ALLOW_SELF_APPROVAL is set.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from framework.audit import has_visible_text
from taxonomy.models import OccupationCode

from ..models import (
    APPROVING_KINDS,
    IMPORT_DECISIONS,
    KINDS_NEEDING_REASON,
    ClassificationMapping,
    Decision,
    DecisionKind,
    Deprecation,
    Reviewable,
    TitleAlias,
)

APPROVED = "approved"
KIND_VALUES = frozenset(DecisionKind.values)
REVIEWABLE_MODELS: tuple[type[Reviewable], ...] = (TitleAlias, ClassificationMapping)


class ReviewError(Exception):
    """A review move that cannot be made; the message tells the person what to do."""


class ReviewPermissionDenied(ReviewError):
    """The actor does not hold the permission this kind of move needs."""


class FourEyesViolation(ReviewError):
    """The actor is one of the item's authors, so may not approve it."""


class ReasonRequired(ReviewError):
    """Rejecting, reopening, importing, replacing or changing needs a reason with visible text."""


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


class ReplaceNotConfirmed(ReviewError):
    """Replacing a code with one outside it needs the reviewer to confirm the group was wrong."""


# The status each reviewer's decision leads to (imports and returns name theirs explicitly).
TARGETS: dict[str, str] = {
    DecisionKind.APPROVE: APPROVED,
    DecisionKind.REFINE: APPROVED,
    DecisionKind.REPLACE: APPROVED,
    DecisionKind.REJECT: "rejected",
}


def target_status(model: type[Reviewable], kind: str) -> str:
    """The status a reviewer's decision of `kind` moves a `model` item to (reopen: its open status)."""
    if kind == DecisionKind.REOPEN:
        return model.OPEN
    try:
        return TARGETS[kind]
    except KeyError:
        raise IllegalTransition(f"{kind!r} is not a reviewer's decision.") from None


# ---------------------------------------------------------------------------------------------
# Words for people


def describe(item: Reviewable) -> str:
    """Return "the alias “…”" or "the mapping to 15-2051"."""
    if isinstance(item, TitleAlias):
        return f"the alias “{item.alias}”"
    if isinstance(item, Deprecation):
        return f"the proposal to deprecate the {item.target_label}"
    return f"the mapping to {item.code}"


def who_decided(item: Reviewable, decision: Decision | None) -> str:
    """Return "approved by alice on 2026-11-26 01:50 UTC" for the item's last decision."""
    verb = item.get_status_display().lower()
    if decision is not None and decision.to_status == item.status:
        who, when = decision.actor.get_username(), decision.created_at
    else:
        # No logged move to this state (e.g. loaded by a bare loaddata): use the item's stamps.
        who = item.decided_by.get_username() if item.decided_by_id else "an unknown reviewer"
        when = item.decided_at
    when_text = f" on {timezone.localtime(when):%Y-%m-%d %H:%M %Z}" if when else ""
    return f"{verb} by {who}{when_text}"


def already_decided(item: Reviewable, decision: Decision | None) -> AlreadyDecided:
    """The error for a decision that came second, naming who decided first and when."""
    return AlreadyDecided(
        f"{describe(item).capitalize()} was already {who_decided(item, decision)}. "
        "Reload the queue; reopen it first if it must be decided again."
    )


def skip_text(exc: ReviewError) -> str:
    """A bulk decision's one-line reason for leaving an item as it was."""
    text = str(exc)
    if isinstance(exc, AlreadyDecided):
        return "already " + text.split(" was already ", 1)[-1].split(". Reload", 1)[0]
    if isinstance(exc, FourEyesViolation):
        return "four-eyes: " + text.split(": ", 1)[-1].removesuffix(". Ask another reviewer.")
    return text


def history_reason(kind: str, text: str, old_code: str = "", new_code: str = "") -> str:
    """The change reason of the item's history row for a move: "review: approved — looks right"."""
    verb = DecisionKind(kind).label.split(" (")[0].lower()
    if kind == DecisionKind.REFINE:
        verb = f"refined {old_code} → {new_code}"
    elif kind == DecisionKind.REPLACE:
        verb = f"replaced {old_code} → {new_code}"
    return f"review: {verb} — {text}" if text else f"review: {verb}"


# ---------------------------------------------------------------------------------------------
# Authors and four-eyes


def add_author(item: Reviewable, actor: Any) -> None:
    """Count `actor` among the authors of `item`'s content (in memory)."""
    if actor is not None and actor.pk not in item.author_ids():
        item.content_editors = f"{item.content_editors or ','}{actor.pk},"


def four_eyes_reason(user: Any, item: Reviewable) -> str:
    """Return why four-eyes forbids `user` to approve `item`, or "" when it does not (no queries)."""
    if settings.REVIEW_ALLOW_SELF_APPROVAL or user is None:
        return ""
    if item.created_by_id is not None and item.created_by_id == user.pk:
        return "you created it"
    if user.pk in item.author_ids():
        return "you wrote part of its content"
    return ""


def four_eyes_q(user: Any) -> Q:
    """The filter for items four-eyes forbids `user` to approve (matches nothing when switched off)."""
    if settings.REVIEW_ALLOW_SELF_APPROVAL:
        return Q(pk__in=[])
    return Q(created_by=user) | Q(content_editors__contains=f",{user.pk},")


def is_approval(kind: str, to: str) -> bool:
    """Whether a move of `kind` to `to` vouches for the content: a reviewer's approval or an imported one."""
    return kind in APPROVING_KINDS or (kind == DecisionKind.IMPORTED and to == APPROVED)


# ---------------------------------------------------------------------------------------------
# Permissions


def holds_explicitly(user: Any, permission: str) -> bool:
    """Whether `user` was granted `permission` itself or through a group; superuser status never implies it.

    For capabilities that must be handed out deliberately (importing review decisions). One query.
    """
    if user is None or not getattr(user, "is_active", False) or getattr(user, "pk", None) is None:
        return False
    from django.contrib.auth.models import Permission

    app_label, codename = permission.split(".", 1)
    return Permission.objects.filter(
        Q(user=user) | Q(group__user=user), content_type__app_label=app_label, codename=codename
    ).exists()


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
    """Whether `user` holds the permission moves of `kind` on `model` items need.

    Importing decisions is an explicit grant (`holds_explicitly`); the rest go by `has_perm`.
    """
    permission = required_permission(model, kind)
    if permission is None:
        return user is not None
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if kind == DecisionKind.IMPORTED:
        return holds_explicitly(user, permission)
    return user.has_perm(permission)


def check_permission(user: Any, model: type[Reviewable], kind: str) -> None:
    """Raise ReviewPermissionDenied unless `user` may make moves of `kind` on `model` items."""
    if kind not in KIND_VALUES:
        raise IllegalTransition(f"{kind!r} is not a kind of decision.")
    if not may_move(user, model, kind):
        permission = required_permission(model, kind)
        label = DecisionKind(kind).label.lower()
        if kind == DecisionKind.IMPORTED:
            ask = " (granted to you or your group; superuser status does not imply it). Ask an administrator."
        else:
            ask = ". Ask an administrator to add you to the Reviewers group."
        raise ReviewPermissionDenied(
            f"You may not make this move ({label}, {model._meta.verbose_name_plural}): it needs the "
            f"permission {permission}{ask}"
        )


# ---------------------------------------------------------------------------------------------
# The move itself


def check_move(item: Reviewable, to: str, *, actor: Any, kind: str, decision: Decision | None = None) -> None:
    """Raise the ReviewError that forbids moving `item` to `to` by `kind` as `actor`; return if allowed.

    Checks the transition table, then four-eyes for approvals. The permission is checked once
    per call of the core, before the item is locked (`check_permission`). `decision` is the
    item's last Decision, used to name who decided it (looked up when needed). Raises
    IllegalTransition (AlreadyDecided when someone decided first), FourEyesViolation.
    """
    if kind not in KIND_VALUES:
        raise IllegalTransition(f"{kind!r} is not a kind of decision.")
    if getattr(item, "deprecated", False):
        # Frozen as published: reopening or editing it would drop it from the next release unmarked.
        raise IllegalTransition(
            f"{describe(item).capitalize()} is deprecated: it stays as it was published. Reinstate it through "
            "review first (Reinstate… on its page), or propose a new item."
        )
    if not item.can_transition_to(to, kind):
        if not item.is_open and to != item.OPEN:
            if decision is None and item.pk is not None:
                decision = Decision.objects.for_item(item).select_related("actor").first()
            raise already_decided(item, decision)
        state = item.get_status_display().lower()
        raise IllegalTransition(
            f"{describe(item).capitalize()} is {state}: it cannot be {DecisionKind(kind).label.lower()} "
            f"to {to.replace('_', ' ')}."
        )
    if is_approval(kind, to) and (why := four_eyes_reason(actor, item)):
        raise FourEyesViolation(f"You cannot approve {describe(item)}: {why}. Ask another reviewer.")


def clean_reason(kind: str, reason: str | None) -> str:
    """Return the reason trimmed; raise ReasonRequired when `kind` needs one and it has no visible text."""
    text = (reason or "").strip()
    if kind in KINDS_NEEDING_REASON and not has_visible_text(text):
        what = DecisionKind(kind).label.lower()
        raise ReasonRequired(f"Give a reason (“{what}”): it is recorded in the audit history.")
    return text if has_visible_text(text) else ""


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
# Mapping codes


def approval_problem(item: Reviewable, *, confirm_group_level: bool = False) -> ReviewError | None:
    """Why approving `item` as it stands is refused, or None: a mapping needs an official code, detailed
    unless the reviewer confirmed the group level. `item.occupation` must be loaded."""
    if not isinstance(item, ClassificationMapping):
        return None
    occupation = item.occupation
    if occupation is None:
        return InvalidCode(
            f"{item.code} is not an official SOC 2018 or O*NET-SOC 2019 code: refine it to an "
            "official code or reject the mapping."
        )
    if occupation.is_group_level and not confirm_group_level:
        return GroupLevelNotConfirmed(
            f"{item.code} is a {occupation.get_level_display().lower()}, not a detailed "
            "occupation. Refine it to a detailed code, or tick “approve as group-level” to approve "
            "it as it is."
        )
    return None


def detailed_target(code: str) -> tuple[OccupationCode, list[OccupationCode]]:
    """Return (occupation, its chain of groups) for an official detailed `code`; raises InvalidCode."""
    code = (code or "").strip()
    if not re.fullmatch(ClassificationMapping.CODE_RE, code):
        raise InvalidCode(f"{code!r} is not a SOC code: use NN-NNNN (SOC 2018) or NN-NNNN.NN (O*NET-SOC).")
    target = (
        OccupationCode.objects.filter(scheme=ClassificationMapping.reference_scheme(code), code=code)
        .values_list("pk", flat=True)
        .first()
    )
    if target is None:
        raise InvalidCode(f"{code} is not in the SOC 2018 / O*NET-SOC 2019 reference: pick a listed code.")
    chain = OccupationCode.objects.ancestors(target)
    occupation = chain[0]
    if occupation.is_group_level:
        raise InvalidCode(
            f"{code} {occupation.title} is a {occupation.get_level_display().lower()}, not a detailed "
            "occupation: refine to a detailed code, or approve the mapping as group-level."
        )
    return occupation, chain


def is_under(mapping: ClassificationMapping, chain: list[OccupationCode]) -> bool:
    """Whether the target whose chain is given lies under the mapping's current code."""
    if mapping.occupation is not None:
        return mapping.occupation.pk in {o.pk for o in chain[1:]}
    return chain[0].code[:2] == mapping.code[:2]
