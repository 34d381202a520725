"""Review decisions: the only way an alias's or a mapping's review fields change.

Every service checks the reviewer's permission and four-eyes on the server, runs in a
transaction that re-reads the item with `select_for_update()`, saves it as the reviewer with
the comment or reason in the history row (through `framework.audit.acting_as`), and writes a
`Decision` row. Failures raise a `ReviewError` subclass whose message says what to do next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, models, router, transaction
from django.utils import timezone

from framework.audit import acting_as, update_with_history
from roles.models import MAPPING_CODE_RE, ClassificationMapping, TitleAlias
from taxonomy.models import OccupationCode

from .groups import REVIEW_ALIAS, REVIEW_MAPPING
from .models import Decision
from .selectors import four_eyes_reason, is_group_level, occupation_ancestors

# Items decided per batch by the bulk services: each batch costs a constant number of queries.
BULK_BATCH_SIZE = 500

ALIAS = TitleAlias.Status
MAPPING = ClassificationMapping.Status


class ReviewError(Exception):
    """A review decision that cannot be made; the message tells the reviewer what to do."""


class ReviewPermissionDenied(ReviewError):
    """The actor does not hold the review permission for this kind of item."""


class FourEyesViolation(ReviewError):
    """The actor created the item or last changed its content, so someone else must approve it."""


class ReasonRequired(ReviewError):
    """Rejecting or reopening needs a non-empty reason."""


class IllegalTransition(ReviewError):
    """The item's status does not allow this move (e.g. reopening a pending alias)."""


class AlreadyDecided(IllegalTransition):
    """Someone already decided the item; the message names who, what and when."""


class ItemGone(ReviewError):
    """The item was deleted while the reviewer looked at it."""


class InvalidCode(ReviewError):
    """The mapping's code is not an official code, or not a refinement of the current one."""


class GroupLevelNotConfirmed(ReviewError):
    """A mapping to a major, minor or broad group needs an explicit "approve as group-level"."""


@dataclass
class Skipped:
    """An item a bulk service left undecided, and why."""

    item: Any
    reason: str


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
# Checks shared by the services


