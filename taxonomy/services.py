"""Writes to levels and taxonomy nodes: audited, and no-op saves leave no history."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.db import transaction

from framework.audit import save_with_reason

from .models import Level, ReferenceTitle, TaxonomyNode
from .signals import reference_titles_loaded

REFERENCE_TITLE_FILES = (
    ("onet_alternate_titles.csv", ReferenceTitle.Source.ONET_ALTERNATE),
    ("soc2018_direct_match_titles.csv", ReferenceTitle.Source.BLS_DIRECT_MATCH),
)


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


@transaction.atomic
def load_reference_titles(directory: Path) -> int:
    """Replace the ReferenceTitle rows with the official titles in `directory`; return how many.

    Reference data read from files (like the coder's index), not curated data: no history.
    A title listed twice under one code by one source is kept once. Raises FileNotFoundError
    when a file is missing.
    """
    rows: dict[tuple[str, str, str], ReferenceTitle] = {}
    for name, source in REFERENCE_TITLE_FILES:
        with (Path(directory) / name).open(encoding="utf-8", newline="") as stream:
            for record in csv.DictReader(stream):
                title = " ".join((record.get("title") or "").split())
                soc = (record.get("soc_code") or "").strip()
                if not title or not soc:
                    continue
                key = (title.lower(), soc, source)
                rows.setdefault(key, ReferenceTitle(
                    title=title[:300], title_lower=title.lower()[:300], soc_code=soc,
                    onet_code=(record.get("onet_code") or "").strip(), source=source,
                ))
    ReferenceTitle.objects.all().delete()
    ReferenceTitle.objects.bulk_create(rows.values(), batch_size=2000)
    # Whatever reads these titles (the roles app's alias flags) recomputes.
    reference_titles_loaded.send(sender=ReferenceTitle, count=len(rows))
    return len(rows)
