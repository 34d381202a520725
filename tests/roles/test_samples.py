"""Double-blind samples in the review core: drawn, blind, settled on agreement, adjudicated by a lead."""

from decimal import Decimal

import pytest

from roles import workflow
from roles.models import (
    ClassificationMapping,
    Decision,
    DecisionKind,
    Lease,
    Sample,
    SampleState,
    TitleAlias,
)
from roles.services import save_alias
from taxonomy.models import OccupationCode
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory
from tests.review.invariants import history_problems, integrity_problems, sample_problems

pytestmark = pytest.mark.django_db

APPROVE, REJECT, REFINE = DecisionKind.APPROVE, DecisionKind.REJECT, DecisionKind.REFINE


@pytest.fixture
def every_decision_drawn(settings):
    settings.REVIEW_SAMPLE_SHARE = 1.0


@pytest.fixture
def people(make_user):
    return {
        "curator": make_user("curator", username="cora"),
        "ann": make_user("reviewer", username="ann"),
        "ben": make_user("reviewer", username="ben"),
        "cy": make_user("reviewer", username="cy"),
        "lee": make_user("lead", username="lee"),
    }


@pytest.fixture
def alias(people):
    return TitleAliasFactory(role=RoleFactory(), alias="Data Wrangler", confidence=Decimal("0.40"),
                             created_by=people["curator"])


@pytest.fixture
def mapping(people, reference_soc):
    group = OccupationCode.objects.get(scheme="soc2018", code="15-0000")
    return ClassificationMappingFactory(role=RoleFactory(), occupation=group, created_by=people["curator"])


def fresh(item):
    return type(item).objects.get(pk=item.pk)


def test_the_production_default_draws_one_decision_in_twenty():
    from framework.settings import base

    assert base.REVIEW_SAMPLE_SHARE == 0.05


def test_a_drawn_decision_is_the_first_blind_review_and_the_item_stays_open(every_decision_drawn, people, alias):
    ann = people["ann"]
    workflow.take_batch(TitleAlias, TitleAlias.objects.all(), actor=ann)
    version = alias.version
    done = workflow.decide(alias, kind=APPROVE, actor=ann, reason="looks right")
    assert done.review_outcome == "drawn"
    alias = fresh(alias)
    assert alias.status == TitleAlias.Status.PENDING and alias.version == version and alias.decided_by is None
    sample = Sample.objects.get(alias=alias)
    assert (sample.state, sample.first_by, sample.item_version) == (SampleState.AWAITING, ann, version)
    kinds = list(Decision.objects.filter(alias=alias).order_by("pk").values_list("decision", "verdict", "comment"))
    assert kinds == [("drawn", "", "drawn for a second, blind review (100% sample)"),
                     ("vote", "approve", "looks right")]
    assert sample.history.get().history_user == ann  # the draw has history with who and why
    assert not Lease.objects.filter(alias=alias).exists()  # back in the pool for a second reviewer


def test_the_first_reviewer_and_the_authors_cannot_give_the_second_review(every_decision_drawn, people, alias):
    workflow.decide(alias, kind=APPROVE, actor=people["ann"])
    with pytest.raises(workflow.AlreadyReviewed, match="You already reviewed the alias"):
        workflow.decide(fresh(alias), kind=REJECT, actor=people["ann"], reason="second thoughts")
    people["curator"].groups.add(*people["ben"].groups.all())  # the alias's creator, now also a reviewer
    curator = type(people["curator"]).objects.get(pk=people["curator"].pk)
    with pytest.raises(workflow.NotIndependent, match="you created it"):
        workflow.decide(fresh(alias), kind=REJECT, actor=curator, reason="mine is wrong")
    assert Sample.objects.get(alias=alias).state == SampleState.AWAITING


def test_an_agreeing_second_review_settles_the_item_as_an_ordinary_decision(every_decision_drawn, people, alias):
    workflow.decide(alias, kind=APPROVE, actor=people["ann"])
    done = workflow.decide(fresh(alias), kind=APPROVE, actor=people["ben"], reason="yes")
    assert done.review_outcome == "agreed"
    alias = fresh(alias)
    assert alias.status == "approved" and alias.decided_by == people["ben"]
    sample = Sample.objects.get(alias=alias)
    assert (sample.state, sample.second_by, sample.settled_by) == (SampleState.AGREED, people["ben"], people["ben"])
    settling = Decision.objects.get(alias=alias, decision="approve")
    assert (settling.sample, settling.verdict, settling.actor) == (sample, "approve", people["ben"])
    assert Sample.objects.count() == 1  # the settling decision is not drawn again
    assert sample_problems() == [] and integrity_problems() == [] and history_problems() == []


