"""Invariants of review integrity, checked after races, hypothesis steps and the load test."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.conf import settings

from review.releases import write_release_files
from roles.models import ClassificationMapping, Decision, DecisionKind, TitleAlias

MODELS = ((TitleAlias, "alias"), (ClassificationMapping, "mapping"))


def content_of(row, model) -> tuple:
    return tuple(getattr(row, model._meta.get_field(name).attname) for name in model.CONTENT_FIELDS)


def integrity_problems() -> list[str]:
    """Everything wrong with the review states in the database now (an empty list when sound)."""
    problems = []
    for model, field in MODELS:
        latest: dict[int, Decision] = {}
        for decision in Decision.objects.filter(**{f"{field}__isnull": False}).order_by("created_at", "pk"):
            latest[getattr(decision, f"{field}_id")] = decision
        for item in model.objects.all():
            decision = latest.get(item.pk)
            if not item.is_open:
                if decision is None or decision.to_status != item.status:
                    problems.append(f"{item} is {item.status} but its last decision says "
                                    f"{decision.to_status if decision else 'nothing'}")
                    continue
            if item.status == "approved" and decision.decision != DecisionKind.IMPORTED:
                if not settings.REVIEW_ALLOW_SELF_APPROVAL and decision.actor_id == item.created_by_id:
                    problems.append(f"{item} was approved by its creator")
            # History, oldest first: while approved, the content never changes.
            previous = None
            for row in item.history.order_by("history_id"):
                if previous is not None and previous.status == row.status == "approved":
                    if content_of(previous, model) != content_of(row, model):
                        problems.append(f"{item}: content changed while approved (history {row.history_id})")
                previous = row
    return problems


def editors_problems(approvals: list[tuple[str, int, int, set[int]]]) -> list[str]:
    """For (label, item pk, decider pk, content editors since the previous decision): the decider is none."""
    return [f"{label} {pk} approved by one of its editors" for label, pk, decider, editors in approvals
            if decider in editors]


def release_problems() -> list[str]:
    """The release holds exactly the approved aliases and mappings."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        write_release_files(Path(tmp))
        for model, filename in ((TitleAlias, "06_title_aliases.json"), (ClassificationMapping,
                                                                          "07_classification_mappings.json")):
            path = Path(tmp) / filename
            keys = set()
            if path.exists():
                for obj in json.loads(path.read_text("utf-8")):
                    fields = obj["fields"]
                    keys.add((fields["role"][0], fields["alias"] if model is TitleAlias else fields["code"]))
            approved = {
                (item.role.code, item.alias if model is TitleAlias else item.code)
                for item in model.objects.approved().select_related("role")
            }
            if keys != approved:
                problems.append(f"{filename}: release holds {sorted(keys ^ approved)[:5]} wrongly")
    return problems
