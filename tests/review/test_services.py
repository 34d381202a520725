"""Review services: transitions, four-eyes, reasons, refine, bulk decisions."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from review import services
from roles import derived
from roles.models import ClassificationMapping, Decision, TitleAlias
from roles.services import save_alias, save_mapping
from tests.factories import TitleAliasFactory
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db

A = TitleAlias.Status
M = ClassificationMapping.Status


def put_alias_in(alias, state, actor):
    """Move a fresh alias into `state` through the services (never by setting the field)."""
    if state == A.APPROVED:
        services.approve_alias(alias=alias, actor=actor)
    elif state == A.REJECTED:
        services.reject_alias(alias=alias, actor=actor, reason="not a real title")
    alias.refresh_from_db()
    return alias


def put_mapping_in(mapping, state, actor):
    if state == M.APPROVED:
        services.approve_mapping(mapping=mapping, actor=actor)
    elif state == M.REJECTED:
        services.reject_mapping(mapping=mapping, actor=actor, reason="wrong occupation")
    mapping.refresh_from_db()
    return mapping


ALIAS_ACTIONS = {
    "approve": lambda a, u: services.approve_alias(alias=a, actor=u, comment="looks right"),
    "reject": lambda a, u: services.reject_alias(alias=a, actor=u, reason="machine noise"),
    "reopen": lambda a, u: services.reopen_alias(alias=a, actor=u, reason="second look"),
}
# (state, action) → the new state, or the error the move raises.
ALIAS_TABLE = [
    (A.PENDING, "approve", A.APPROVED),
    (A.PENDING, "reject", A.REJECTED),
    (A.PENDING, "reopen", services.IllegalTransition),
    (A.APPROVED, "approve", services.AlreadyDecided),
    (A.APPROVED, "reject", services.AlreadyDecided),
    (A.APPROVED, "reopen", A.PENDING),
    (A.REJECTED, "approve", services.AlreadyDecided),
    (A.REJECTED, "reject", services.AlreadyDecided),
    (A.REJECTED, "reopen", A.PENDING),
]


@pytest.mark.parametrize("state, action, expected", ALIAS_TABLE)
def test_alias_transition_table(alias, reviewer, other_reviewer, state, action, expected):
    """Every (state, action) pair: allowed moves leave the state, a history row and a decision."""
    put_alias_in(alias, state, other_reviewer)
    history_before = alias.history.count()
    decisions_before = Decision.objects.filter(alias=alias).count()
    if isinstance(expected, type):
        with pytest.raises(expected):
            ALIAS_ACTIONS[action](alias, reviewer)
        alias.refresh_from_db()
        assert alias.status == state
        assert alias.history.count() == history_before
        assert Decision.objects.filter(alias=alias).count() == decisions_before
        return
    result = ALIAS_ACTIONS[action](alias, reviewer)
    alias.refresh_from_db()
    assert alias.status == expected == result.status
    assert alias.history.count() == history_before + 1
    latest = alias.history.first()
    assert latest.history_user == reviewer
    assert latest.status == expected
    assert latest.history_change_reason.startswith("review: ")
    decision = Decision.objects.filter(alias=alias).latest()
    assert (decision.actor, decision.from_status, decision.to_status) == (reviewer, state, expected)
    if expected != A.PENDING:
        assert alias.decided_by == reviewer and alias.decided_at is not None
    else:
        assert alias.decided_by is None and alias.decided_at is None


MAPPING_ACTIONS = {
    "approve": lambda m, u: services.approve_mapping(mapping=m, actor=u, comment="fits"),
    "reject": lambda m, u: services.reject_mapping(mapping=m, actor=u, reason="wrong group"),
    "reopen": lambda m, u: services.reopen_mapping(mapping=m, actor=u, reason="second look"),
    "refine": lambda m, u: services.refine_mapping(mapping=m, actor=u, code="15-2051.01"),
}
MAPPING_TABLE = [
    (M.NEEDS_REVIEW, "approve", M.APPROVED),
    (M.NEEDS_REVIEW, "reject", M.REJECTED),
    (M.NEEDS_REVIEW, "reopen", services.IllegalTransition),
    (M.NEEDS_REVIEW, "refine", M.APPROVED),
    (M.APPROVED, "approve", services.AlreadyDecided),
    (M.APPROVED, "reject", services.AlreadyDecided),
    (M.APPROVED, "reopen", M.NEEDS_REVIEW),
    (M.APPROVED, "refine", services.AlreadyDecided),
    (M.REJECTED, "approve", services.AlreadyDecided),
    (M.REJECTED, "reject", services.AlreadyDecided),
    (M.REJECTED, "reopen", M.NEEDS_REVIEW),
    (M.REJECTED, "refine", services.AlreadyDecided),
]


@pytest.mark.parametrize("state, action, expected", MAPPING_TABLE)
def test_mapping_transition_table(detailed_mapping, reviewer, other_reviewer, state, action, expected):
    mapping = put_mapping_in(detailed_mapping, state, other_reviewer)
    history_before = mapping.history.count()
    if isinstance(expected, type):
        with pytest.raises(expected):
            MAPPING_ACTIONS[action](mapping, reviewer)
        mapping.refresh_from_db()
        assert mapping.status == state
        assert mapping.history.count() == history_before
        return
    MAPPING_ACTIONS[action](mapping, reviewer)
    mapping.refresh_from_db()
    assert mapping.status == expected
    assert mapping.history.count() == history_before + 1
    assert mapping.history.first().history_user == reviewer
    decision = Decision.objects.filter(mapping=mapping).latest()
    assert (decision.actor, decision.from_status, decision.to_status) == (reviewer, state, expected)
    if expected == M.NEEDS_REVIEW:
        assert mapping.decided_by is None and mapping.decided_at is None
    else:
        assert mapping.decided_by == reviewer and mapping.decided_at is not None


def test_already_decided_names_who_what_and_when(alias, reviewer, other_reviewer):
    services.approve_alias(alias=alias, actor=other_reviewer)
    stale = TitleAlias.objects.get(pk=alias.pk)
    with pytest.raises(services.AlreadyDecided, match=rf"already approved by {other_reviewer.username} on \d{{4}}-"):
        services.approve_alias(alias=stale, actor=reviewer)


def test_errors_share_one_hierarchy():
    for error in (
        services.AlreadyDecided,
        services.FourEyesViolation,
        services.ReasonRequired,
        services.ReviewPermissionDenied,
        services.InvalidCode,
        services.GroupLevelNotConfirmed,
        services.IllegalTransition,
        services.ItemGone,
    ):
        assert issubclass(error, services.ReviewError)


# -- four-eyes -----------------------------------------------------------------------------------


def test_creator_cannot_approve_own_alias(role, reviewer):
    alias = TitleAliasFactory(role=role, created_by=reviewer)
    with pytest.raises(services.FourEyesViolation, match="you created it"):
        services.approve_alias(alias=alias, actor=reviewer)
    alias.refresh_from_db()
    assert alias.status == A.PENDING


def test_last_content_editor_cannot_approve(alias, reviewer, other_reviewer):
    alias.confidence = Decimal("0.90")
    save_alias(alias=alias, actor=reviewer, reason="raise confidence")
    with pytest.raises(services.FourEyesViolation, match="you wrote part of its content"):
        services.approve_alias(alias=alias, actor=reviewer)
    assert services.approve_alias(alias=alias, actor=other_reviewer).status == A.APPROVED


def test_four_eyes_binds_superusers_too(role, superuser):
    alias = TitleAliasFactory(role=role, created_by=superuser)
    with pytest.raises(services.FourEyesViolation):
        services.approve_alias(alias=alias, actor=superuser)


def test_four_eyes_binds_mapping_approval_and_refine(detailed_mapping, group_mapping, curator, make_user):
    editor = make_user("reviewer")
    group_mapping.title = "Computer and Mathematical Occupations"
    save_mapping(mapping=group_mapping, actor=editor, reason="fix title")  # not content: title
    detailed_mapping.code = "15-2041"
    save_mapping(mapping=detailed_mapping, actor=editor, reason="better code")
    with pytest.raises(services.FourEyesViolation):
        services.approve_mapping(mapping=detailed_mapping, actor=editor)
    group_mapping.code = "15-2000"
    save_mapping(mapping=group_mapping, actor=editor, reason="narrow")
    with pytest.raises(services.FourEyesViolation):
        services.refine_mapping(mapping=group_mapping, actor=editor, code="15-2051")


def test_self_approval_setting_switches_four_eyes_off(role, reviewer, settings):
    settings.REVIEW_ALLOW_SELF_APPROVAL = True
    alias = TitleAliasFactory(role=role, created_by=reviewer)
    assert services.approve_alias(alias=alias, actor=reviewer).status == A.APPROVED


def test_rejecting_own_alias_is_allowed(role, reviewer):
    """Four-eyes guards approval; withdrawing one's own proposal is fine."""
    alias = TitleAliasFactory(role=role, created_by=reviewer)
    assert services.reject_alias(alias=alias, actor=reviewer, reason="my mistake").status == A.REJECTED


