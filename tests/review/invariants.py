"""Invariants of review integrity, checked after races, hypothesis steps and the load test."""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from publishing.releases import write_release_files
from roles import derived
from roles.models import (
    BLIND_KINDS,
    LEAD_REVIEW,
    ClassificationMapping,
    Decision,
    DecisionKind,
    Deprecation,
    Publication,
    Role,
    Sample,
    TitleAlias,
)
from roles.workflow import is_approval
from roles.workflow.samples import verdict_label

MODELS = ((TitleAlias, "alias"), (ClassificationMapping, "mapping"), (Deprecation, "deprecation"))


def content_of(row, model) -> tuple:
    return tuple(getattr(row, model._meta.get_field(name).attname) for name in model.CONTENT_FIELDS)


def restructure_moves() -> set[tuple[int, int]]:
    """(old role, new role) pairs an approved merge or split moved items along, between roles of one level.

    The one content change an approved alias may undergo: its approval stands when it moves with
    its role's merge or split to a role at the same level (roles.workflow.restructure).
    """
    pairs = set()
    for proposal in Deprecation.objects.filter(status="approved", kind__in=["merge", "split"]).select_related(
            "role", "replaced_by_role"):
        targets = [proposal.replaced_by_role] if proposal.kind == "merge" else list(proposal.role.split_into.all())
        pairs |= {(proposal.role_id, t.pk) for t in targets if t.level_id == proposal.role.level_id}
    return pairs


def integrity_problems() -> list[str]:
    """Everything wrong with the review states in the database now (an empty list when sound)."""
    problems = []
    moved_with_role = restructure_moves()
    for model, field in MODELS:
        latest: dict[int, Decision] = {}
        # Blind reviews in a sample move nothing: the moves are the other decisions.
        moves = Decision.objects.exclude(decision__in=BLIND_KINDS)
        for decision in moves.filter(**{f"{field}__isnull": False}).order_by("created_at", "pk"):
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
                    before, after = content_of(previous, model), content_of(row, model)
                    if model is TitleAlias and before[1:] == after[1:] and (before[0], after[0]) in moved_with_role:
                        pass  # moved with its role's approved merge or split, to the same level
                    elif before != after:
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
        moving = Decision.objects.exclude(decision__in=BLIND_KINDS)
        for decision in moving.filter(**{f"{field}__isnull": False}).order_by("created_at", "pk"):
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


def sample_problems() -> list[str]:
    """Double-blind samples: open ones hold open items; two different, independent reviewers; the
    outcome follows the two reviews (agreement settles, disagreement waits for a lead who was
    neither); every step is a Decision; open reviews are hidden from other reviewers."""
    problems = []
    samples = Sample.objects.select_related("alias", "mapping", "first_by", "second_by", "settled_by")
    for sample in samples:
        item = sample.item
        steps = list(sample.decisions.order_by("created_at", "pk"))
        kinds = [d.decision for d in steps]
        reviews = [d for d in steps if d.verdict]
        name = f"sample {sample.pk} of {item}"
        if kinds[:2] != [DecisionKind.DRAWN, DecisionKind.VOTE] or steps[1].actor_id != sample.first_by_id:
            problems.append(f"{name}: starts with {kinds}, not a draw and the first reviewer's blind review")
            continue
        live = sample.is_open and sample.item_version == item.version
        if live and not item.is_open:
            problems.append(f"{name}: {sample.state} but the item is {item.status}")
        if live:
            authors = item.author_ids() | {item.created_by_id}
            for who in (sample.first_by_id, sample.second_by_id):
                if who is not None and who in authors and not settings.REVIEW_ALLOW_SELF_APPROVAL:
                    problems.append(f"{name}: reviewer {who} is one of the item's authors")
        if sample.second_by_id is not None and sample.second_by_id == sample.first_by_id:
            problems.append(f"{name}: both reviews by user {sample.first_by_id}")
        if sample.state == "awaiting" and len(reviews) != 1:
            problems.append(f"{name}: awaiting, with {len(reviews)} reviews")
        if sample.state in ("agreed", "disputed", "adjudicated"):
            if len(reviews) < 2 or reviews[1].actor_id != sample.second_by_id:
                problems.append(f"{name}: {sample.state} without a second review by its second reviewer")
                continue
            same = verdict_label(reviews[0]) == verdict_label(reviews[1])
            if same != (sample.state == "agreed"):
                problems.append(f"{name}: {sample.state}, but the two reviews {'agree' if same else 'differ'}")
        if sample.state == "agreed" and (reviews[1].decision == DecisionKind.VOTE
                                         or sample.settled_by_id != sample.second_by_id):
            problems.append(f"{name}: agreed, but the second review did not settle the item")
        if sample.state == "disputed" and len(reviews) != 2:
            problems.append(f"{name}: disputed with {len(reviews)} reviews")
        if sample.state == "adjudicated":
            settling = reviews[-1] if len(reviews) == 3 else None
            if settling is None or settling.decision == DecisionKind.VOTE:
                problems.append(f"{name}: adjudicated without a settling decision")
            elif (settling.actor_id in (sample.first_by_id, sample.second_by_id)
                  or not settling.actor.has_perm(LEAD_REVIEW) or settling.actor_id != sample.settled_by_id):
                problems.append(f"{name}: settled by user {settling.actor_id}, not another lead")
        if sample.state == "awaiting":
            # Blind: nobody but the first reviewer sees the draw or the first review, leads included.
            for user in get_user_model().objects.exclude(pk=sample.first_by_id):
                if Decision.objects.visible_to(user).filter(sample=sample).exists():
                    problems.append(f"{name}: {user} sees the first, blind review")
        if sample.state == "disputed":
            for decision in steps[1:]:
                reviewer = sample.second_by if decision.actor_id == sample.first_by_id else sample.first_by
                if not reviewer.has_perm(LEAD_REVIEW) and Decision.objects.visible_to(reviewer).filter(
                        pk=decision.pk).exists():
                    problems.append(f"{name}: {reviewer} sees the other blind review before a lead settles it")
    return problems