def test_a_disagreement_waits_for_a_lead_who_settles_it_with_a_reason(every_decision_drawn, people, alias):
    workflow.decide(alias, kind=APPROVE, actor=people["ann"], reason="fine")
    done = workflow.decide(fresh(alias), kind=REJECT, actor=people["ben"], reason="not a title")
    assert done.review_outcome == "disputed" and fresh(alias).status == "pending"
    sample = Sample.objects.get(alias=alias)
    assert (sample.state, sample.second_by) == (SampleState.DISPUTED, people["ben"])
    with pytest.raises(workflow.AwaitingLead, match="a lead reviewer settles it"):
        workflow.decide(fresh(alias), kind=APPROVE, actor=people["cy"])
    with pytest.raises(workflow.ReasonRequired, match="settling the disagreement"):
        workflow.decide(fresh(alias), kind=APPROVE, actor=people["lee"], reason=" ")
    done = workflow.decide(fresh(alias), kind=REJECT, actor=people["lee"], reason="ben is right: a task, not a title")
    assert done.review_outcome == "adjudicated"
    alias, sample = fresh(alias), fresh(sample)
    assert alias.status == "rejected" and alias.decided_by == people["lee"]
    assert (sample.state, sample.settled_by) == (SampleState.ADJUDICATED, people["lee"])
    trail = list(
        Decision.objects.filter(sample=sample).order_by("pk").values_list("decision", "verdict", "actor__username")
    )
    assert trail == [("drawn", "", "ann"), ("vote", "approve", "ann"), ("vote", "reject", "ben"),
                     ("reject", "reject", "lee")]
    assert sample_problems() == [] and integrity_problems() == [] and history_problems() == []


def test_a_lead_who_gave_one_of_the_reviews_does_not_settle_it(every_decision_drawn, people, alias):
    workflow.decide(alias, kind=APPROVE, actor=people["lee"])
    workflow.decide(fresh(alias), kind=REJECT, actor=people["ann"], reason="no")
    with pytest.raises(workflow.AlreadyReviewed, match="another lead settles"):
        workflow.decide(fresh(alias), kind=APPROVE, actor=people["lee"], reason="I still think so")


def test_mapping_reviews_agree_on_the_code_a_refinement_leads_to(every_decision_drawn, people, mapping):
    done = workflow.decide(mapping, kind=REFINE, actor=people["ann"], code="15-2051")
    assert done.review_outcome == "drawn" and fresh(mapping).code == "15-0000"  # blind: the code stays
    vote = Decision.objects.get(mapping=mapping, decision="vote")
    assert (vote.verdict, vote.old_code, vote.new_code) == ("refine", "15-0000", "15-2051")
    done = workflow.decide(fresh(mapping), kind=REFINE, actor=people["ben"], code="15-2051")
    assert done.review_outcome == "agreed"
    mapping = fresh(mapping)
    assert (mapping.code, mapping.status, mapping.decided_by) == ("15-2051", "approved", people["ben"])


def test_mapping_reviews_that_pick_different_codes_disagree(every_decision_drawn, people, mapping):
    workflow.decide(mapping, kind=REFINE, actor=people["ann"], code="15-2051")
    done = workflow.decide(fresh(mapping), kind=REFINE, actor=people["ben"], code="15-2041")
    assert done.review_outcome == "disputed"
    assert fresh(mapping).code == "15-0000"
    done = workflow.decide(fresh(mapping), kind=REFINE, actor=people["lee"], code="15-2051", reason="data science")
    assert done.review_outcome == "adjudicated" and fresh(mapping).code == "15-2051"
    assert sample_problems() == [] and integrity_problems() == [] and history_problems() == []


def test_a_second_review_is_checked_like_any_decision_before_it_counts(every_decision_drawn, people, mapping):
    workflow.decide(mapping, kind=REFINE, actor=people["ann"], code="15-2051")
    with pytest.raises(workflow.InvalidCode):
        workflow.decide(fresh(mapping), kind=REFINE, actor=people["ben"], code="29-1141")
    with pytest.raises(workflow.GroupLevelNotConfirmed):
        workflow.decide(fresh(mapping), kind=APPROVE, actor=people["ben"])
    assert Sample.objects.get(mapping=mapping).state == SampleState.AWAITING


def test_a_sample_whose_item_changed_is_void_and_the_next_decision_starts_afresh(every_decision_drawn, people, alias):
    workflow.decide(alias, kind=APPROVE, actor=people["ann"])
    alias = fresh(alias)
    alias.alias = "Data Wrangler II"
    save_alias(alias=alias, actor=people["curator"], reason="typo")
    done = workflow.decide(fresh(alias), kind=APPROVE, actor=people["ann"])  # ann may review the new content
    assert done.review_outcome == "drawn"
    states = sorted(Sample.objects.filter(alias=alias).values_list("state", flat=True))
    assert states == [SampleState.AWAITING, SampleState.VOID]


