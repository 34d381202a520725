"""Writes to roles and their parts. Every function records who acted and why in the history.

Review decisions (approve, reject, refine) live in review.services; here are the curators'
edits. A change to an alias's or mapping's content sends it back to review.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Model

from framework.audit import MissingReason, StaleEdit, acting_as, require_reason, save_with_reason
from taxonomy.models import OccupationCode

from . import workflow
from .models import Assignment, ClassificationMapping, Component, Role, TitleAlias

__all__ = ["MissingReason", "StaleEdit", "delete_item", "link_occupation", "save_alias", "save_assignment",
           "save_component", "save_mapping", "save_role", "save_tracked"]

# Saving unless unchanged, as the actor, with the reason: shared with the taxonomy services.
save_tracked = save_with_reason


@transaction.atomic
def save_role(*, role: Role, actor: Any, reason: str, expected_version: int | None = None) -> Role:
    """Create or update a role (already validated) as `actor`; a no-op save writes nothing.

    Raises MissingReason without a reason, StaleEdit when the role changed since it was loaded
    (or since `expected_version`, the version an edit form was opened on).
    """
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


@transaction.atomic
def delete_item(*, item: Model, actor: Any, reason: str) -> None:
    """Delete a role, component, alias or mapping as `actor`; the history keeps a '-' row.

    Raises MissingReason without a reason.
    """
    reason = require_reason(reason, "the deletion")
    with acting_as(actor, reason):
        item.delete()
