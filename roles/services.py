"""Writes to roles and their parts. Every function records who acted and why in the history.

Review decisions (approve, reject, refine) live in review.services; here are the curators'
edits. A change to an alias's or mapping's content sends it back to review.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model, Q

from framework.audit import MissingReason, StaleEdit, acting_as, ensure_current, require_reason, save_with_reason
from taxonomy.models import OccupationCode

from . import selectors, workflow
from .models import Assignment, ClassificationMapping, Component, Deprecation, Publication, Reviewable, Role, TitleAlias
from .workflow import deprecation as deprecations
from .workflow.deprecation import DeprecationRefused

__all__ = ["DeprecationRefused", "MissingReason", "NothingToRestore", "ObjectDeleted",
    "PublishedItemProtected", "RestoreRefused", "StaleEdit", "VersionNotFound", "decide_deprecation",
    "delete_item", "link_occupation", "propose_deprecation", "record_publication", "restorable_fields",
    "restore_preview", "restore_version", "save_alias", "save_assignment", "save_component", "save_mapping",
    "save_role", "save_tracked", "version_number"]

# Saving unless unchanged, as the actor, with the reason: shared with the taxonomy services.
save_tracked = save_with_reason


@transaction.atomic
def save_role(*, role: Role, actor: Any, reason: str, expected_version: int | None = None) -> Role:
    """Create or update a role (already validated) as `actor`; a no-op save writes nothing.

    Raises MissingReason without a reason, StaleEdit when the role changed since it was loaded
    (or since `expected_version`, the version an edit form was opened on), IllegalTransition when
    the deprecation fields were set by hand (only an approved Deprecation sets them).
    """
    if fields := set(DEPRECATION_FIELDS) & set(role.changed_fields() if role.pk else ()):
        raise workflow.IllegalTransition(
            f"{', '.join(sorted(fields))} change only through review: propose a deprecation (Deprecate…)."
        )
    save_tracked(role, actor=actor, reason=reason, expected_version=expected_version)
    return role


@transaction.atomic
def save_assignment(
    *, assignment: Assignment, actor: Any, reason: str, expected_version: int | None = None
) -> Assignment:
    """Create or change a reviewer's or a group's assignment (already validated) as `actor`, with history."""
    save_with_reason(assignment, actor=actor, reason=reason, expected_version=expected_version)
    return assignment


def save_component(
    *, component: Component, actor: Any, reason: str, expected_version: int | None = None
) -> Component:
    """Create or update a component as `actor`; raises MissingReason, StaleEdit."""
    save_tracked(component, actor=actor, reason=reason, expected_version=expected_version)
    return component


@transaction.atomic
def save_alias(*, alias: TitleAlias, actor: Any, reason: str, expected_version: int | None = None) -> TitleAlias:
    """Create or update an alias as `actor`.

    New aliases start pending, created by the actor. Changing any content field (role, text,
    type, confidence, source) of a decided alias returns it to pending with a "returned"
    Decision, and the actor may not approve it until someone else has. Raises MissingReason,
    StaleEdit, IllegalTransition (a review field was set by hand).
    """
    workflow.save_content(alias, actor=actor, reason=reason, expected_version=expected_version)
    return alias


def link_occupation(mapping: ClassificationMapping) -> None:
    """Point `mapping.occupation` at the official code it names, or at nothing if it is unknown."""
    mapping.occupation = OccupationCode.objects.filter(
        scheme=ClassificationMapping.reference_scheme(mapping.code), code=mapping.code
    ).first()


@transaction.atomic
def save_mapping(
    *, mapping: ClassificationMapping, actor: Any, reason: str, expected_version: int | None = None
) -> ClassificationMapping:
    """Create or update a classification mapping as `actor`.

    The code is linked to the official reference when it exists there (an unknown code stays
    unlinked and is flagged in the admin). Changing any content field (role, code, title,
    source) of a decided mapping sends it back to needs_review. Raises MissingReason, StaleEdit,
    IllegalTransition (a review field was set by hand).
    """
    if mapping.pk is None or "code" in mapping.changed_fields():
        link_occupation(mapping)
    workflow.save_content(mapping, actor=actor, reason=reason, expected_version=expected_version)
    return mapping


class PublishedItemProtected(Exception):
    """A role, alias or mapping that was ever published is deprecated through review, never deleted."""

    def __init__(self, item: Model) -> None:
        self.item = item
        super().__init__(
            f"{type(item)._meta.verbose_name.capitalize()} “{item}” was published in a release: it cannot be "
            "deleted. Propose to deprecate it instead (Deprecate…), with what replaces it."
        )


def guard_published(items: list[Model]) -> None:
    """Raise PublishedItemProtected for the first of `items` (roles, aliases, mappings) ever published."""
    published = selectors.published_among(items)
    if published:
        raise PublishedItemProtected(published[0])


@transaction.atomic
def delete_item(*, item: Model, actor: Any, reason: str) -> None:
    """Delete a role, component, alias or mapping as `actor`; the history keeps a '-' row.

    Raises MissingReason without a reason, PublishedItemProtected for an item that was ever
    published (a role's aliases and mappings included): those are deprecated, never deleted.
    """
    reason = require_reason(reason, "the deletion")
    guard_published([item])
    with acting_as(actor, reason):
        item.delete()


def record_publication(version: str, items: dict[str, list[int]]) -> int:
    """Record that the items ({"role"|"alias"|"mapping": [pk, …]}) are in release `version`; return how many were new.

    Publishing calls it before the release is placed: a crash afterwards can only protect an item
    too early, never leave a published one deletable. Items recorded before keep their first release.
    """
    rows = [Publication(item_type=kind, item_id=pk, first_release=version) for kind, pks in items.items() for pk in pks]
    before = Publication.objects.count()
    with transaction.atomic():
        Publication.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return Publication.objects.count() - before


def propose_deprecation(*, item: Model, actor: Any, reason: str, replaced_by: Model | None = None) -> Deprecation:
    """Propose deprecating a role, alias or mapping (roles.workflow.deprecation.propose)."""
    return deprecations.propose(item, actor=actor, reason=reason, replaced_by=replaced_by)


def propose_reinstatement(*, item: Model, actor: Any, reason: str) -> Deprecation:
    """Propose undoing a deprecation (roles.workflow.deprecation.propose_reinstatement)."""
    return deprecations.propose_reinstatement(item, actor=actor, reason=reason)


def propose_merge(*, source: Role, target: Role, actor: Any, reason: str) -> Deprecation:
    """Propose merging role `source` into `target` (roles.workflow.deprecation.propose_merge)."""
    return deprecations.propose_merge(source, target, actor=actor, reason=reason)


def propose_split(*, source: Role, targets: list[Role], assignments: dict[str, dict[int, int]], actor: Any,
                  reason: str) -> Deprecation:
    """Propose splitting role `source` into `targets` (roles.workflow.deprecation.propose_split)."""
    return deprecations.propose_split(source, targets, assignments, actor=actor, reason=reason)


def decide_deprecation(
    *, proposal: Deprecation, kind: str, actor: Any, reason: str = "", expected_version: int | None = None
) -> Deprecation:
    """Approve (deprecating the item) or reject a deprecation proposal (roles.workflow.deprecation.decide)."""
    return deprecations.decide(proposal, kind=kind, actor=actor, reason=reason, expected_version=expected_version)


# ---------------------------------------------------------------------------------------------
# Restoring an old version from the history: an ordinary content change, through the services above


class RestoreRefused(ValueError):
    """A restore that cannot be made as asked; the message says why, naming the field."""


class VersionNotFound(RestoreRefused):
    """The history row does not exist, or belongs to another object."""


class ObjectDeleted(RestoreRefused):
    """The object was deleted: there is nothing left to restore the version into."""


class NothingToRestore(RestoreRefused):
    """The version holds the same content as the object has now."""


# The models a curator may restore, with the service that saves each (and the keyword it takes).
RESTORE_SERVICES = {
    Role: ("role", save_role),
    Component: ("component", save_component),
    TitleAlias: ("alias", save_alias),
    ClassificationMapping: ("mapping", save_mapping),
}
# Content a restore does not write: a mapping's official occupation follows its code (save_mapping links it).
FOLLOWS_OTHER_CONTENT = frozenset({"occupation"})


def restorable_fields(model: type[Model]) -> tuple[str, ...]:
    """The content fields a restore of `model` writes, never review state or the version counter.

    An alias's or a mapping's are its CONTENT_FIELDS (less the occupation, which follows the code);
    a role and a component have no review state, so all their fields but the key, `version` and a
    role's deprecation (which only an approved Deprecation sets or clears).
    """
    if issubclass(model, Reviewable):
        return tuple(name for name in model.CONTENT_FIELDS if name not in FOLLOWS_OTHER_CONTENT)
    return tuple(
        f.name for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in ("version", *DEPRECATION_FIELDS)
        and f.name not in Reviewable.REVIEW_STATE_FIELDS
    )


# Written only by roles.workflow.deprecation: never by an edit, an import or a restore.
DEPRECATION_FIELDS = ("deprecated", "replaced_by")


@dataclass(frozen=True)
class FieldChange:
    """One content field a restore changes: its value now and in the version, as a person reads them."""

    name: str
    label: str
    current: str
    restored: str
    value: Any = field(repr=False, default=None)
    # The version's value is a key to a row that no longer exists (a deleted role, node or level).
    gone: bool = False


@dataclass
class RestorePlan:
    """Restoring one history row: the version's number and the fields that differ from the object now.

    A preview's `problem` says why the restore would be refused; a restore made says whether it sent
    a decided alias or mapping back to review (`reopened`).
    """

    item: Model
    record: Model
    number: int
    changes: list[FieldChange]
    problem: str = ""
    reopened: bool = False


def version_number(record: Model) -> int:
    """The position of history row `record` in its object's history, oldest first (1 = its first version).

    Rows are counted in the order the admin's history page lists them (by date, then by history id);
    every row counts, decisions' rows included. One query.
    """
    pk_name = record.instance_type._meta.pk.attname
    earlier = Q(history_date__lt=record.history_date) | Q(history_date=record.history_date,
                                                          history_id__lt=record.history_id)
    return type(record)._default_manager.filter(earlier, **{pk_name: getattr(record, pk_name)}).count() + 1


def _history_row(model: type[Model], object_id: int, history_id: int) -> Model:
    """The history row `history_id` of the object `object_id`; raises VersionNotFound, RestoreRefused."""
    if model not in RESTORE_SERVICES:
        raise VersionNotFound(f"{model._meta.verbose_name_plural.capitalize()} cannot be restored from history.")
    record = model.history.filter(**{model._meta.pk.attname: object_id, "history_id": history_id}).first()
    if record is None:
        raise VersionNotFound(f"This {model._meta.verbose_name} has no version {history_id} in its history.")
    return record


def _current(model: type[Model], object_id: int, record: Model) -> Model:
    """The object as it is now; raises ObjectDeleted when it is gone."""
    item = model._default_manager.filter(pk=object_id).first()
    if item is None or record.history_type == "-":
        raise ObjectDeleted(
            f"This {model._meta.verbose_name} was deleted: a deleted {model._meta.verbose_name} cannot be "
            "restored from its history."
        )
    return item


def _shown(model_field, value: Any) -> str:
    """A field's value as the preview prints it: the related row's name, the choice's label, list items."""
    if value is None or value == "":
        return "—"
    if model_field.is_relation:
        related = model_field.related_model._default_manager.filter(pk=value).first()
        return str(related) if related is not None else f"#{value} (no longer exists)"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, list):
        return " · ".join(str(v) for v in value) or "—"
    return str(value)


