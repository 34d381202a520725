"""Double-blind samples on the review pages: blind second reviews, and the lead's Disagreements page."""

import pytest
from django.test import Client
from django.urls import reverse

from review import services
from roles.models import Decision, Sample, SampleState, TitleAlias
from tests.factories import RoleFactory, TitleAliasFactory
from tests.review.conftest import logged_in

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_ROLEBOOK_FETCH": "1"}


@pytest.fixture
def drawn(settings):
    settings.REVIEW_SAMPLE_SHARE = 1.0


@pytest.fixture
def team(make_user):
    return {"ann": make_user("reviewer", username="ann"), "ben": make_user("reviewer", username="ben"),
            "lee": make_user("lead", username="lee"), "liz": make_user("lead", username="liz")}


def dispute(alias, team):
    services.approve_alias(alias=alias, actor=team["ann"], comment="a real job title")
    services.reject_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=team["ben"], reason="a task, not a title")
    return Sample.objects.get(alias=alias)


def test_a_drawn_decision_tells_the_reviewer_and_offers_no_undo(drawn, team, alias):
    response = logged_in(team["ann"]).post(reverse("review:alias-approve", args=[alias.pk]),
                                           {"version": alias.version}, **FETCH)
    data = response.json()
    assert data["ok"] and data["status"] == "pending" and data["status_label"] == "Drawn for a second review"
    assert data["undo_token"] == "" and "second, blind review" in data["message"]


def test_the_second_reviewer_sees_the_item_but_not_the_first_decision(drawn, team, alias):
    services.reject_alias(alias=alias, actor=team["ann"], reason="SECRET-FIRST-REASON")
    ben = logged_in(team["ben"])
    queue = ben.get(reverse("review:aliases"))
    assert alias.alias in queue.content.decode()
    log = ben.get(reverse("review:decisions")).content.decode()
    assert "SECRET-FIRST-REASON" not in log and "Blind review (in a sample): reject" not in log
    lead = logged_in(team["lee"])
    assert "SECRET-FIRST-REASON" not in lead.get(reverse("review:decisions")).content.decode()  # leads too
    assert alias.alias not in logged_in(team["ann"]).get(reverse("review:aliases")).content.decode()
    admin_log = logged_in(team["ben"]).get(reverse("admin:roles_decision_changelist"))
    assert admin_log.status_code == 200 and "SECRET-FIRST-REASON" not in admin_log.content.decode()
    assert "SECRET-FIRST-REASON" in logged_in(team["ann"]).get(reverse("review:decisions")).content.decode()
    services.approve_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=team["ben"])  # disputed now
    assert "SECRET-FIRST-REASON" not in ben.get(reverse("review:decisions")).content.decode()
    assert "SECRET-FIRST-REASON" in lead.get(reverse("review:decisions")).content.decode()  # a lead settles it


def test_a_mapping_page_hides_the_first_review_and_says_when_a_lead_must_settle(drawn, team, group_mapping):
    services.refine_mapping(mapping=group_mapping, actor=team["ann"], code="15-2051", comment="SECRET-REFINE")
    page = logged_in(team["ben"]).get(reverse("review:mapping", args=[group_mapping.pk])).content.decode()
    assert "SECRET-REFINE" not in page and "15-2051" not in page.split('id="decisions"')[-1][:2000]
    services.reject_mapping(mapping=group_mapping.__class__.objects.get(pk=group_mapping.pk), actor=team["ben"],
                            reason="not this role")
    page = logged_in(team["ben"]).get(reverse("review:mapping", args=[group_mapping.pk])).content.decode()
    assert 'id="disputed-note"' in page and "a lead reviewer settles it" in page


def test_the_lead_sees_both_reviews_and_reasons_and_settles_with_a_reason(drawn, team, alias):
    sample = dispute(alias, team)
    lead = logged_in(team["lee"])
    page = lead.get(reverse("review:adjudicate")).content.decode()
    for text in ("ann", "ben", "a real job title", "a task, not a title", "Side with ann: Approve",
                 "Side with ben: Reject"):
        assert text in page
    response = lead.post(reverse("review:adjudicate-sample", args=[sample.pk]),
                         {"choice": "reject|", "reason": "ben is right", "version": alias.version})
    assert response.status_code == 302
    alias = TitleAlias.objects.get(pk=alias.pk)
    assert alias.status == "rejected" and alias.decided_by == team["lee"]
    assert Sample.objects.get(pk=sample.pk).state == SampleState.ADJUDICATED
    settling = Decision.objects.get(sample=sample, decision="reject")
    assert (settling.actor, settling.comment) == (team["lee"], "ben is right")
    assert "No disagreements wait" in lead.get(reverse("review:adjudicate")).content.decode()


def test_the_dashboard_counts_disagreements_for_leads_only(drawn, team, alias):
    dispute(alias, team)
    assert "1 disagreement to settle" in logged_in(team["lee"]).get(reverse("review:dashboard")).content.decode()
    assert 'id="adjudicate-link"' not in logged_in(team["ann"]).get(reverse("review:dashboard")).content.decode()