# -- permission and reasons ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["curator", "anonymous"])
def test_deciding_needs_the_review_permission(alias, detailed_mapping, make_user, kind):
    from django.contrib.auth.models import AnonymousUser

    user = make_user(kind) or AnonymousUser()
    calls = [
        lambda: services.approve_alias(alias=alias, actor=user),
        lambda: services.reject_alias(alias=alias, actor=user, reason="x"),
        lambda: services.reopen_alias(alias=alias, actor=user, reason="x"),
        lambda: services.approve_aliases(aliases=TitleAlias.objects.all(), actor=user),
        lambda: services.reject_aliases(aliases=TitleAlias.objects.all(), actor=user, reason="x"),
        lambda: services.approve_mapping(mapping=detailed_mapping, actor=user),
        lambda: services.reject_mapping(mapping=detailed_mapping, actor=user, reason="x"),
        lambda: services.reopen_mapping(mapping=detailed_mapping, actor=user, reason="x"),
        lambda: services.refine_mapping(mapping=detailed_mapping, actor=user, code="15-2051.01"),
    ]
    for call in calls:
        with pytest.raises(services.ReviewPermissionDenied, match="Reviewers group"):
            call()
    assert not Decision.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_rejecting_and_reopening_require_a_reason(alias, detailed_mapping, reviewer, other_reviewer, reason):
    with pytest.raises(services.ReasonRequired, match="Give a reason"):
        services.reject_alias(alias=alias, actor=reviewer, reason=reason)
    with pytest.raises(services.ReasonRequired):
        services.reject_mapping(mapping=detailed_mapping, actor=reviewer, reason=reason)
    with pytest.raises(services.ReasonRequired):
        services.reject_aliases(aliases=TitleAlias.objects.all(), actor=reviewer, reason=reason)
    services.approve_alias(alias=alias, actor=other_reviewer)
    with pytest.raises(services.ReasonRequired):
        services.reopen_alias(alias=alias, actor=reviewer, reason=reason)
    assert TitleAlias.objects.get(pk=alias.pk).status == A.APPROVED


