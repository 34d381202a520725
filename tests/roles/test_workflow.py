"""The review state machine (roles.workflow), tested from its tables: every (from, to, kind).

Allowed moves leave the new state, a history row and a Decision; everything else raises and
writes nothing. The permission each kind needs, four-eyes and the reason rule are checked in
the machine itself, so no caller can skip them.
"""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from roles import workflow
from roles.models import ClassificationMapping, Decision, DecisionKind, TitleAlias
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory, UserFactory
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db

KINDS = list(DecisionKind.values)


def _item(model, creator):
    if model is TitleAlias:
        return TitleAliasFactory(role=RoleFactory(), created_by=creator)
    return ClassificationMappingFactory(role=RoleFactory(), occupation=soc("15-2051"), created_by=creator)


def _put_in(item, status, actor):
    """Bring `item` to `status` through the machine itself."""
    if status == item.OPEN:
        return
    with transaction.atomic():
        workflow.move_to(item, status, by=actor, kind=DecisionKind.IMPORTED, reason="set up")


CASES = [
    (model, origin, target, kind)
    for model in (TitleAlias, ClassificationMapping)
    for origin, target in itertools.permutations(model.Status.values, 2)
    for kind in KINDS
]


@pytest.mark.parametrize("model, origin, target, kind", CASES)
def test_every_move_of_the_table(model, origin, target, kind, make_user, reference_soc):
    creator, operator = make_user("curator"), UserFactory(is_superuser=True)
    item = _item(model, creator)
    _put_in(item, origin, operator)
    actor = UserFactory(is_superuser=True)
    history, decisions = item.history.count(), Decision.objects.count()
    allowed = kind in model.TRANSITIONS.get((origin, target), ())
    if not allowed:
        with pytest.raises(workflow.IllegalTransition), transaction.atomic():
            workflow.move_to(item, target, by=actor, kind=kind, reason="try", old_code="1", new_code="2")
        item.refresh_from_db()
        assert item.status == origin
        assert (item.history.count(), Decision.objects.count()) == (history, decisions)
        return
    with transaction.atomic():
        decision = workflow.move_to(item, target, by=actor, kind=kind, reason="try", old_code="1", new_code="2")
    item.refresh_from_db()
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
        (DecisionKind.IMPORTED, None),  # only the system account, or a superuser
    ],
)
def test_each_kind_needs_its_permission(kind, holder, make_user):
    alias = _item(TitleAlias, make_user("curator"))
    target = "approved" if kind != DecisionKind.REJECT else "rejected"
    for kind_of_user in ("curator", "reviewer"):
        user = make_user(kind_of_user)
        if kind_of_user == holder:
            continue
        with pytest.raises(workflow.ReviewPermissionDenied, match="needs the permission"), transaction.atomic():
            workflow.move_to(alias, target, by=user, kind=kind, reason="try")
    with pytest.raises(workflow.ReviewPermissionDenied), transaction.atomic():
        workflow.move_to(alias, target, by=None, kind=kind, reason="try")


def test_the_system_account_may_import_decisions_and_curators_may_not(make_user):
    from framework.audit import get_system_user

    assert workflow.may_move(get_system_user(), TitleAlias, DecisionKind.IMPORTED)
    assert not workflow.may_move(make_user("curator"), TitleAlias, DecisionKind.IMPORTED)
    assert not workflow.may_move(make_user("reviewer"), TitleAlias, DecisionKind.IMPORTED)


def test_four_eyes_counts_every_content_editor_since_the_last_approval(make_user):
    a, b, reviewer = make_user("reviewer"), make_user("reviewer"), make_user("reviewer")
    alias = _item(TitleAlias, make_user("curator"))
    workflow.note_content_change(alias, by=a, reason="text")
    workflow.note_content_change(alias, by=b, reason="confidence")
    alias.save()
    assert alias.content_editor_ids() == {a.pk, b.pk}
    for editor in (a, b):
        assert "changed its content" in workflow.four_eyes_reason(editor, alias)
    with transaction.atomic():
        workflow.move_to(alias, "approved", by=reviewer, kind=DecisionKind.APPROVE)
    assert alias.content_editors == "" and workflow.four_eyes_reason(a, alias) == ""
    assert TitleAlias.objects.filter(workflow.four_eyes_q(a)).count() == 0


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
    for kind, target in ((DecisionKind.REJECT, "rejected"), (DecisionKind.IMPORTED, "approved")):
        with pytest.raises(workflow.ReasonRequired), transaction.atomic():
            workflow.move_to(alias, target, by=UserFactory(is_superuser=True), kind=kind, reason=reason)


@pytest.mark.django_db(transaction=True)
def test_move_to_needs_the_callers_transaction(make_user):
    """Outside a transaction the row lock would be gone before the write: refused."""
    alias = _item(TitleAlias, make_user("curator"))
    with pytest.raises(RuntimeError, match="transaction"):
        workflow.move_to(alias, "approved", by=make_user("reviewer"), kind=DecisionKind.APPROVE)
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


def test_move_many_skips_with_a_reason_each_in_constant_queries(make_user, django_assert_num_queries,
                                                                derived_after_commit):
    creator, reviewer = make_user("curator"), make_user("reviewer")
    role = RoleFactory()
    fresh = [TitleAliasFactory(role=role, created_by=creator) for _ in range(4)]
    own = TitleAliasFactory(role=role, created_by=reviewer)
    done = TitleAliasFactory(role=role, created_by=creator)
    with transaction.atomic():
        workflow.move_to(done, "rejected", by=make_user("reviewer"), kind=DecisionKind.REJECT, reason="no")
    items = list(TitleAlias.objects.filter(role=role).order_by("pk"))
    reviewer = type(reviewer).objects.get(pk=reviewer.pk)
    reviewer.has_perm("review.review_alias")  # loads the permission cache outside the count
    # Queries (8): who decided the rejected one; the UPDATE; its history INSERT … SELECT; the role
    # marked stale for roles.derived; one Decision INSERT … SELECT; the notifications (the items'
    # creators, their roles' codes, one INSERT).
    with django_assert_num_queries(8), transaction.atomic(savepoint=False):
        moved, skipped = workflow.move_many(TitleAlias, items, "approved", by=reviewer, kind=DecisionKind.APPROVE)
    assert {m.pk for m in moved} == {a.pk for a in fresh}
    reasons = {s.item.pk: s.reason for s in skipped}
    assert reasons[own.pk] == "four-eyes: you created it"
    assert reasons[done.pk].startswith("already rejected by ")
    assert Decision.objects.filter(alias__in=fresh, decision="approve").count() == 4
