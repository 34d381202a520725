"""The reviewer agreement page and its CSV (review:agreement, review:agreement-csv)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from roles import workflow
from roles.models import DecisionKind
from tests.factories import RoleFactory, TitleAliasFactory, UserFactory
from tests.review.conftest import logged_in

pytestmark = pytest.mark.django_db

URLS = ("review:agreement", "review:agreement-csv")


@pytest.fixture
def sampling(settings):
    """Every reviewer's decision on an open item is drawn for a second, blind review."""
    settings.REVIEW_SAMPLE_SHARE = 1.0


def reviewed_samples(n: int, first, second, curator) -> None:
    """`n` aliases, each reviewed blind by `first` then `second`; every third one they disagree on."""
    role = RoleFactory()
    for i in range(n):
        alias = TitleAliasFactory(role=role, alias=f"Sampled {i}", created_by=curator)
        workflow.decide(alias, kind=DecisionKind.APPROVE, actor=first)
        if i % 3 == 0:
            workflow.decide(alias, kind=DecisionKind.REJECT, actor=second, reason="Not a title people use.")
        else:
            workflow.decide(alias, kind=DecisionKind.APPROVE, actor=second)


def test_the_page_shows_the_figures_with_their_counts(make_user, sampling):
    curator, ann, bob = make_user("curator"), make_user("reviewer"), make_user("reviewer")
    reviewed_samples(6, ann, bob, curator)

    response = logged_in(ann).get(reverse("review:agreement"))

    assert response.status_code == 200
    text = response.content.decode()
    figures = response.context["figures"]
    assert figures.measured == 6 and figures.by_state["disputed"] == 2
    assert "6 measured samples with two blind reviews: 4 agreed, 0 settled by a lead" in " ".join(text.split())
    # 4 of 6 agree: the share to 3 decimals, with its n beside it.
    assert "<td>0.667</td><td>6</td>" in text
    assert f"{ann.username} and {bob.username}" in text or f"{bob.username} and {ann.username}" in text
    assert "<caption>" in text and reverse("review:agreement-csv") in text
    # Nothing on mappings yet: undefined, with the reason.
    assert "undefined <span class=\"muted\">(fewer than 2 items)</span>" in text


def test_the_page_with_no_samples_says_so(make_user):
    response = logged_in(make_user("lead")).get(reverse("review:agreement"))
    assert response.status_code == 200
    assert "0 measured samples" in response.content.decode()
    assert "No measured samples yet." in response.content.decode()


def test_the_dashboard_links_the_page_for_reviewers_only(make_user):
    link = reverse("review:agreement")
    assert link in logged_in(make_user("reviewer")).get(reverse("review:dashboard")).content.decode()
    assert link not in logged_in(make_user("curator")).get(reverse("review:dashboard")).content.decode()


def test_the_csv_is_a_download_of_every_figure(make_user, sampling):
    curator, ann, bob = make_user("curator"), make_user("reviewer"), make_user("reviewer")
    reviewed_samples(6, ann, bob, curator)

    response = logged_in(make_user("lead")).get(reverse("review:agreement-csv"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="rolebook-agreement.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == ["figure", "scope", "value", "n", "note"]
    by_key = {(row["figure"], row["scope"]): row for row in rows}
    assert by_key[("agreement", "all")]["value"] == "0.666667" and by_key[("agreement", "all")]["n"] == "6"
    assert by_key[("samples_by_state", "agreed")]["n"] == "4"
    assert by_key[("alpha_by_item_type", "mapping")] == {
        "figure": "alpha_by_item_type", "scope": "mapping", "value": "", "n": "0", "note": "fewer than 2 items"}
    assert (("agreement_with_settled_by_reviewer", ann.username)) in by_key


def test_the_csv_escapes_reviewer_names_a_spreadsheet_would_run(make_user, sampling):
    curator = make_user("curator")
    # Django's username rules allow a leading + - @; none may reach a spreadsheet as a formula.
    plus, at = make_user("reviewer", username="+1+cmd"), make_user("reviewer", username="@SUM")
    reviewed_samples(3, plus, at, curator)

    response = logged_in(plus).get(reverse("review:agreement-csv"))

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    scopes = {row[1] for row in rows[1:]}
    assert "'+1+cmd" in scopes and "'@SUM" in scopes and "'+1+cmd / @SUM" in scopes
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row if not _number(cell))


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", URLS)
def test_curators_and_staff_without_review_permission_are_refused(make_user, name):
    for user in (make_user("curator"), UserFactory(is_staff=True)):
        assert logged_in(user).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", URLS)
def test_anonymous_users_are_sent_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("name", URLS)
def test_reviewers_leads_and_superusers_may_read_the_figures(make_user, name):
    for kind in ("reviewer", "lead", "superuser"):
        assert logged_in(make_user(kind)).get(reverse(name)).status_code == 200, kind


@pytest.mark.parametrize("name", URLS)
def test_the_figures_are_read_only(make_user, name):
    assert logged_in(make_user("reviewer")).post(reverse(name)).status_code == 405


@pytest.mark.parametrize("n", [6, 12])
def test_the_page_runs_a_constant_number_of_queries(make_user, sampling, n, django_assert_num_queries):
    curator, ann, bob, cy = (make_user(kind) for kind in ("curator", "reviewer", "reviewer", "reviewer"))
    reviewed_samples(n // 2, ann, bob, curator)
    reviewed_samples(n - n // 2, cy, ann, curator)
    client = logged_in(make_user("lead"))
    # 1 session, 2 user, 3 SAVEPOINT (ATOMIC_REQUESTS), 4 user permissions, 5 group permissions
    # (can_view), 6 the reviews of measured samples with reviewer, code and family, 7 samples by
    # state (roles.agreement.QUERIES), 8-9 the header's notifications (unread count, latest),
    # 10 RELEASE SAVEPOINT.
    with django_assert_num_queries(10):
        response = client.get(reverse("review:agreement"))
    assert response.context["figures"].measured == n
    assert len(response.context["figures"].pairs) == 2