def _require_permission(actor: Any, perm: str, what: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(perm):
        raise ReviewPermissionDenied(
            f"You may not {what}: it needs the permission {perm} (ask an administrator to add "
            "you to the Reviewers group)."
        )


def _require_reason(reason: str | None, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(f"Give a reason to {what}: it is recorded in the audit history.")
    return reason


def _require_four_eyes(actor: Any, item: TitleAlias | ClassificationMapping) -> None:
    reason = four_eyes_reason(actor, item)
    if reason:
        raise FourEyesViolation(f"You cannot approve {_describe(item)}: {reason}. Ask another reviewer.")


def _describe(item: TitleAlias | ClassificationMapping) -> str:
    if isinstance(item, TitleAlias):
        return f"the alias “{item.alias}”"
    return f"the mapping to {item.code}"


def _who_decided(item: TitleAlias | ClassificationMapping, decision: Decision | None) -> str:
    """Return "approved by alice on 2026-11-26 01:50 UTC" for the item's last decision."""
    if decision is not None:
        verb = decision.get_decision_display().lower()
        who = decision.actor.get_username()
        when = decision.created_at
    else:
        # Decided outside the workflow (e.g. loaded from a fixture): use the item's own fields.
        verb = item.get_status_display().lower()
        user = getattr(item, "approved_by", None) or getattr(item, "reviewed_by", None)
        who = user.get_username() if user is not None else "an unknown reviewer"
        when = getattr(item, "approved_at", None) or getattr(item, "reviewed_at", None)
    when_text = f" on {timezone.localtime(when):%Y-%m-%d %H:%M %Z}" if when else ""
    return f"{verb} by {who}{when_text}"


def _already_decided(item: TitleAlias | ClassificationMapping) -> AlreadyDecided:
    decision = Decision.objects.for_item(item).select_related("actor").first()
    return AlreadyDecided(
        f"{_describe(item).capitalize()} was already {_who_decided(item, decision)}. "
        "Reload the queue; reopen it first if it must be decided again."
    )


def _require_move(item: TitleAlias | ClassificationMapping, to_status: str, action: str) -> None:
    if item.can_transition_to(to_status):
        return
    pending = ALIAS.PENDING if isinstance(item, TitleAlias) else MAPPING.NEEDS_REVIEW
    if item.status != pending:
        raise _already_decided(item)
    raise IllegalTransition(
        f"Cannot {action} {_describe(item)}: it is {item.get_status_display().lower()} and has no decision to undo."
    )


def _lock(model: type[models.Model], item: models.Model) -> Any:
    """Re-read `item` with a row lock; the lock holds until the surrounding transaction ends."""
    try:
        return model.objects.select_for_update().get(pk=item.pk)
    except model.DoesNotExist:
        raise ItemGone(f"This {model._meta.verbose_name} no longer exists: reload the queue.") from None


def _history_reason(verb: str, text: str) -> str:
    return f"review: {verb} — {text}" if text else f"review: {verb}"


def _save(item: models.Model, *, actor: Any, reason: str, fields: list[str]) -> None:
    with acting_as(actor, reason):
        item.save(update_fields=fields)


def _record(
    locked: TitleAlias | ClassificationMapping,
    *,
    actor: Any,
    kind: str,
    verb: str,
    text: str,
    fields: list[str],
    from_status: str,
    now,
    **codes: str,
) -> None:
    """Save a decided item with its history row ("VERB: TEXT") and write its Decision row.

    Runs inside the caller's transaction, so the item, its history and the decision land together.
    """
    _save(locked, actor=actor, reason=_history_reason(verb, text), fields=fields)
    target = {"alias": locked} if isinstance(locked, TitleAlias) else {"mapping": locked}
    Decision.objects.create(
        **target,
        decision=kind,
        actor=actor,
        comment=text,
        from_status=from_status,
        to_status=locked.status,
        created_at=now,
        **codes,
    )


def _copy_back(target: models.Model, source: models.Model, fields: Iterable[str]) -> None:
    """Update the caller's instance so it matches what was saved."""
    if target is source:
        return
    for name in fields:
        setattr(target, name, getattr(source, name))


ALIAS_REVIEW_FIELDS = ["status", "approved_by", "approved_at"]
MAPPING_REVIEW_FIELDS = ["status", "reviewed_by", "reviewed_at"]


# ---------------------------------------------------------------------------------------------
# Aliases


def approve_alias(*, alias: TitleAlias, actor: Any, comment: str = "") -> TitleAlias:
    """Approve a pending alias as `actor` and return it.

    Raises ReviewPermissionDenied, ItemGone, AlreadyDecided (someone decided it first),
    FourEyesViolation (the actor created or last changed it).
    """
    _require_permission(actor, REVIEW_ALIAS, "approve aliases")
    comment = (comment or "").strip()
    with transaction.atomic():
        locked = _lock(TitleAlias, alias)
        _require_move(locked, ALIAS.APPROVED, "approve")
        _require_four_eyes(actor, locked)
        from_status, now = locked.status, timezone.now()
        locked.status, locked.approved_by, locked.approved_at = ALIAS.APPROVED, actor, now
        _record(
            locked,
            actor=actor,
            kind=Decision.Kind.APPROVE,
            verb="approved",
            text=comment,
            fields=ALIAS_REVIEW_FIELDS,
            from_status=from_status,
            now=now,
        )
    _copy_back(alias, locked, ALIAS_REVIEW_FIELDS)
    return locked


def reject_alias(*, alias: TitleAlias, actor: Any, reason: str) -> TitleAlias:
    """Reject a pending alias as `actor` with a required reason, and return it.

    Raises ReasonRequired, ReviewPermissionDenied, ItemGone, AlreadyDecided.
    """
    _require_permission(actor, REVIEW_ALIAS, "reject aliases")
    reason = _require_reason(reason, "reject an alias")
    with transaction.atomic():
        locked = _lock(TitleAlias, alias)
        _require_move(locked, ALIAS.REJECTED, "reject")
        from_status, now = locked.status, timezone.now()
        locked.status = ALIAS.REJECTED
        _record(
            locked,
            actor=actor,
            kind=Decision.Kind.REJECT,
            verb="rejected",
            text=reason,
            fields=["status"],
            from_status=from_status,
            now=now,
        )
    _copy_back(alias, locked, ALIAS_REVIEW_FIELDS)
    return locked


def reopen_alias(*, alias: TitleAlias, actor: Any, reason: str) -> TitleAlias:
    """Send an approved or rejected alias back to pending, with a required reason.

    Raises ReasonRequired, ReviewPermissionDenied, ItemGone, IllegalTransition (already pending).
    """
    _require_permission(actor, REVIEW_ALIAS, "reopen aliases")
    reason = _require_reason(reason, "reopen an alias")
    with transaction.atomic():
        locked = _lock(TitleAlias, alias)
        if not locked.can_transition_to(ALIAS.PENDING):
            raise IllegalTransition(f"{_describe(locked).capitalize()} is already pending: nothing to reopen.")
        from_status, now = locked.status, timezone.now()
        locked.status, locked.approved_by, locked.approved_at = ALIAS.PENDING, None, None
        _record(
            locked,
            actor=actor,
            kind=Decision.Kind.REOPEN,
            verb="reopened",
            text=reason,
            fields=ALIAS_REVIEW_FIELDS,
            from_status=from_status,
            now=now,
        )
    _copy_back(alias, locked, ALIAS_REVIEW_FIELDS)
    return locked


def _alias_pks(aliases: Iterable[TitleAlias] | models.QuerySet) -> list[int]:
    if isinstance(aliases, models.QuerySet):
        return sorted(set(aliases.values_list("pk", flat=True)))
    return sorted({a.pk for a in aliases})


def _insert_alias_decisions(
    pks: list[int], *, kind: str, actor: Any, comment: str, from_status: str, to_status: str, now
) -> None:
    """Write one Decision per alias in `pks` with a single INSERT … SELECT (same values for all)."""
    connection = connections[router.db_for_write(Decision)]
    quote = connection.ops.quote_name
    columns = [
        "alias_id",
        "decision",
        "actor_id",
        "comment",
        "from_status",
        "to_status",
        "old_code",
        "new_code",
        "created_at",
    ]
    created_at = Decision._meta.get_field("created_at").get_db_prep_save(now, connection)
    sql = (
        f"INSERT INTO {quote(Decision._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT {quote('id')}, %s, %s, %s, %s, %s, %s, %s, %s FROM {quote(TitleAlias._meta.db_table)} "
        f"WHERE {quote('id')} IN ({', '.join(['%s'] * len(pks))}) ORDER BY {quote('id')}"
    )
    params = [kind, actor.pk, comment, from_status, to_status, "", "", created_at, *pks]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _bulk_decide_aliases(
    aliases: Iterable[TitleAlias] | models.QuerySet, *, actor: Any, to_status: str, kind: str, text: str
) -> BulkResult:
    """Decide every pending alias among `aliases`; skip the rest with a reason each.

    Per batch of BULK_BATCH_SIZE: one locking SELECT, one SELECT of earlier decisions (only
    when some item is already decided), one UPDATE, one history INSERT … SELECT, one Decision
    INSERT (SQLite splits that one further under its limit on query parameters).
    """
    result = BulkResult()
    verb = "approved" if to_status == ALIAS.APPROVED else "rejected"
    history_reason = _history_reason(verb, text)
    with transaction.atomic():
        pks = _alias_pks(aliases)
        for start in range(0, len(pks), BULK_BATCH_SIZE):
            batch = list(
                TitleAlias.objects.filter(pk__in=pks[start : start + BULK_BATCH_SIZE])
                .select_for_update()
                .order_by("pk")
            )
            now = timezone.now()
            to_decide, decided_before = [], []
            for item in batch:
                if item.status != ALIAS.PENDING:
                    decided_before.append(item)
                elif to_status == ALIAS.APPROVED and (why := four_eyes_reason(actor, item)):
                    result.skipped.append(Skipped(item, f"four-eyes: {why}"))
                else:
                    to_decide.append(item)
            if decided_before:
                last = {}
                for d in (
                    Decision.objects.filter(alias__in=decided_before)
                    .select_related("actor")
                    .order_by("alias_id", "-created_at", "-pk")
                ):
                    last.setdefault(d.alias_id, d)
                for item in decided_before:
                    result.skipped.append(Skipped(item, f"already {_who_decided(item, last.get(item.pk))}"))
            if not to_decide:
                continue
            approver, approved_at = (actor.pk, now) if to_status == ALIAS.APPROVED else (None, None)
            for item in to_decide:
                item.status, item.approved_by_id, item.approved_at = to_status, approver, approved_at
            decided_pks = [item.pk for item in to_decide]
            # Every row gets the same values: one UPDATE and one INSERT … SELECT of history rows.
            update_with_history(
                TitleAlias,
                decided_pks,
                user=actor,
                reason=history_reason,
                date=now,
                status=to_status,
                approved_by_id=approver,
                approved_at=approved_at,
            )
            _insert_alias_decisions(
                decided_pks,
                kind=kind,
                actor=actor,
                comment=text,
                from_status=ALIAS.PENDING,
                to_status=to_status,
                now=now,
            )
            result.decided.extend(to_decide)
    return result


def approve_aliases(*, aliases: Iterable[TitleAlias] | models.QuerySet, actor: Any, comment: str = "") -> BulkResult:
    """Approve every pending alias in `aliases` (a queryset or list) as `actor`.

    Items already decided, or that four-eyes forbids the actor to approve, are skipped and
    reported in the result. Writes one history row and one Decision per decided alias, in a
    constant number of queries per batch. Raises ReviewPermissionDenied.
    """
    _require_permission(actor, REVIEW_ALIAS, "approve aliases")
    return _bulk_decide_aliases(
        aliases,
        actor=actor,
        to_status=ALIAS.APPROVED,
        kind=Decision.Kind.APPROVE,
        text=(comment or "").strip(),
    )


def reject_aliases(*, aliases: Iterable[TitleAlias] | models.QuerySet, actor: Any, reason: str) -> BulkResult:
    """Reject every pending alias in `aliases` as `actor` with one required reason.

    Items already decided are skipped and reported. Raises ReasonRequired, ReviewPermissionDenied.
    """
    _require_permission(actor, REVIEW_ALIAS, "reject aliases")
    reason = _require_reason(reason, "reject aliases")
    return _bulk_decide_aliases(aliases, actor=actor, to_status=ALIAS.REJECTED, kind=Decision.Kind.REJECT, text=reason)


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
) -> ClassificationMapping:
    """Approve a mapping that needs review, as `actor`, and return it.

    A code that stops at a major, minor or broad group is approved only with
    `confirm_group_level=True` (refining it is the recommended move). `use_official_title`
    replaces the card's title with the reference title.
    Raises ReviewPermissionDenied, ItemGone, AlreadyDecided, FourEyesViolation, InvalidCode
    (the code is not in the reference), GroupLevelNotConfirmed.
    """
    _require_permission(actor, REVIEW_MAPPING, "approve mappings")
    comment = (comment or "").strip()
    with transaction.atomic():
        locked = _lock_mapping(mapping)
        _require_move(locked, MAPPING.APPROVED, "approve")
        _require_four_eyes(actor, locked)
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
        from_status, now = locked.status, timezone.now()
        fields = list(MAPPING_REVIEW_FIELDS)
        if use_official_title and locked.title != locked.occupation.title:
            locked.title = locked.occupation.title
            fields.append("title")
        locked.status, locked.reviewed_by, locked.reviewed_at = MAPPING.APPROVED, actor, now
        note = comment + (" (approved as group-level)" if is_group_level(locked.occupation) else "")
        _record(
            locked,
            actor=actor,
            kind=Decision.Kind.APPROVE,
            verb="approved",
            text=note.strip(),
            fields=fields,
            from_status=from_status,
            now=now,
        )
    _copy_back(mapping, locked, fields)
    return locked


def reject_mapping(*, mapping: ClassificationMapping, actor: Any, reason: str) -> ClassificationMapping:
    """Reject a mapping that needs review, with a required reason, and return it.

    Raises ReasonRequired, ReviewPermissionDenied, ItemGone, AlreadyDecided.
    """
    _require_permission(actor, REVIEW_MAPPING, "reject mappings")
    reason = _require_reason(reason, "reject a mapping")
    with transaction.atomic():
        locked = _lock(ClassificationMapping, mapping)
        _require_move(locked, MAPPING.REJECTED, "reject")
        from_status, now = locked.status, timezone.now()
        locked.status, locked.reviewed_by, locked.reviewed_at = MAPPING.REJECTED, actor, now
        _record(
            locked,
            actor=actor,
            kind=Decision.Kind.REJECT,
            verb="rejected",
            text=reason,
            fields=MAPPING_REVIEW_FIELDS,
            from_status=from_status,
            now=now,
        )
    _copy_back(mapping, locked, MAPPING_REVIEW_FIELDS)
    return locked


def reopen_mapping(*, mapping: ClassificationMapping, actor: Any, reason: str) -> ClassificationMapping:
    """Send an approved or rejected mapping back to needs_review, with a required reason.

    Raises ReasonRequired, ReviewPermissionDenied, ItemGone, IllegalTransition (already waiting).
    """
    _require_permission(actor, REVIEW_MAPPING, "reopen mappings")
    reason = _require_reason(reason, "reopen a mapping")
    with transaction.atomic():
        locked = _lock(ClassificationMapping, mapping)
        if not locked.can_transition_to(MAPPING.NEEDS_REVIEW):
            raise IllegalTransition(f"{_describe(locked).capitalize()} already needs review: nothing to reopen.")
        from_status, now = locked.status, timezone.now()
        locked.status, locked.reviewed_by, locked.reviewed_at = MAPPING.NEEDS_REVIEW, None, None
        _record(
            locked,
            actor=actor,
            kind=Decision.Kind.REOPEN,
            verb="reopened",
            text=reason,
            fields=MAPPING_REVIEW_FIELDS,
            from_status=from_status,
            now=now,
        )
    _copy_back(mapping, locked, MAPPING_REVIEW_FIELDS)
    return locked


def refine_mapping(
    *, mapping: ClassificationMapping, actor: Any, code: str, comment: str = ""
) -> ClassificationMapping:
    """Replace the mapping's code with a more specific official code under it, and approve it.

    Records the old code in `previous_code`, takes the official title, sets the source to
    manual, and counts the reviewer as the last to change the content (a later approval,
    after a reopen, needs someone else). Raises ReviewPermissionDenied, ItemGone,
    AlreadyDecided, FourEyesViolation, InvalidCode (not official, not under the current
    code, or already mapped for this role).
    """
    _require_permission(actor, REVIEW_MAPPING, "refine mappings")
    code = (code or "").strip()
    comment = (comment or "").strip()
    if not re.fullmatch(MAPPING_CODE_RE, code):
        raise InvalidCode(f"{code!r} is not a SOC code: use NN-NNNN (SOC 2018) or NN-NNNN.NN (O*NET-SOC).")
    with transaction.atomic():
        locked = _lock_mapping(mapping)
        _require_move(locked, MAPPING.APPROVED, "refine")
        _require_four_eyes(actor, locked)
        target = (
            OccupationCode.objects.filter(scheme=ClassificationMapping.reference_scheme(code), code=code)
            .values_list("pk", flat=True)
            .first()
        )
        if target is None:
            raise InvalidCode(f"{code} is not in the SOC 2018 / O*NET-SOC 2019 reference: pick a listed code.")
        chain = occupation_ancestors(target)
        occupation = chain[0]
        if locked.occupation is not None:
            if locked.occupation.pk not in {o.pk for o in chain[1:]}:
                raise InvalidCode(
                    f"{code} {occupation.title} is not under {locked.code}: refine to a more specific "
                    f"code within {locked.code}, or reject this mapping and add a new one."
                )
        elif code[:2] != locked.code[:2]:
            raise InvalidCode(f"{code} is outside the major group {locked.code[:2]}-0000 of {locked.code}.")
        duplicate = (
            ClassificationMapping.objects.filter(role_id=locked.role_id, scheme=locked.scheme, code=code)
            .exclude(pk=locked.pk)
            .exists()
        )
        if duplicate:
            raise InvalidCode(f"This role already has a mapping to {code}: review that one and reject this mapping.")
        from_status, now, old_code = locked.status, timezone.now(), locked.code
        locked.previous_code, locked.code, locked.occupation = old_code, code, occupation
        locked.title = occupation.title
        locked.source = ClassificationMapping.Source.MANUAL
        locked.content_changed_by, locked.content_changed_at = actor, now
        locked.status, locked.reviewed_by, locked.reviewed_at = MAPPING.APPROVED, actor, now
        fields = [
            "previous_code",
            "code",
            "occupation",
            "title",
            "source",
            "content_changed_by",
            "content_changed_at",
            *MAPPING_REVIEW_FIELDS,
        ]
        _record(
            locked,
            actor=actor,
            kind=Decision.Kind.REFINE,
            verb=f"refined {old_code} → {code}",
            text=comment,
            fields=fields,
            from_status=from_status,
            now=now,
            old_code=old_code,
            new_code=code,
        )
    _copy_back(mapping, locked, fields)
    return locked