def test_rejection_reason_is_in_history_and_decision(alias, reviewer):
    services.reject_alias(alias=alias, actor=reviewer, reason="  duplicate of 'Data Engineer'  ")
    assert alias.history.first().history_change_reason == "review: rejected — duplicate of 'Data Engineer'"
    assert Decision.objects.get(alias=alias).comment == "duplicate of 'Data Engineer'"


# -- content changes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value", [("alias", "Data Wrangler II"), ("alias_type", "abbreviation"), ("confidence", Decimal("0.95"))]
)
def test_changing_content_of_approved_alias_sends_it_back(alias, reviewer, curator, field, value):
    services.approve_alias(alias=alias, actor=reviewer)
    alias.refresh_from_db()
    setattr(alias, field, value)
    save_alias(alias=alias, actor=curator, reason="curator edit")
    alias.refresh_from_db()
    assert alias.status == A.PENDING
    assert alias.decided_at is None and alias.content_changed_by == curator


def test_changing_code_of_approved_mapping_sends_it_back(detailed_mapping, reviewer, curator):
    services.approve_mapping(mapping=detailed_mapping, actor=reviewer)
    detailed_mapping.refresh_from_db()
    detailed_mapping.code = "15-2041"
    save_mapping(mapping=detailed_mapping, actor=curator, reason="statisticians")
    detailed_mapping.refresh_from_db()
    assert detailed_mapping.status == M.NEEDS_REVIEW
    assert detailed_mapping.decided_at is None


