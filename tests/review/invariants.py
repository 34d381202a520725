"""Invariants of review integrity, checked after races, hypothesis steps and the load test."""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path

from django.conf import settings

from publishing.releases import write_release_files
from roles import derived
from roles.models import ClassificationMapping, Decision, DecisionKind, TitleAlias
from roles.workflow import is_approval

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


def _ids(text: str | None) -> set[int]:
    return {int(pk) for pk in (text or "").split(",") if pk}


def history_problems() -> list[str]:
    """Per item: one Decision per status change in its history, in the same order; authors never shrink;
    no approval by one of the item's authors at the time of the move.

    A creation row with a status other than open counts as a move (an imported claim). The authors
    a move is checked against are the row's before it (the creation row's own for a new item),
    plus the creator: a refiner becomes an author by the move itself, not before it.
    """
    problems = []
    allow_self = settings.REVIEW_ALLOW_SELF_APPROVAL
    for model, field in MODELS:
        made: dict[int, list[Decision]] = defaultdict(list)
        for decision in Decision.objects.filter(**{f"{field}__isnull": False}).order_by("created_at", "pk"):
            made[getattr(decision, f"{field}_id")].append(decision)
        rows: dict[int, list] = defaultdict(list)
        for row in model.history.order_by("history_id"):
            rows[row.id].append(row)
        for item in model.objects.all():
            moves: list[tuple[str, str, set[int]]] = []
            previous = None
            for row in rows.get(item.pk, []):
                authors = _ids(row.content_editors)
                if previous is None:
                    if row.status != item.OPEN:
                        moves.append((item.OPEN, row.status, authors | {row.created_by_id}))
                else:
                    before = _ids(previous.content_editors)
                    if not before <= authors:
                        problems.append(f"{item}: authors shrank from {sorted(before)} to {sorted(authors)} "
                                        f"(history {row.history_id})")
                    if row.status != previous.status:
                        moves.append((previous.status, row.status, before | {previous.created_by_id}))
                previous = row
            if previous is not None and not _ids(previous.content_editors) <= item.author_ids():
                problems.append(f"{item}: its authors {sorted(item.author_ids())} lost some of its history's")
            decisions = made.get(item.pk, [])
            if [(f, t) for f, t, _a in moves] != [(d.from_status, d.to_status) for d in decisions]:
                problems.append(
                    f"{item}: history moves {[(f, t) for f, t, _a in moves]} but Decisions "
                    f"{[(d.decision, d.from_status, d.to_status) for d in decisions]}"
                )
                continue
            for (_f, _t, authors), decision in zip(moves, decisions, strict=True):
                if allow_self or not is_approval(decision.decision, decision.to_status):
                    continue
                if decision.actor_id in authors:
                    problems.append(f"{item}: {decision.decision} by user {decision.actor_id}, one of its "
                                    f"authors {sorted(authors - {None})} at the time")
            latest = decisions[-1] if decisions else None
            if (not allow_self and latest is not None and item.status == "approved"
                    and latest.decision in (DecisionKind.APPROVE, DecisionKind.IMPORTED)
                    and latest.actor_id in item.author_ids() | {item.created_by_id}):
                problems.append(f"{item}: approved by user {latest.actor_id}, one of its authors now")
    return problems


def derived_problems() -> list[str]:
    """The stored derived rows equal a full recompute (`roles.derived.differences()`)."""
    return derived.differences()
