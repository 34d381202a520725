"""The review state machine (roles.workflow), tested from its tables: every (from, to, kind).

Allowed moves leave the new state, a history row and a Decision; everything else raises and
writes nothing. The permission each kind needs, four-eyes and the reason rule are checked in
the machine itself, so no caller can skip them.
"""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from roles import derived, workflow
from roles.models import ClassificationMapping, Decision, DecisionKind, TitleAlias
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db

KINDS = list(DecisionKind.values)


def _item(model, creator):
    if model is TitleAlias:
        return TitleAliasFactory(role=RoleFactory(), created_by=creator)
    return ClassificationMappingFactory(role=RoleFactory(), occupation=soc("15-2051"), created_by=creator)


def _put_in(item, status, actor):
    """Bring `item` to `status` through the review core's batch path (an imported decision)."""
    if status == item.OPEN:
        return
    move(item, status, actor=actor, kind=DecisionKind.IMPORTED, reason="set up")


def move(item, target, *, actor, kind, reason="try"):
    """Make any move of the table through the review core's batch path: prepare, then persist."""
    with transaction.atomic():
        locked = type(item).objects.select_for_update().get(pk=item.pk)
        decision = workflow.prepare_move(locked, target, actor=actor, kind=kind, reason=reason)
        workflow.persist(actor=actor, reason=f"test: {kind}", decisions=[decision],
                         updates={type(item): ([locked], locked.REVIEW_STATE_FIELDS)})
    item.refresh_from_db()
    return decision


CASES = [
    (model, origin, target, kind)
    for model in (TitleAlias, ClassificationMapping)
    for origin, target in itertools.permutations(model.Status.values, 2)
    for kind in KINDS
]


@pytest.mark.parametrize("model, origin, target, kind", CASES)
def test_every_move_of_the_table(model, origin, target, kind, make_user, reference_soc):
    creator, operator = make_user("curator"), make_user("importer")
    item = _item(model, creator)
    _put_in(item, origin, operator)
    actor = make_user("importer")
    history, decisions = item.history.count(), Decision.objects.count()
    allowed = kind in model.TRANSITIONS.get((origin, target), ())
    if not allowed:
        with pytest.raises(workflow.IllegalTransition):
            move(item, target, actor=actor, kind=kind)
        item.refresh_from_db()
        assert item.status == origin
        assert (item.history.count(), Decision.objects.count()) == (history, decisions)
        return
    if kind in (DecisionKind.REFINE, DecisionKind.REPLACE):
        # Allowed by the table; the codes they need are tested with the mapping decisions.
        workflow.check_move(item, target, actor=actor, kind=kind)
        return
    decision = move(item, target, actor=actor, kind=kind)
    assert item.status == target == decision.to_status and decision.from_status == origin
    assert (decision.decision, decision.actor) == (kind, actor)
    assert item.history.count() == history + 1 and item.history.first().history_user == actor
    if target == item.OPEN:
        assert item.decided_by is None and item.decided_at is None
    else:
        assert item.decided_by == actor and item.decided_at is not None


def test_the_table_has_no_move_between_two_decided_states():
    for model in (TitleAlias, ClassificationMapping):
        for origin, target in model.TRANSITIONS:
            assert model.OPEN in (origin, target), (model, origin, target)


@pytest.mark.parametrize(
    "kind, holder",
    [
        (DecisionKind.APPROVE, "reviewer"),
        (DecisionKind.REJECT, "reviewer"),
        (DecisionKind.IMPORTED, "importer"),  # an explicit grant: the system account, or one given it
    ],
)
def test_each_kind_needs_its_permission(kind, holder, make_user):
    alias = _item(TitleAlias, make_user("curator"))
    target = "approved" if kind != DecisionKind.REJECT else "rejected"
    for kind_of_user in ("curator", "reviewer", "superuser"):
        user = make_user(kind_of_user)
        if kind_of_user == holder or (kind_of_user == "superuser" and kind != DecisionKind.IMPORTED):
            continue
        with pytest.raises(workflow.ReviewPermissionDenied, match="needs the permission"):
            move(alias, target, actor=user, kind=kind)
    with pytest.raises(workflow.ReviewPermissionDenied):
        move(alias, target, actor=None, kind=kind)