def test_the_first_review_is_hidden_from_everyone_but_its_reviewer_and_leads(every_decision_drawn, people, alias):
    workflow.decide(alias, kind=REJECT, actor=people["ann"], reason="secret reason")

    def seen_by(user):
        return set(Decision.objects.visible_to(user).filter(alias=alias).values_list("decision", flat=True))

    assert seen_by(people["ben"]) == set()
    assert seen_by(people["ann"]) == {"drawn", "vote"} and seen_by(people["lee"]) == set()  # leads too
    workflow.decide(fresh(alias), kind=REJECT, actor=people["ben"], reason="agreed")
    assert seen_by(people["cy"]) == {"drawn", "vote", "reject"}  # settled: the record is open to all


def test_queues_and_batches_hide_what_a_reviewer_reviewed_and_what_waits_for_a_lead(
    every_decision_drawn, people, make_user, settings
):
    role, curator = RoleFactory(), people["curator"]
    a, b = (TitleAliasFactory(role=role, alias=f"Alias {i}", created_by=curator) for i in range(2))
    workflow.decide(a, kind=APPROVE, actor=people["ann"])
    workflow.decide(b, kind=APPROVE, actor=people["ann"])
    workflow.decide(fresh(b), kind=REJECT, actor=people["ben"], reason="no")  # disputed

    def batch(user):
        return set(workflow.take_batch(TitleAlias, TitleAlias.objects.order_by("pk"), actor=user))

    assert batch(people["ann"]) == set()
    assert batch(people["ben"]) == {a.pk}
    workflow.release(TitleAlias, actor=people["ben"])
    assert batch(people["cy"]) == {a.pk} and batch(people["lee"]) == set()  # b is settled on the lead's page
    hidden = workflow.sample_hidden_q
    assert set(TitleAlias.objects.exclude(hidden(people["ann"], TitleAlias)).values_list("pk", flat=True)) == set()
    assert set(TitleAlias.objects.exclude(hidden(people["ben"], TitleAlias)).values_list("pk", flat=True)) == {a.pk}


def test_bulk_decisions_draw_items_and_leave_sampled_items_to_be_decided_alone(every_decision_drawn, people):
    role, curator = RoleFactory(), people["curator"]
    items = [TitleAliasFactory(role=role, alias=f"Alias {i}", created_by=curator) for i in range(3)]
    result = workflow.decide_many(TitleAlias, items, kind=APPROVE, actor=people["ann"])
    assert (len(result.drawn), result.decided_count) == (3, 0)
    assert "3 drawn for a second, blind review" in result.summary("approved")
    assert Sample.objects.filter(state=SampleState.AWAITING).count() == 3
    again = workflow.decide_many(TitleAlias, items, kind=APPROVE, actor=people["ben"])
    assert again.decided_count == 0
    assert {s.reason for s in again.skipped} == {"in a double-blind sample: decide it on its own"}


def test_no_sample_is_drawn_when_sampling_is_off_or_for_an_author(settings, people, alias, make_user):
    settings.REVIEW_SAMPLE_SHARE = 0
    assert workflow.decide(alias, kind=APPROVE, actor=people["ann"]).review_outcome == "decided"
    settings.REVIEW_SAMPLE_SHARE = 1.0
    own = TitleAliasFactory(role=alias.role, alias="Own", created_by=people["ben"])
    done = workflow.decide(own, kind=REJECT, actor=people["ben"], reason="my mistake")  # authors are not sampled
    assert done.review_outcome == "decided" and not Sample.objects.exists()


def test_a_share_draws_about_that_share_of_decisions(settings, people):
    settings.REVIEW_SAMPLE_SHARE = 0.25
    role, curator = RoleFactory(), people["curator"]
    items = [TitleAliasFactory(role=role, alias=f"Alias {i}", created_by=curator) for i in range(400)]
    result = workflow.decide_many(TitleAlias, items, kind=APPROVE, actor=people["ann"])
    # Binomial(400, 0.25): mean 100, sd 8.7; 60..140 fails about once in 10^5 runs.
    assert 60 <= len(result.drawn) <= 140
    assert result.decided_count + len(result.drawn) == 400


def test_one_open_sample_per_item_is_enforced_by_the_database(every_decision_drawn, people, alias):
    from django.db import IntegrityError, transaction

    workflow.decide(alias, kind=APPROVE, actor=people["ann"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Sample.objects.create(alias=alias, item_version=alias.version, first_by=people["ben"])


def test_a_mapping_sample_counts_as_a_mapping(every_decision_drawn, people, mapping):
    workflow.decide(mapping, kind=REJECT, actor=people["ann"], reason="wrong family")
    assert Sample.objects.of(ClassificationMapping).count() == 1 and not Sample.objects.of(TitleAlias).exists()
