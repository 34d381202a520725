"""The review pages: who may see and do what, CSRF, filters, threshold approval, query counts."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from review import services
from roles.models import ClassificationMapping, Decision, TitleAlias
from roles.services import save_alias
from tests.factories import (
    ClassificationMappingFactory,
    LevelFactory,
    RoleFactory,
    SpecializationFactory,
    TitleAliasFactory,
)
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db

USERS = ["anonymous", "curator", "reviewer", "superuser"]


def client_for(make_user, kind):
    client = Client()
    user = make_user(kind)
    if user is not None:
        client.force_login(user)
    return client, user


def page_urls(alias, mapping):
    return {
        "dashboard": reverse("review:dashboard"),
        "decisions": reverse("review:decisions") + "?mine=1",
        "aliases": reverse("review:aliases"),
        "mappings": reverse("review:mappings"),
        "mapping": reverse("review:mapping", args=[mapping.pk]),
        "codes": reverse("review:codes") + "?under=15-0000&q=data",
    }


@pytest.mark.parametrize("kind", USERS)
def test_pages_permission_matrix(make_user, alias, group_mapping, kind):
    """Anonymous users go to the admin login; curators, reviewers and superusers see every page."""
    client, _user = client_for(make_user, kind)
    for name, url in page_urls(alias, group_mapping).items():
        response = client.get(url)
        if kind == "anonymous":
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("admin:login") + "?next="), name
        else:
            assert response.status_code == 200, name


def decision_posts(alias, mapping):
    """Every decision a page can post: (name, url, data)."""
    return [
        ("alias-approve", reverse("review:alias-approve", args=[alias.pk]), {}),
        ("alias-reject", reverse("review:alias-reject", args=[alias.pk]), {"reason": "noise"}),
        ("alias-reopen", reverse("review:alias-reopen", args=[alias.pk]), {"reason": "again"}),
        ("alias-bulk", reverse("review:alias-bulk"), {"ids": [alias.pk], "action": "approve"}),
        ("alias-threshold", reverse("review:alias-threshold"), {"threshold": "0.5", "confirm": "1"}),
        ("mapping-approve", reverse("review:mapping-approve", args=[mapping.pk]), {"confirm_group_level": "1"}),
        ("mapping-reject", reverse("review:mapping-reject", args=[mapping.pk]), {"reason": "wrong"}),
        ("mapping-reopen", reverse("review:mapping-reopen", args=[mapping.pk]), {"reason": "again"}),
        ("mapping-refine", reverse("review:mapping-refine", args=[mapping.pk]), {"code": "15-2051"}),
    ]


EXPECTED_POST = {"anonymous": 302, "curator": 403, "reviewer": 302, "superuser": 302}


@pytest.mark.parametrize("kind", USERS)
def test_decisions_permission_matrix(make_user, alias, group_mapping, kind):
    """Only reviewers and superusers decide; a curator's POST is refused with 403, server-side."""
    client, _user = client_for(make_user, kind)
    for name, url, data in decision_posts(alias, group_mapping):
        response = client.post(url, data)
        assert response.status_code == EXPECTED_POST[kind], name
        if kind == "anonymous":
            assert response["Location"].startswith(reverse("admin:login")), name
    if kind in ("anonymous", "curator"):
        assert not Decision.objects.exists()
    else:
        assert Decision.objects.exists()


def test_threshold_preview_is_for_reviewers_only(make_user):
    client, _ = client_for(make_user, "curator")
    assert client.get(reverse("review:alias-threshold") + "?threshold=0.8").status_code == 403


def test_curator_sees_queues_without_decision_controls(make_user, alias, group_mapping):
    client, _ = client_for(make_user, "curator")
    urls = (reverse("review:aliases"), reverse("review:mappings"), reverse("review:mapping", args=[group_mapping.pk]))
    for url in urls:
        html = client.get(url).content.decode()
        assert 'class="approve"' not in html and 'class="reject"' not in html
        assert "deciding needs the reviewer role" in html or "/approve/" not in html
    assert "Data Wrangler" in client.get(reverse("review:aliases")).content.decode()


def test_reviewer_sees_decision_controls(make_user, alias):
    client, _ = client_for(make_user, "reviewer")
    html = client.get(reverse("review:aliases")).content.decode()
    assert reverse("review:alias-approve", args=[alias.pk]) in html
    assert 'name="ids"' in html and "Approve all matching" in html


