"""'Review next' on the desk: a batch per reviewer, the queue hides others' holds, refusals name the holder."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from roles.models import ClassificationMapping, Lease, TitleAlias
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory
from tests.review.conftest import logged_in, soc

pytestmark = pytest.mark.django_db



@pytest.fixture
def queue_rows(curator):
    role = RoleFactory(code="FAM.SPEC.P1")
    return [TitleAliasFactory(role=role, alias=f"Row {i:02}", confidence=Decimal(f"0.{10 + i}"), created_by=curator)
            for i in range(8)]


def test_review_next_leases_a_batch_and_shows_it(make_user, queue_rows, settings):
    settings.REVIEW_BATCH_SIZE = 3
    rita = make_user("reviewer", username="rita")
    client = logged_in(rita)
    response = client.post(reverse("review:alias-next"), {"sort": "-confidence"})
    assert response.status_code == 302
    assert response["Location"] == reverse("review:aliases") + "?sort=-confidence&held=mine"
    page = client.get(response["Location"])
    shown = [row["item"].pk for row in page.context["rows"]]
    assert shown == [a.pk for a in reversed(queue_rows[-3:])]
    assert all(row["hold"]["mine"] for row in page.context["rows"]) and 'data-batch="1"' in page.content.decode()
    assert "3 aliases are yours until" in page.content.decode()


def test_another_reviewers_batch_is_hidden_from_the_queue_and_shown_on_request(make_user, queue_rows, settings):
    settings.REVIEW_BATCH_SIZE = 3
    rita, rex = make_user("reviewer", username="rita"), make_user("reviewer")
    logged_in(rita).post(reverse("review:alias-next"))
    held = set(Lease.objects.values_list("alias_id", flat=True))
    client = logged_in(rex)
    page = client.get(reverse("review:aliases"))
    assert held.isdisjoint(row["item"].pk for row in page.context["rows"])
    assert page.context["page"].count == 5  # counted without them
    everything = client.get(reverse("review:aliases"), {"held": "all"}).content.decode()
    assert everything.count("held by rita until") == 3 and everything.count("rita holds it until") == 3
    # The next batch rex takes is disjoint from rita's.
    client.post(reverse("review:alias-next"))
    assert held.isdisjoint(Lease.objects.filter(holder=rex).values_list("alias_id", flat=True))


def test_a_decision_post_on_a_held_item_is_refused_with_the_holder(make_user, queue_rows, settings):
    settings.REVIEW_BATCH_SIZE = 1
    rita, rex = make_user("reviewer", username="rita"), make_user("reviewer")
    logged_in(rita).post(reverse("review:alias-next"))
    alias = TitleAlias.objects.get(pk=Lease.objects.get().alias_id)
    response = logged_in(rex).post(reverse("review:alias-approve", args=[alias.pk]), {"version": alias.version},
                                 HTTP_X_ROLEBOOK_FETCH="1")
    assert response.status_code == 409 and "held by rita for" in response.json()["error"]
    alias.refresh_from_db()
    assert alias.status == TitleAlias.Status.PENDING


def test_a_curator_cannot_take_a_batch(make_user, queue_rows):
    response = logged_in(make_user("curator")).post(reverse("review:alias-next"))
    assert response.status_code == 403 and not Lease.objects.exists()


@pytest.mark.parametrize("url", ["review:alias-next", "review:mapping-next", "review:alias-release",
                                 "review:mapping-release"])
def test_batches_are_taken_and_given_back_by_post_only_with_csrf(make_user, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("reviewer"))
    assert client.get(reverse(url)).status_code == 405
    assert client.post(reverse(url)).status_code == 403
    assert Client().post(reverse(url)).status_code == 302  # anonymous: to the login page


def test_nothing_left_to_take_says_so(make_user, queue_rows):
    rita = make_user("reviewer")
    response = logged_in(rita).post(reverse("review:alias-next"), {"role": "NO.SUCH.ROLE"}, follow=True)
    assert "Nothing left to take" in response.content.decode() and not Lease.objects.exists()


def test_an_invalid_filter_takes_nothing(make_user, queue_rows):
    response = logged_in(make_user("reviewer")).post(reverse("review:alias-next"), {"confidence_min": "lots"})
    assert response.status_code == 302 and not Lease.objects.exists()


def test_giving_the_batch_back_returns_it_to_the_queue(make_user, queue_rows, settings):
    settings.REVIEW_BATCH_SIZE = 2
    rita, rex = make_user("reviewer"), make_user("reviewer")
    client = logged_in(rita)
    client.post(reverse("review:alias-next"))
    response = client.post(reverse("review:alias-release"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("review:aliases") and not Lease.objects.exists()
    assert len(logged_in(rex).get(reverse("review:aliases")).context["rows"]) == 8


def test_the_mapping_queue_hands_out_batches_too(make_user, curator, reference_soc, settings):
    settings.REVIEW_BATCH_SIZE = 2
    mappings = [ClassificationMappingFactory(role=RoleFactory(), occupation=soc(code), created_by=curator)
                for code in ("15-2051", "15-1252", "15-2041")]
    rita, rex = make_user("reviewer"), make_user("reviewer")
    logged_in(rita).post(reverse("review:mapping-next"))
    logged_in(rex).post(reverse("review:mapping-next"))
    by_holder = {u.pk: set(Lease.objects.filter(holder=u).values_list("mapping_id", flat=True)) for u in (rita, rex)}
    assert len(by_holder[rita.pk]) == 2 and len(by_holder[rex.pk]) == 1
    assert by_holder[rita.pk] | by_holder[rex.pk] == {m.pk for m in mappings}
    assert ClassificationMapping.objects.count() == 3


@pytest.mark.parametrize("n", [4, 8])
def test_the_queue_with_holds_makes_the_same_queries_at_n_and_2n(make_user, curator, n, django_assert_num_queries,
                                                                  settings):
    settings.REVIEW_BATCH_SIZE = n
    role = RoleFactory()
    for _ in range(2 * n):
        TitleAliasFactory(role=role, confidence=Decimal("0.50"), created_by=curator)
    rita, rex = make_user("reviewer"), make_user("reviewer")
    logged_in(rita).post(reverse("review:alias-next"))
    client = logged_in(rex)
    client.get(reverse("review:aliases"), {"held": "all"})  # warm the session and caches
    with django_assert_num_queries(QUERIES_WITH_HOLDS):
        client.get(reverse("review:aliases"), {"held": "all"})


# The alias queue with holds shown (flags as stored), the people the rows name (the holder) and
# the assignments past due included.
QUERIES_WITH_HOLDS = 13
