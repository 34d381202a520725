"""The review desk's server side: undo, decisions answered as JSON, the decision log's filters,
named bulk results, the threshold that stays, landing pages and styled errors."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from review import services
from roles.models import Decision, TitleAlias
from tests.factories import RoleFactory, TitleAliasFactory

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_ROLEBOOK_FETCH": "1"}


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _undo_token(response) -> str:
    html = response.content.decode()
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


# -- decisions and undo ---------------------------------------------------------------------------


def test_a_decision_answers_json_to_the_queues_script(make_user, alias):
    client = _client(make_user("reviewer"))
    response = client.post(reverse("review:alias-approve", args=[alias.pk]), {"version": alias.version}, **FETCH)
    data = response.json()
    assert response.status_code == 200 and data["ok"] is True
    assert (data["message"], data["status"], data["status_label"]) == ("“Data Wrangler” approved.", "approved",
                                                                       "Approved")
    assert data["undo_token"]
    again = client.post(reverse("review:alias-approve", args=[alias.pk]), {}, **FETCH)
    assert again.status_code == 409 and "was already approved by" in again.json()["error"]
    missing = client.post(reverse("review:alias-reject", args=[alias.pk]), {"reason": " "}, **FETCH)
    assert missing.status_code == 400 and "Give a reason" in missing.json()["error"]


def test_undo_reopens_what_was_just_decided_with_the_reason_undo(make_user, alias):
    reviewer = make_user("reviewer")
    client = _client(reviewer)
    decided = client.post(reverse("review:alias-approve", args=[alias.pk]), follow=True)
    token = _undo_token(decided)
    response = client.post(reverse("review:undo"), {"token": token}, follow=True)
    assert "Undone: “Data Wrangler” back to review." in response.content.decode()
    alias.refresh_from_db()
    assert alias.status == "pending"
    reopen = Decision.objects.filter(alias=alias).order_by("-created_at", "-pk").first()
    assert (reopen.decision, reopen.comment, reopen.actor) == ("reopen", "undo", reviewer)
    # Undoing twice does nothing more.
    again = client.post(reverse("review:undo"), {"token": token}, follow=True)
    assert "Nothing was undone." in again.content.decode()


def test_undo_is_the_deciders_own_and_expires(make_user, alias, settings):
    reviewer, other = make_user("reviewer"), make_user("reviewer")
    decided = _client(reviewer).post(reverse("review:alias-approve", args=[alias.pk]), follow=True)
    token = _undo_token(decided)
    stolen = _client(other).post(reverse("review:undo"), {"token": token}, **FETCH)
    assert stolen.status_code == 400 and "not yours" in stolen.json()["error"]
    forged = _client(reviewer).post(reverse("review:undo"), {"token": token[:-2] + "xx"}, **FETCH)
    assert forged.status_code == 400
    settings.REVIEW_UNDO_SECONDS = 0
    import time

    time.sleep(1.1)
    late = _client(reviewer).post(reverse("review:undo"), {"token": token}, **FETCH)
    assert late.status_code == 400 and "Too late to undo" in late.json()["error"]
    assert TitleAlias.objects.get(pk=alias.pk).status == "approved"


def test_the_undo_service_skips_what_changed_since_or_is_too_old(make_user, role):
    reviewer, other = make_user("reviewer"), make_user("reviewer")
    creator = make_user("curator")
    mine = TitleAliasFactory(role=role, created_by=creator)
    theirs = TitleAliasFactory(role=role, created_by=creator)
    services.approve_alias(alias=mine, actor=reviewer)
    services.approve_alias(alias=theirs, actor=other)
    result = services.undo_decisions(model=TitleAlias, pks=[mine.pk, theirs.pk], actor=reviewer, window_seconds=600)
    assert [a.pk for a in result.decided] == [mine.pk]
    assert [s.reason for s in result.skipped] == ["its last decision is not yours to undo"]
    old = TitleAliasFactory(role=role, created_by=creator)
    services.approve_alias(alias=old, actor=reviewer)
    Decision.objects.filter(alias=old).update(created_at=timezone.now() - timedelta(minutes=11))
    result = services.undo_decisions(model=TitleAlias, pks=[old.pk], actor=reviewer, window_seconds=600)
    assert not result.decided and "too late to undo" in result.skipped[0].reason


def test_a_bulk_result_names_what_it_decided_and_offers_undo(make_user, role):
    client = _client(make_user("reviewer"))
    creator = make_user("curator")
    for i in range(23):
        TitleAliasFactory(role=role, alias=f"Bulk Alias {i:02d}", created_by=creator)
    html = client.get(reverse("review:aliases"), {"role": role.code}).content.decode()
    shown = re.search(r'name="shown" value="([^"]*)"', html).group(1)
    ids = list(TitleAlias.objects.filter(role=role).values_list("pk", flat=True))
    response = client.post(reverse("review:alias-bulk"), {"ids": ids, "action": "approve", "shown": shown},
                           follow=True)
    text = response.content.decode()
    assert "Approved 23 items. “Bulk Alias 00”" in text and "and 3 more." in text
    undo = client.post(reverse("review:undo"), {"token": _undo_token(response)}, follow=True)
    assert "back to review" in undo.content.decode()
    assert not TitleAlias.objects.filter(role=role, status="approved").exists()


def test_the_threshold_stays_in_the_address_and_the_box(make_user, alias):
    client = _client(make_user("reviewer"))
    html = client.get(reverse("review:aliases"), {"threshold": "0.65"}).content.decode()
    assert 'name="threshold" value="0.65"' in html
    preview = client.get(reverse("review:alias-threshold"), {"threshold": "0.65"}).content.decode()
    assert 'id="threshold-items"' in preview


# -- the decision log ------------------------------------------------------------------------------


def test_the_decision_log_filters_by_actor_kind_day_and_role(make_user):
    a, b = make_user("reviewer"), make_user("reviewer")
    creator = make_user("curator")
    first, second = RoleFactory(), RoleFactory()
    one = TitleAliasFactory(role=first, created_by=creator)
    two = TitleAliasFactory(role=second, created_by=creator)
    services.approve_alias(alias=one, actor=a)
    services.reject_alias(alias=two, actor=b, reason="no")
    client = _client(a)
    url = reverse("review:decisions")

    def shown(**params):
        return [d.pk for d in client.get(url, params).context["page"].object_list]

    assert len(shown()) == 2
    assert shown(actor=a.username) == list(Decision.objects.filter(actor=a).values_list("pk", flat=True))
    assert shown(decision="reject") == list(Decision.objects.filter(decision="reject").values_list("pk", flat=True))
    assert shown(role=second.code.lower()) == shown(decision="reject")
    today = timezone.now().date()
    assert len(shown(since=today.isoformat(), until=today.isoformat())) == 2
    assert shown(since=(today + timedelta(days=1)).isoformat()) == []
    bad = client.get(url, {"since": "yesterday", "decision": "bribe"})
    assert bad.status_code == 400 and "Enter a valid date" in bad.content.decode()


# -- the role lookup (compare's autocomplete) --------------------------------------------------------


def test_the_role_lookup_answers_codes_and_titles(make_user, seed_role):
    client = _client(make_user("curator"))
    data = client.get(reverse("roles:lookup"), {"q": "aimlam"}).json()
    assert data["results"] == [{"code": "AIMLAM.GEN.P1", "title": "Entry-Level AI/ML Engineer"}]
    assert client.get(reverse("roles:lookup"), {"q": "ai/ml eng"}).json()["results"][0]["code"] == "AIMLAM.GEN.P1"
    assert client.get(reverse("roles:lookup"), {"q": ""}).status_code == 400
    assert client.get(reverse("roles:lookup"), {"q": "x" * 101}).status_code == 400
    assert Client().get(reverse("roles:lookup"), {"q": "ai"}).status_code == 302


# -- landing, the admin index, errors -----------------------------------------------------------------


@pytest.mark.parametrize("kind, landing", [("reviewer", "/review/"), ("curator", "/admin/"), ("superuser", "/admin/")])
def test_each_person_lands_on_their_work(make_user, kind, landing):
    user = make_user(kind)
    user.set_password("pw")
    user.save()
    client = Client()
    response = client.post(reverse("admin:login"), {"username": user.username, "password": "pw"})
    assert response.status_code == 302 and response["Location"] == landing
    assert client.get("/")["Location"] == landing
    # An address asked for is honoured; an address off the site is not.
    asked = Client().post(reverse("admin:login") + "?next=/roles/", {"username": user.username, "password": "pw",
                                                                      "next": "/roles/"})
    assert asked["Location"] == "/roles/"
    evil = Client().post(reverse("admin:login"), {"username": user.username, "password": "pw",
                                                  "next": "https://evil.example/"})
    assert evil["Location"] == landing


def test_the_admin_index_shows_what_waits_for_you(make_user, alias):
    html = _client(make_user("reviewer")).get(reverse("admin:index")).content.decode()
    panel = html.split('id="rolebook-panel"')[1].split("</div>")[0]
    assert "1 alias</a>" in panel and "0 mappings</a>" in panel
    curator_panel = _client(alias.created_by).get(reverse("admin:index")).content.decode()
    assert "deciding needs the Reviewers group" in curator_panel


def test_a_403_says_what_to_do_next(make_user):
    response = _client(make_user("curator")).get(reverse("releases:release"))
    html = response.content.decode()
    assert response.status_code == 403
    assert "Exporting a release needs the review permission" in html and "Reviewers" in html
    assert 'id="header"' in html  # the site's chrome, not a bare "403 Forbidden"


def test_a_404_points_back_to_the_roles(make_user):
    response = _client(make_user("curator")).get("/roles/NOPE.NOPE.P1/")
    assert response.status_code == 404 and "searching the roles" in response.content.decode()


# -- the history's whole-word diff ---------------------------------------------------------------


def test_the_history_diff_cuts_at_words(make_user, seed_role):
    from framework.admin import WholeWordDiff

    old = ("They require close guidance and mentorship to perform tasks and they learn quickly from the team, "
           "working independently on small components after a few months in the role.")
    new = old.replace("working independently", "working more and more independently")
    before, after = WholeWordDiff(max_length=80).common_shorten_repr(old, new)
    assert "[" not in after and "chars]" not in after
    assert after.startswith("… ") and "working more and more independently" in after
    assert all(word in new.split(" ") or word == "…" for word in after.split(" "))
    superuser = make_user("superuser")
    seed_role.summary = new
    from roles.services import save_role

    save_role(role=seed_role, actor=superuser, reason="longer")
    page = _client(superuser).get(reverse("admin:roles_role_history", args=[seed_role.pk])).content.decode()
    assert "chars]" not in page and "more and more independently" in page


def test_a_decision_on_a_page_of_the_queue_keeps_the_query_counts(make_user, role):
    creator = make_user("curator")
    for i in range(3):
        TitleAliasFactory(role=role, confidence=Decimal("0.70"), created_by=creator, alias=f"Row {i}")
    response = _client(make_user("reviewer")).get(reverse("review:aliases"))
    assert response.status_code == 200
    assert 'id="queue-first"' in response.content.decode()
