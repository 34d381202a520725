"""Writes to roles and their parts. Every function records who acted and why in the history.

Review decisions (approve, reject, refine) live in review.services; here are the curators'
edits. A change to an alias's or mapping's content sends it back to review.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from framework.audit import MissingReason, acting_as, save_with_reason
from taxonomy.models import OccupationCode

from .models import ClassificationMapping, Component, Role, TitleAlias

# Saving unless unchanged, as the actor, with the reason: shared with the taxonomy services.
save_tracked = save_with_reason


@transaction.atomic
def save_role(*, role: Role, actor: Any, reason: str) -> Role:
    """Create or update a role (already validated) as `actor`; a no-op save writes nothing.

    Raises MissingReason without a reason.
    """
    save_tracked(role, actor=actor, reason=reason)
    return role


@transaction.atomic
def save_component(*, component: Component, actor: Any, reason: str) -> Component:
    """Create or update a component as `actor`; raises MissingReason without a reason."""
    save_tracked(component, actor=actor, reason=reason)
    return component


def mark_content_change(item: TitleAlias | ClassificationMapping, *, actor: Any, pending: str) -> None:
    """Record who changed the item's content and send a decided item back to review."""
    now = timezone.now()
    if item.pk is None:
        item.created_by = actor
        return
    changed = set(item.changed_fields())
    if not changed.intersection(item.CONTENT_FIELDS):
        return
    item.content_changed_by = actor
    item.content_changed_at = now
    if item.status != pending:
        item.status = pending
        if isinstance(item, TitleAlias):
            item.approved_by = None
            item.approved_at = None
        else:
            item.reviewed_by = None
            item.reviewed_at = None


@transaction.atomic
def save_alias(*, alias: TitleAlias, actor: Any, reason: str) -> TitleAlias:
    """Create or update an alias as `actor`.

    New aliases start pending and remember their creator. Changing the text, type or
    confidence of a decided alias returns it to pending, so a reviewer sees it again.
    Raises MissingReason without a reason.
    """
    mark_content_change(alias, actor=actor, pending=TitleAlias.Status.PENDING)
    save_tracked(alias, actor=actor, reason=reason)
    return alias


def link_occupation(mapping: ClassificationMapping) -> None:
    """Point `mapping.occupation` at the official code it names, or at nothing if it is unknown."""
    mapping.occupation = OccupationCode.objects.filter(
        scheme=ClassificationMapping.reference_scheme(mapping.code), code=mapping.code
    ).first()


@transaction.atomic
def save_mapping(*, mapping: ClassificationMapping, actor: Any, reason: str) -> ClassificationMapping:
    """Create or update a classification mapping as `actor`.

    The code is linked to the official reference when it exists there (an unknown code stays
    unlinked and is flagged in the admin). Changing the code of a decided mapping sends it
    back to needs_review. Raises MissingReason without a reason.
    """
    if mapping.pk is None or "code" in mapping.changed_fields():
        link_occupation(mapping)
    mark_content_change(mapping, actor=actor, pending=ClassificationMapping.Status.NEEDS_REVIEW)
    save_tracked(mapping, actor=actor, reason=reason)
    return mapping


@transaction.atomic
def delete_item(*, item: Model, actor: Any, reason: str) -> None:
    """Delete a role, component, alias or mapping as `actor`; the history keeps a '-' row.

    Raises MissingReason without a reason.
    """
    if not reason or not reason.strip():
        raise MissingReason("Give a reason for the deletion: it goes into the audit history.")
    with acting_as(actor, reason.strip()):
        item.delete()