@pytest.mark.parametrize("who", ["ann", "curator", "anonymous"])
def test_only_leads_see_or_settle_disagreements(drawn, team, alias, make_user, who):
    sample = dispute(alias, team)
    client = {"ann": lambda: logged_in(team["ann"]), "curator": lambda: logged_in(make_user("curator")),
              "anonymous": Client}[who]()
    page = client.get(reverse("review:adjudicate"))
    post = client.post(reverse("review:adjudicate-sample", args=[sample.pk]),
                       {"choice": "approve|", "reason": "crafted", "version": alias.version})
    if who == "anonymous":
        assert page.status_code == 302 and post.status_code == 302  # to the login page
    else:
        assert page.status_code == 403 and post.status_code == 403
    assert Sample.objects.get(pk=sample.pk).state == SampleState.DISPUTED
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


def test_a_lead_who_reviewed_it_cannot_settle_it(drawn, team, alias):
    services.approve_alias(alias=alias, actor=team["lee"])
    services.reject_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=team["ann"], reason="no")
    sample = Sample.objects.get(alias=alias)
    lead = logged_in(team["lee"])
    assert "You gave one of these reviews" in lead.get(reverse("review:adjudicate")).content.decode()
    response = lead.post(reverse("review:adjudicate-sample", args=[sample.pk]),
                         {"choice": "approve|", "reason": "I was right", "version": alias.version}, **FETCH)
    assert response.status_code == 409 and "another lead settles" in response.json()["error"]
    assert logged_in(team["liz"]).post(
        reverse("review:adjudicate-sample", args=[sample.pk]),
        {"choice": "approve|", "reason": "fine", "version": alias.version}, **FETCH).status_code == 200


@pytest.mark.parametrize("data, error", [
    ({"choice": "approve|", "reason": " "}, "Give a reason for settling"),
    ({"choice": "delete|", "reason": "x"}, "Pick one of the two reviews"),
    ({"choice": "refine|DROP TABLE", "reason": "x"}, "Pick one of the two reviews"),
])
def test_bad_settlements_are_refused_with_a_clear_error(drawn, team, alias, data, error):
    sample = dispute(alias, team)
    response = logged_in(team["lee"]).post(reverse("review:adjudicate-sample", args=[sample.pk]), data, **FETCH)
    assert response.status_code == 400 and error in response.json()["error"]
    assert Sample.objects.get(pk=sample.pk).state == SampleState.DISPUTED


def test_a_settlement_of_an_item_changed_since_is_refused(drawn, team, alias):
    sample = dispute(alias, team)
    response = logged_in(team["lee"]).post(reverse("review:adjudicate-sample", args=[sample.pk]),
                                           {"choice": "approve|", "reason": "ok", "version": alias.version + 5},
                                           **FETCH)
    assert response.status_code == 409 and "since you opened it" in response.json()["error"]


def test_a_sample_that_is_settled_cannot_be_settled_again(drawn, team, alias):
    sample = dispute(alias, team)
    lead = logged_in(team["lee"])
    lead.post(reverse("review:adjudicate-sample", args=[sample.pk]), {"choice": "approve|", "reason": "ok"})
    again = logged_in(team["liz"]).post(reverse("review:adjudicate-sample", args=[sample.pk]),
                                        {"choice": "reject|", "reason": "no"}, **FETCH)
    assert again.status_code == 409 and "not waiting for a lead" in again.json()["error"]
    assert logged_in(team["lee"]).post(reverse("review:adjudicate-sample", args=[99999]),
                                       {"choice": "reject|", "reason": "no"}).status_code == 404


@pytest.mark.parametrize("n", [3, 6])
def test_the_disagreements_page_queries_are_constant(drawn, team, curator, n, django_assert_num_queries):
    role = RoleFactory()
    for i in range(n):
        dispute(TitleAliasFactory(role=role, alias=f"Alias {i}", created_by=curator), team)
    client = logged_in(team["lee"])
    client.get(reverse("review:adjudicate"))  # warm the session and permission caches
    # 1 session, 2 user, 3 SAVEPOINT, 4 user permissions, 5 group permissions, 6 the count,
    # 7 the page of samples with items and roles, 8 their reviews, 9-10 the header's
    # notifications, 11 RELEASE SAVEPOINT.
    with django_assert_num_queries(11):
        response = client.get(reverse("review:adjudicate"))
    assert len(response.context["rows"]) == n


def test_the_queue_total_leaves_out_what_samples_hide_from_the_reviewer(drawn, team, curator):
    role = RoleFactory()
    first, *rest = [TitleAliasFactory(role=role, alias=f"Counted {i}", created_by=curator) for i in range(3)]
    services.approve_alias(alias=first, actor=team["ann"])
    page = logged_in(team["ann"]).get(reverse("review:aliases"))
    assert len(page.context["page"].object_list) == 2 and page.context["page"].count == 2
    assert logged_in(team["ben"]).get(reverse("review:aliases")).context["page"].count == 3