def _changes(item: Model, record: Model) -> list[FieldChange]:
    """The restorable fields whose value in `record` differs from `item`'s, in the model's order."""
    changes = []
    for name in restorable_fields(type(item)):
        model_field = type(item)._meta.get_field(name)
        now, then = getattr(item, model_field.attname), getattr(record, model_field.attname)
        if now == then:
            continue
        gone = (model_field.is_relation and then is not None
                and not model_field.related_model._default_manager.filter(pk=then).exists())
        changes.append(FieldChange(name=name, label=str(model_field.verbose_name), current=_shown(model_field, now),
                                   restored=_shown(model_field, then), value=then, gone=gone))
    return changes


def _validation_text(item: Model, error: ValidationError) -> str:
    """A validation error as one line, each message led by the field it is about."""
    parts = []
    for name, messages in error.message_dict.items():
        for message in messages:
            if name == NON_FIELD_ERRORS:
                parts.append(message)
            else:
                parts.append(f"{type(item)._meta.get_field(name).verbose_name}: {message}")
    return " ".join(parts)


def _problem(item: Model, number: int, changes: list[FieldChange]) -> str:
    """Why `changes` cannot be written onto `item` (checked on a copy), or "" when they can."""
    for change in changes:
        if change.gone:
            return (f"{change.label}: version {number} points to a row that no longer exists "
                    f"({change.restored}). Restore cannot bring it back: edit the {type(item)._meta.verbose_name} "
                    "instead.")
    candidate = copy.copy(item)
    for change in changes:
        setattr(candidate, type(item)._meta.get_field(change.name).attname, change.value)
    try:
        # Field checks, the model's clean() and every unique and check constraint, named by field.
        candidate.full_clean()
    except ValidationError as exc:
        return f"Version {number} cannot be restored: {_validation_text(item, exc)}"
    return ""