def test_the_system_account_may_import_decisions_and_nobody_else_by_default(make_user):
    from framework.audit import get_system_user

    assert workflow.may_move(get_system_user(), TitleAlias, DecisionKind.IMPORTED)
    for kind in ("curator", "reviewer", "superuser"):
        assert not workflow.may_move(make_user(kind), TitleAlias, DecisionKind.IMPORTED), kind
    assert workflow.may_move(make_user("importer"), TitleAlias, DecisionKind.IMPORTED)


def test_authors_are_everyone_who_wrote_the_content_and_are_never_forgotten(make_user):
    a, b, reviewer = make_user("reviewer"), make_user("reviewer"), make_user("reviewer")
    creator = make_user("curator")
    alias = _item(TitleAlias, creator)
    workflow.note_content_change(alias, actor=a, reason="text")
    workflow.note_content_change(alias, actor=b, reason="confidence")
    alias.save()
    assert {a.pk, b.pk} <= alias.author_ids()
    for editor in (a, b):
        assert "you wrote part of its content" in workflow.four_eyes_reason(editor, alias)
    workflow.decide(alias, kind=DecisionKind.APPROVE, actor=reviewer)
    # An approval vouches for the content; it does not make its authors someone else.
    for author in (a, b):
        assert workflow.four_eyes_reason(author, alias) != ""
        assert TitleAlias.objects.filter(workflow.four_eyes_q(author), pk=alias.pk).exists()


def test_a_refiner_cannot_approve_the_code_after_a_reopen(make_user, reference_soc):
    from review import services

    refiner, other = make_user("reviewer"), make_user("reviewer")
    mapping = ClassificationMappingFactory(role=RoleFactory(), occupation=soc("15-0000"),
                                           created_by=make_user("curator"))
    services.refine_mapping(mapping=mapping, actor=refiner, code="15-2051")
    services.reopen_mapping(mapping=mapping, actor=other, reason="look again")
    with pytest.raises(workflow.FourEyesViolation):
        services.approve_mapping(mapping=mapping, actor=refiner)
    assert services.approve_mapping(mapping=mapping, actor=other).status == "approved"


@pytest.mark.parametrize("reason", ["", "   ", "\u200b", "\u2060\ufeff", "\u3164", "\u0301"])
def test_moves_that_need_a_reason_refuse_invisible_ones(make_user, reason):
    alias = _item(TitleAlias, make_user("curator"))
    with pytest.raises(workflow.ReasonRequired):
        workflow.decide(alias, kind=DecisionKind.REJECT, actor=make_user("reviewer"), reason=reason)
    with pytest.raises(workflow.ReasonRequired):
        move(alias, "approved", actor=make_user("importer"), kind=DecisionKind.IMPORTED, reason=reason)


def test_move_many_skips_with_a_reason_each_in_constant_queries(make_user, django_assert_num_queries,
                                                                derived_after_commit):
    creator, reviewer = make_user("curator"), make_user("reviewer")
    role = RoleFactory()
    fresh = [TitleAliasFactory(role=role, created_by=creator) for _ in range(4)]
    own = TitleAliasFactory(role=role, created_by=reviewer)
    done = TitleAliasFactory(role=role, created_by=creator)
    workflow.decide(done, kind=DecisionKind.REJECT, actor=make_user("reviewer"), reason="no")
    items = list(TitleAlias.objects.filter(role=role).order_by("pk"))
    reviewer = type(reviewer).objects.get(pk=reviewer.pk)
    reviewer.has_perm("roles.review_alias")  # loads the permission cache outside the count
    derived.process_queue()  # the set-up's marks, worked off: the decision marks its role afresh
    # Queries (11): the core's savepoint and its release; the locking SELECT (which also tells
    # whether an item is in a double-blind sample); who decided the rejected one; the UPDATE; its
    # history INSERT … SELECT; one Decision INSERT … SELECT; the role marked stale for
    # roles.derived; the notifications (the items' creators, their roles' codes, one INSERT).
    with django_assert_num_queries(11), transaction.atomic(savepoint=False):
        result = workflow.decide_many(TitleAlias, items, kind=DecisionKind.APPROVE, actor=reviewer)
    moved, skipped = result.decided, result.skipped
    assert {m.pk for m in moved} == {a.pk for a in fresh}
    reasons = {s.item.pk: s.reason for s in skipped}
    assert reasons[own.pk] == "four-eyes: you created it"
    assert reasons[done.pk].startswith("already rejected by ")
    assert Decision.objects.filter(alias__in=fresh, decision="approve").count() == 4