@pytest.mark.parametrize("url_name", ["alias-approve", "alias-reject"])
def test_decisions_without_csrf_token_are_refused(make_user, alias, url_name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("reviewer"))
    response = client.post(reverse(f"review:{url_name}", args=[alias.pk]), {"reason": "x"})
    assert response.status_code == 403
    alias.refresh_from_db()
    assert alias.status == TitleAlias.Status.PENDING


def test_approve_and_reject_from_the_queue(make_user, role, curator):
    client, reviewer = client_for(make_user, "reviewer")
    good = TitleAliasFactory(role=role, alias="Data Analyst", created_by=curator)
    bad = TitleAliasFactory(role=role, alias="Data Analyst 1", created_by=curator)
    queue = reverse("review:aliases") + f"?role={role.code}"
    response = client.post(reverse("review:alias-approve", args=[good.pk]), {"next": queue}, follow=True)
    assert response.redirect_chain[-1][0] == queue
    assert "“Data Analyst” approved." in response.content.decode()
    response = client.post(reverse("review:alias-reject", args=[bad.pk]), {"reason": "", "next": queue}, follow=True)
    assert "Give a reason" in response.content.decode()
    client.post(reverse("review:alias-reject", args=[bad.pk]), {"reason": "numbered duplicate"})
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, good.decided_by) == ("approved", reviewer)
    assert bad.status == "rejected"
    assert Decision.objects.get(alias=bad).comment == "numbered duplicate"