def restore_preview(*, model: type[Model], object_id: int, history_id: int) -> RestorePlan:
    """What restoring history row `history_id` of object `object_id` would change; reads only.

    `problem` says why the restore would be refused (a key to a deleted row, a unique clash), and
    an empty `changes` that there is nothing to restore. Raises VersionNotFound, ObjectDeleted.
    """
    record = _history_row(model, object_id, history_id)
    item = _current(model, object_id, record)
    number = version_number(record)
    changes = _changes(item, record)
    return RestorePlan(item=item, record=record, number=number, changes=changes,
                          problem=_problem(item, number, changes) if changes else "")


@transaction.atomic
def restore_version(
    *, model: type[Model], object_id: int, history_id: int, actor: Any, reason: str, expected_version: int | None
) -> RestorePlan:
    """Write the content of history row `history_id` back onto object `object_id`, as `actor`.

    An ordinary content change through the model's save service: the history row says
    "restore of version N: <reason>", `actor` becomes an author, and a decided alias or mapping
    goes back to review. `expected_version` is the object's version the preview showed: any
    change since refuses the restore. Returns what was restored. Raises MissingReason,
    VersionNotFound, ObjectDeleted, StaleEdit, NothingToRestore, RestoreRefused (a key to a
    deleted row, a unique clash, an invalid value, each naming its field), and what the
    services raise (workflow.ReviewError).
    """
    reason = require_reason(reason, "the restore")
    record = _history_row(model, object_id, history_id)
    item = _current(model, object_id, record)
    # Locks the row and checks it is still the version the preview showed.
    ensure_current(item, expected_version)
    number = version_number(record)
    changes = _changes(item, record)
    if not changes:
        raise NothingToRestore(
            f"Version {number} has the same content as the {model._meta.verbose_name} has now: nothing to restore."
        )
    if problem := _problem(item, number, changes):
        raise RestoreRefused(problem)
    was_decided = isinstance(item, Reviewable) and not item.is_open
    for change in changes:
        setattr(item, model._meta.get_field(change.name).attname, change.value)
    name, save = RESTORE_SERVICES[model]
    try:
        # A savepoint: a clash the checks above could not see (a concurrent insert) leaves nothing written.
        with transaction.atomic():
            save(**{name: item}, actor=actor, reason=f"restore of version {number}: {reason}",
                 expected_version=expected_version)
    except IntegrityError as exc:
        raise RestoreRefused(
            f"Version {number} clashes with another {model._meta.verbose_name} ({exc}): nothing was restored."
        ) from exc
    return RestorePlan(item=item, record=record, number=number, changes=changes,
                       reopened=was_decided and item.is_open)