def derived_problems() -> list[str]:
    """The stored derived rows equal a full recompute (`roles.derived.differences()`)."""
    return derived.differences()


def deprecation_problems() -> list[str]:
    """Deprecated exactly when the item's last approved proposal deprecated it (approved deprecations and
    reinstatements alternate), with that proposal's replacement; published items all kept."""
    problems = []
    approved = Deprecation.objects.filter(status=Deprecation.Status.APPROVED).order_by("decided_at", "pk")
    reinstate = Deprecation.Kind.REINSTATE
    for model, field in ((Role, "role"), (TitleAlias, "alias"), (ClassificationMapping, "mapping")):
        flagged = set(model.objects.filter(deprecated=True).values_list("pk", flat=True))
        last: dict[int, Deprecation] = {}
        for proposal in approved.filter(**{f"{field}__isnull": False}):
            item_id = getattr(proposal, f"{field}_id")
            before = last.get(item_id)
            if (proposal.kind == reinstate) == (before is None or before.kind == reinstate):
                problems.append(f"{proposal}: approved after {before or 'nothing'}: deprecations and "
                                "reinstatements must alternate")
            last[item_id] = proposal
        behind = {pk for pk, proposal in last.items() if proposal.kind != reinstate}
        if flagged != behind:
            problems.append(f"{field}: deprecated {sorted(flagged)} but last approved deprecations of {sorted(behind)}")
        for item_id, proposal in last.items() if field != "mapping" else ():  # a mapping has no replacement
            item = model.objects.get(pk=item_id)
            expected = None if proposal.kind == reinstate else (
                proposal.replaced_by_role_id if field == "role" else proposal.replaced_by_alias_id)
            if item.replaced_by_id != expected:
                problems.append(f"{proposal}: the {field} is replaced by {item.replaced_by_id}, expected {expected}")
    if Decision.objects.filter(deprecation__status=Deprecation.Status.PROPOSED).exists():
        problems.append("an open deprecation proposal has a Decision")
    models = {"role": Role, "alias": TitleAlias, "mapping": ClassificationMapping}
    for kind, model in models.items():
        published = set(Publication.objects.filter(item_type=kind).values_list("item_id", flat=True))
        gone = published - set(model.objects.filter(pk__in=published).values_list("pk", flat=True))
        if gone:
            problems.append(f"published {kind}s {sorted(gone)} were deleted")
    return problems