def test_next_must_stay_on_site(make_user, alias):
    client, _ = client_for(make_user, "reviewer")
    response = client.post(reverse("review:alias-approve", args=[alias.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("review:aliases")


def test_four_eyes_refusal_is_shown(make_user, alias):
    client, editor = client_for(make_user, "reviewer")
    alias.alias = "Data Wrangler Senior"
    save_alias(alias=alias, actor=editor, reason="clarify")
    html = client.get(reverse("review:aliases")).content.decode()
    assert "Four-eyes: you wrote part of its content" in html
    response = client.post(reverse("review:alias-approve", args=[alias.pk]), follow=True)
    assert "You cannot approve the alias “Data Wrangler Senior”" in response.content.decode()
    alias.refresh_from_db()
    assert alias.status == "pending"


def test_queue_shows_what_changed(make_user, alias, curator):
    client, reviewer = client_for(make_user, "reviewer")
    services.approve_alias(alias=alias, actor=reviewer)
    alias.refresh_from_db()
    alias.alias = "Data Wrangler II"
    save_alias(alias=alias, actor=curator, reason="retitle")
    html = client.get(reverse("review:aliases")).content.decode()
    assert "<del>Data Wrangler</del> → <ins>Data Wrangler II</ins>" in html


def test_invalid_filter_shows_errors_not_everything(make_user, alias):
    client, _ = client_for(make_user, "reviewer")
    response = client.get(reverse("review:aliases") + "?band=purple&confidence_min=abc")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in html and "Enter a number" in html
    assert "Data Wrangler" not in html.split("</form>", 1)[1]


def test_filters_narrow_the_queue(make_user, role, curator):
    client, _ = client_for(make_user, "reviewer")
    other = RoleFactory()
    TitleAliasFactory(role=role, alias="Keep Me", confidence=Decimal("0.40"))
    TitleAliasFactory(role=role, alias="High One", confidence=Decimal("0.90"))
    TitleAliasFactory(role=other, alias="Other Role")
    html = client.get(reverse("review:aliases"), {"role": role.code.lower(), "band": "low"}).content.decode()
    assert "Keep Me" in html and "High One" not in html and "Other Role" not in html
    params = {"family": role.node.parent.code, "confidence_min": "0.8"}
    html = client.get(reverse("review:aliases"), params).content.decode()
    assert "High One" in html and "Keep Me" not in html


def test_default_sort_is_lowest_confidence_first(make_user, role):
    client, _ = client_for(make_user, "reviewer")
    TitleAliasFactory(role=role, alias="Zed High", confidence=Decimal("0.90"))
    TitleAliasFactory(role=role, alias="Alpha Low", confidence=Decimal("0.10"))
    html = client.get(reverse("review:aliases")).content.decode()
    assert html.index("Alpha Low") < html.index("Zed High")
    html = client.get(reverse("review:aliases"), {"sort": "-confidence"}).content.decode()
    assert html.index("Zed High") < html.index("Alpha Low")


def _shown(client, url: str) -> str:
    """The signed list of rows a queue or preview page showed."""
    html = client.get(url).content.decode()
    return re.search(r'name="shown" value="([^"]*)"', html).group(1)


def test_bulk_approve_reports_skips(make_user, role):
    client, reviewer = client_for(make_user, "reviewer")
    mine = TitleAliasFactory(role=role, alias="Mine", created_by=reviewer)
    theirs = TitleAliasFactory(role=role, alias="Theirs")
    data = {"ids": [mine.pk, theirs.pk], "action": "approve", "shown": _shown(client, reverse("review:aliases"))}
    response = client.post(reverse("review:alias-bulk"), data, follow=True)
    html = response.content.decode()
    assert "Approved 1 item; skipped 1." in html
    assert "Skipped “Mine”: four-eyes: you created it" in html


def test_bulk_decides_only_rows_of_the_page_shown_at_their_versions(make_user, role, curator):
    client, _ = client_for(make_user, "reviewer")
    shown_alias = TitleAliasFactory(role=role, alias="Shown", created_by=curator)
    changed = TitleAliasFactory(role=role, alias="Changed", created_by=curator)
    shown = _shown(client, reverse("review:aliases"))
    unseen = TitleAliasFactory(role=role, alias="Unseen", created_by=curator)
    changed.confidence = Decimal("0.95")
    save_alias(alias=changed, actor=curator, reason="more sure")
    url = reverse("review:alias-bulk")
    refused = client.post(url, {"ids": [shown_alias.pk, unseen.pk], "action": "approve", "shown": shown}, follow=True)
    assert "1 selected alias(es) were not on the page you saw." in refused.content.decode()
    forged = client.post(url, {"ids": [shown_alias.pk], "action": "approve", "shown": shown + "x"}, follow=True)
    assert "expired or was altered" in forged.content.decode()
    assert not Decision.objects.exists()
    response = client.post(url, {"ids": [shown_alias.pk, changed.pk], "action": "approve", "shown": shown},
                           follow=True)
    assert "Skipped “Changed”: changed since you saw it" in response.content.decode()
    assert TitleAlias.objects.get(pk=shown_alias.pk).status == "approved"
    assert TitleAlias.objects.get(pk=changed.pk).status == "pending"


def test_bulk_reject_needs_a_reason(make_user, alias):
    client, _ = client_for(make_user, "reviewer")
    data = {"ids": [alias.pk], "action": "reject", "shown": _shown(client, reverse("review:aliases"))}
    response = client.post(reverse("review:alias-bulk"), data, follow=True)
    assert "Give a reason to reject the selected aliases." in response.content.decode()
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


def test_threshold_preview_counts_then_confirm_decides(make_user, role):
    client, reviewer = client_for(make_user, "reviewer")
    TitleAliasFactory(role=role, alias="Low", confidence=Decimal("0.50"))
    TitleAliasFactory(role=role, alias="High", confidence=Decimal("0.85"))
    TitleAliasFactory(role=role, alias="Edge", confidence=Decimal("0.80"))
    TitleAliasFactory(role=role, alias="Own", confidence=Decimal("0.95"), created_by=reviewer)
    TitleAliasFactory(alias="Elsewhere", confidence=Decimal("0.99"))
    params = {"role": role.code, "threshold": "0.80"}
    html = client.get(reverse("review:alias-threshold"), params).content.decode()
    assert 'id="will-decide">2<' in html and "<strong>3</strong> matching" in html
    assert "1</strong> you created or changed will be skipped" in html
    assert not Decision.objects.exists()  # the preview decides nothing
    shown = re.search(r'name="shown" value="([^"]*)"', html).group(1)
    unsigned = client.post(reverse("review:alias-threshold"), {**params, "confirm": "1"}, follow=True)
    assert "The preview expired or was altered: nothing was approved." in unsigned.content.decode()
    response = client.post(reverse("review:alias-threshold"), {**params, "confirm": "1", "shown": shown}, follow=True)
    assert "Approved at confidence ≥ 0.80: 2 items." in response.content.decode()
    approved = set(TitleAlias.objects.approved().values_list("alias", flat=True))
    assert approved == {"High", "Edge"}


def test_threshold_post_without_confirm_only_previews(make_user, alias):
    client, _ = client_for(make_user, "reviewer")
    response = client.post(reverse("review:alias-threshold"), {"threshold": "0.1"})
    assert response.status_code == 200 and not Decision.objects.exists()


def test_mapping_review_page_shows_chain_titles_and_picker(make_user, group_mapping):
    client, _ = client_for(make_user, "reviewer")
    html = client.get(reverse("review:mapping", args=[group_mapping.pk])).content.decode()
    assert "Computer and Mathematical Occupations" in html
    assert "“&amp;” where the official title has “and”" in html
    assert 'name="confirm_group_level"' in html
    assert '<option value="15-2051">15-2051 Data Scientists</option>' in html
    detailed = ClassificationMappingFactory(occupation=soc("15-2051"))
    html = client.get(reverse("review:mapping", args=[detailed.pk])).content.decode()
    assert [c in html for c in ("15-2051", "15-2050", "15-2000", "15-0000")] == [True] * 4
    assert 'name="confirm_group_level"' not in html


def test_mapping_picker_search(make_user, group_mapping):
    client, _ = client_for(make_user, "reviewer")
    html = client.get(reverse("review:mapping", args=[group_mapping.pk]), {"q": "statistic"}).content.decode()
    assert "15-2041 Statisticians" in html and "15-2051 Data Scientists" not in html
    data = client.get(reverse("review:codes"), {"under": "15-0000", "q": "data scientist"}).json()
    first = data["results"][0]
    assert (first["code"], first["title"], first["relation"]) == ("15-2051", "Data Scientists", "refine")
    assert first["score"] is not None and data["scope"] == "under"
    assert all(r["code"].startswith("15-") and r["relation"] == "refine" for r in data["results"])


def test_code_search_ranks_every_detailed_code_for_a_replacement(make_user, group_mapping):
    client, _ = client_for(make_user, "reviewer")
    data = client.get(reverse("review:codes"), {"under": "15-0000", "q": "accountant", "scope": "all"}).json()
    codes = [r["code"] for r in data["results"]]
    assert "13-2011" in codes[:3]
    assert next(r for r in data["results"] if r["code"] == "13-2011")["relation"] == "replace"
    by_code = client.get(reverse("review:codes"), {"q": "13-20", "scope": "all"}).json()["results"]
    assert by_code and all(r["code"].startswith("13-20") for r in by_code)


@pytest.mark.parametrize(
    "params", [{"under": "15-00000"}, {"under": "x"}, {"scope": "bogus"}, {"q": "x" * 201}, {"under": "99-9999"}]
)
def test_code_search_refuses_bad_parameters(make_user, params):
    client, _ = client_for(make_user, "reviewer")
    response = client.get(reverse("review:codes"), params)
    assert response.status_code in (400, 404) and "errors" in response.json()


def test_group_level_approval_without_confirmation_is_refused(make_user, group_mapping):
    client, _ = client_for(make_user, "reviewer")
    response = client.post(reverse("review:mapping-approve", args=[group_mapping.pk]), follow=True)
    assert "tick “approve as group-level”" in response.content.decode()
    group_mapping.refresh_from_db()
    assert group_mapping.status == ClassificationMapping.Status.NEEDS_REVIEW


def test_refine_from_the_review_page(make_user, group_mapping):
    client, reviewer = client_for(make_user, "reviewer")
    response = client.post(reverse("review:mapping-refine", args=[group_mapping.pk]), {"code": "15-2051"}, follow=True)
    assert "Refined 15-0000 → 15-2051 Data Scientists and approved." in response.content.decode()
    group_mapping.refresh_from_db()
    assert (group_mapping.code, group_mapping.status, group_mapping.decided_by) == ("15-2051", "approved", reviewer)


# -- constant query counts -----------------------------------------------------------------------


def make_alias_rows(n, curator):
    for i in range(n):
        alias = TitleAliasFactory(role=RoleFactory(), alias=f"Analyst {i}", created_by=curator)
        if i == 0:
            # One edited alias per page, so the "what changed" query runs at both sizes.
            alias.confidence = Decimal("0.75")
            save_alias(alias=alias, actor=curator, reason="edit")


@pytest.mark.parametrize("n", [5, 10])
def test_alias_queue_queries_are_constant(make_user, curator, n, django_assert_num_queries):
    make_alias_rows(n, curator)
    client, _ = client_for(make_user, "reviewer")
    # 1 session, 2 user, 3 SAVEPOINT (ATOMIC_REQUESTS), 4 user permissions, 5 group permissions,
    # 6 the page of aliases with role, node, level, lease and their stored flags (a keyset page:
    # no OFFSET), 7 the people the rows name (the editor, here), 8 the exact count from the role
    # digests, 9 official titles equal to an alias, 10 history for "what changed", 11-12 the
    # header's notifications (unread count, latest), 13 whether another reviewer holds aliases
    # (the digests' count would include them), 14 the assignments past due (the rows' flag),
    # 15 RELEASE SAVEPOINT.
    with django_assert_num_queries(15):
        response = client.get(reverse("review:aliases"))
    assert len(response.context["rows"]) == n


@pytest.mark.parametrize("n", [5, 10])
def test_mapping_queue_queries_are_constant(make_user, curator, reference_soc, n, django_assert_num_queries):
    codes = ["15-2051", "15-2041", "15-1252", "15-1211", "15-0000", "15-1200", "15-2000", "15-1221",
             "15-1241", "15-2031"]
    for code in codes[:n]:
        ClassificationMappingFactory(occupation=soc(code), created_by=curator)
    client, _ = client_for(make_user, "reviewer")
    # 1 session, 2 user, 3 SAVEPOINT, 4 user permissions, 5 group permissions, 6 the keyset
    # page with role, node, level, occupation and its parent, reviewer, editor, 7 the exact
    # count from the role digests, 8-11 the nearest roles (levels, the roles' places in the
    # tree, the roles of their families, then of every role: the factories file no function),
    # 12 the neighbour roles, 13 their mappings, 14-15 the roles' aliases and components (what
    # the SOC coder reads), 16 their cached suggestions, then on a first visit 17 the suggested
    # codes' groups and 18 one upsert of the new suggestions; 19-20 the header's notifications;
    # 21 whether another reviewer holds mappings (the digests' count would include them), 22 the
    # assignments past due; last, RELEASE SAVEPOINT. (No row has a content change, so no history query.)
    with django_assert_num_queries(23):
        response = client.get(reverse("review:mappings"))
    assert len(response.context["rows"]) == n
    assert all(row["coder"].suggestions for row in response.context["rows"])
    with django_assert_num_queries(21):  # the suggestions are cached now
        client.get(reverse("review:mappings"))


@pytest.mark.parametrize("n", [5, 10])
def test_dashboard_queries_are_constant(make_user, curator, n, django_assert_num_queries):
    make_alias_rows(n, curator)
    client, reviewer = client_for(make_user, "reviewer")
    services.approve_aliases(aliases=TitleAlias.objects.all()[:2], actor=reviewer)
    # 1 session, 2 user, 3 SAVEPOINT, 4 user permissions, 5 group permissions, 6 the tally of
    # every role (by status, by band, filed under another code), 7 decisions per day, 8-9 what
    # four-eyes keeps from this reviewer (aliases, mappings), 10 the family tallies, 11 the
    # level tallies and 12 the levels' order, 13 my decisions this week, 14-15 the header's
    # notifications, 16 the reviewer's assignments (none here), 17 RELEASE SAVEPOINT.
    with django_assert_num_queries(17):
        response = client.get(reverse("review:dashboard"))
    assert response.status_code == 200
    assert "<svg" in response.content.decode()


@pytest.mark.parametrize("n", [5, 10])
def test_decision_log_queries_are_constant(make_user, curator, n, django_assert_num_queries):
    make_alias_rows(n, curator)
    client, reviewer = client_for(make_user, "reviewer")
    services.approve_aliases(aliases=TitleAlias.objects.all(), actor=reviewer)
    # 1 session, 2 user, 3 SAVEPOINT, 4 user permissions, 5 group permissions, 6 the keyset page
    # of decisions with actor, alias, mapping and their roles, 7 the count (capped),
    # 8-9 the header's notifications, 10 RELEASE SAVEPOINT.
    with django_assert_num_queries(10):
        response = client.get(reverse("review:decisions") + "?mine=1")
    assert len(response.context["page"].object_list) == n


def test_mapping_queue_shows_neighbours_and_flags_a_disagreeing_mapping(make_user, curator, reference_soc):
    spec = SpecializationFactory()
    p1, p2, p3 = (RoleFactory(node=spec, level=LevelFactory(code=f"P{rank}")) for rank in (1, 2, 3))
    ClassificationMappingFactory(role=p1, occupation=soc("15-2051"), created_by=curator)
    ClassificationMappingFactory(role=p3, occupation=soc("15-2000"), created_by=curator)
    odd = ClassificationMappingFactory(role=p2, occupation=soc("11-1011"), created_by=curator)
    client, _ = client_for(make_user, "reviewer")
    response = client.get(reverse("review:mappings"))
    rows = {row["item"].pk: row for row in response.context["rows"]}
    assert rows[odd.pk]["disagrees"] is True
    assert {n.role.code for n in rows[odd.pk]["neighbours"]} >= {p1.code, p3.code}
    assert [row["disagrees"] for pk, row in rows.items() if pk != odd.pk] == [False, False]
    assert "disagrees with neighbours" in response.content.decode()
