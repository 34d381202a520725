"""Writes to levels and taxonomy nodes: audited, and no-op saves leave no history."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from framework.audit import save_with_reason

from .models import Level, TaxonomyNode


@transaction.atomic
def save_level(*, level: Level, actor: Any, reason: str, expected_version: int | None = None) -> Level:
    """Create or update a level (already validated) as `actor`.

    Raises MissingReason without a reason, StaleEdit when the level changed since it was loaded
    (or since `expected_version`).
    """
    save_with_reason(level, actor=actor, reason=reason, expected_version=expected_version)
    return level


@transaction.atomic
def save_node(*, node: TaxonomyNode, actor: Any, reason: str, expected_version: int | None = None) -> TaxonomyNode:
    """Create or update a taxonomy node (already validated) as `actor`; raises MissingReason, StaleEdit."""
    save_with_reason(node, actor=actor, reason=reason, expected_version=expected_version)
    return node