# -- mappings: reference, group level, refine ----------------------------------------------------


def test_group_level_approval_needs_confirmation(group_mapping, reviewer):
    with pytest.raises(services.GroupLevelNotConfirmed, match="Refine it to a detailed code"):
        services.approve_mapping(mapping=group_mapping, actor=reviewer)
    done = services.approve_mapping(
        mapping=group_mapping, actor=reviewer, confirm_group_level=True, use_official_title=True
    )
    assert done.status == M.APPROVED
    assert done.title == "Computer and Mathematical Occupations"
    assert "group-level" in Decision.objects.get(mapping=group_mapping).comment


def test_unknown_code_cannot_be_approved(role, curator, reviewer, reference_soc):
    from tests.factories import ClassificationMappingFactory

    mapping = ClassificationMappingFactory(role=role, occupation=None, code="15-9999", created_by=curator)
    with pytest.raises(services.InvalidCode, match="not an official"):
        services.approve_mapping(mapping=mapping, actor=reviewer)


def test_refine_to_detailed_code(group_mapping, reviewer):
    done = services.refine_mapping(mapping=group_mapping, actor=reviewer, code="15-2051", comment="data science")
    group_mapping.refresh_from_db()
    assert (group_mapping.code, group_mapping.previous_code) == ("15-2051", "15-0000")
    assert group_mapping.status == M.APPROVED and group_mapping.decided_by == reviewer
    assert group_mapping.source == ClassificationMapping.Source.MANUAL
    assert group_mapping.occupation == soc("15-2051") and group_mapping.title == "Data Scientists"
    assert done.code == "15-2051"
    decision = Decision.objects.get(mapping=group_mapping)
    assert (decision.decision, decision.old_code, decision.new_code) == ("refine", "15-0000", "15-2051")
    latest = group_mapping.history.first()
    assert latest.history_user == reviewer and "15-0000 → 15-2051" in latest.history_change_reason


@pytest.mark.parametrize(
    "code, message",
    [
        ("15-2051x", "not a SOC code"),
        ("15-9998", "not in the SOC 2018"),
        ("11-1011", "not under 15-0000"),
        ("15-0000", "major group, not a detailed occupation"),
    ],
)
def test_refine_rejects_codes_that_are_not_refinements(group_mapping, reviewer, code, message):
    with pytest.raises(services.InvalidCode, match=message):
        services.refine_mapping(mapping=group_mapping, actor=reviewer, code=code)
    group_mapping.refresh_from_db()
    assert group_mapping.code == "15-0000" and group_mapping.status == M.NEEDS_REVIEW


def test_refine_refuses_a_code_the_role_already_has(group_mapping, detailed_mapping, reviewer):
    with pytest.raises(services.InvalidCode, match="already has a mapping to 15-2051"):
        services.refine_mapping(mapping=group_mapping, actor=reviewer, code="15-2051")


# -- bulk ----------------------------------------------------------------------------------------


def make_aliases(role, n, **kwargs):
    return [TitleAliasFactory(role=role, **kwargs) for _ in range(n)]


@pytest.mark.parametrize("n", [5, 10])
def test_bulk_approve_runs_constant_queries_per_batch(role, reviewer, n, django_assert_num_queries,
                                                     derived_after_commit):
    make_aliases(role, n)
    derived.process_queue()  # the set-up's marks, worked off: the decision marks its role afresh
    reviewer.has_perm("roles.review_alias")  # load the permission cache outside the count
    # 1 SAVEPOINT, 1 SELECT pks, 1 SELECT … FOR UPDATE (batch), 1 UPDATE (bulk_update),
    # 1 INSERT history rows, 1 INSERT marking the role stale (roles.derived), 1 INSERT decisions,
    # 1 RELEASE SAVEPOINT.
    with django_assert_num_queries(8):
        result = services.approve_aliases(aliases=TitleAlias.objects.filter(role=role), actor=reviewer)
    assert result.decided_count == n and not result.skipped
    assert TitleAlias.objects.filter(role=role, status=A.APPROVED).count() == n
    assert Decision.objects.filter(alias__role=role, actor=reviewer).count() == n
    for alias in TitleAlias.objects.filter(role=role):
        latest = alias.history.first()
        assert latest.history_user == reviewer and latest.status == A.APPROVED


def test_bulk_queries_grow_with_batches_not_items(role, reviewer, monkeypatch, derived_after_commit):
    from roles.workflow import core

    monkeypatch.setattr(core, "BULK_BATCH_SIZE", 4)
    make_aliases(role, 12)
    derived.process_queue()  # the set-up's marks, worked off
    reviewer.has_perm("roles.review_alias")
    with CaptureQueriesContext(connection) as ctx:
        services.approve_aliases(aliases=TitleAlias.objects.filter(role=role), actor=reviewer)
    # 3 batches × 4 queries (lock, UPDATE, history INSERT … SELECT, Decision INSERT … SELECT),
    # the role marked stale once (the later batches' marks of the same role are known to this
    # transaction) + SAVEPOINT, SELECT pks, RELEASE.
    assert len(ctx.captured_queries) == 3 * 4 + 1 + 3


def test_bulk_skips_decided_and_four_eyes_items_with_reasons(role, reviewer, other_reviewer):
    mine = TitleAliasFactory(role=role, created_by=reviewer, alias="Mine")
    done = TitleAliasFactory(role=role, alias="Done")
    services.approve_alias(alias=done, actor=other_reviewer)
    rejected = TitleAliasFactory(role=role, alias="Gone")
    services.reject_alias(alias=rejected, actor=other_reviewer, reason="noise")
    fresh = make_aliases(role, 3)
    result = services.approve_aliases(aliases=TitleAlias.objects.filter(role=role), actor=reviewer)
    assert {a.pk for a in result.decided} == {a.pk for a in fresh}
    reasons = {s.item.pk: s.reason for s in result.skipped}
    assert reasons[mine.pk] == "four-eyes: you created it"
    assert reasons[done.pk].startswith(f"already approved by {other_reviewer.username}")
    assert reasons[rejected.pk].startswith(f"already rejected by {other_reviewer.username}")


def test_threshold_approval_skips_below_threshold_and_four_eyes(role, reviewer):
    low = TitleAliasFactory(role=role, confidence=Decimal("0.50"))
    high = TitleAliasFactory(role=role, confidence=Decimal("0.85"))
    edge = TitleAliasFactory(role=role, confidence=Decimal("0.80"))
    own = TitleAliasFactory(role=role, confidence=Decimal("0.90"), created_by=reviewer)
    matching = TitleAlias.objects.pending().filter(role=role, confidence__gte=Decimal("0.80"))
    result = services.approve_aliases(aliases=matching, actor=reviewer)
    assert {a.pk for a in result.decided} == {high.pk, edge.pk}
    assert [s.item.pk for s in result.skipped] == [own.pk]
    assert TitleAlias.objects.get(pk=low.pk).status == A.PENDING


def test_bulk_reject_writes_reason_everywhere(role, reviewer):
    aliases = make_aliases(role, 3)
    result = services.reject_aliases(aliases=TitleAlias.objects.filter(role=role), actor=reviewer, reason="spam")
    assert result.decided_count == 3
    for alias in aliases:
        assert alias.history.first().history_change_reason == "review: rejected — spam"
    assert set(Decision.objects.filter(alias__role=role).values_list("comment", flat=True)) == {"spam"}


def test_bulk_accepts_a_list(role, reviewer):
    aliases = make_aliases(role, 2)
    assert services.approve_aliases(aliases=aliases, actor=reviewer).decided_count == 2
