"""The SOC coder in the review: suggestions on the mapping pages, refine and replace, the flags."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.http import urlencode

from review import selectors, services
from roles.models import ClassificationMapping, Decision, Role, RoleSuggestions, TitleAlias
from roles.services import save_alias
from roles.soc import cached_suggestions, suggest_mappings
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory
from tests.review.conftest import logged_in, soc

pytestmark = pytest.mark.django_db



@pytest.fixture
def seed_mapping(seed_role):
    return ClassificationMapping.objects.get(role=seed_role)


@pytest.fixture
def accounting_manager(make_user, reference_soc):
    """An "Accounting Manager" whose inferred group (13-0000) is wrong: it is 11-3031 Financial Managers."""
    role = RoleFactory(
        title="Accounting Manager",
        headline="Directs the accounting department and the financial reporting of the company.",
        who_does_this_work="A manager of accountants who owns the ledger, the budget and the audit.",
        plan=["Plan, direct and coordinate accounting and financial reporting.", "Prepare budgets."],
    )
    for text in ("Accounting Manager", "Controller", "Finance Manager"):
        TitleAliasFactory(role=role, alias=text)
    return ClassificationMappingFactory(
        role=role, occupation=soc("13-0000"), title="Business and Financial Operations Occupations",
        source=ClassificationMapping.Source.INFERRED_FROM_SUPERFUNCTION, created_by=make_user("curator"),
    )


# -- what the reviewer sees ----------------------------------------------------------------------


def test_the_seeds_group_mapping_gets_a_ranked_detailed_code_with_evidence(make_user, seed_mapping):
    html = logged_in(make_user("reviewer")).get(reverse("review:mapping", args=[seed_mapping.pk])).content.decode()
    section = html.split('id="coder"')[1].split("</section>")[0]
    codes = re.findall(r'data-code="([0-9-]+)"', section)
    assert len(codes) == 5 and set(codes) & {"15-1221", "15-2051", "15-1299"}
    assert "Why" in section and "O*NET alternate title" in section
    assert "Computer and Mathematical Occupations ›" in section  # its place in the hierarchy
    assert section.count(">Refine to 15-") >= 1
    assert "CC BY 4.0" in html and "O*NET" in html.split('id="onet-attribution"')[1]


def test_one_click_refines_to_a_suggestion_under_the_group(make_user, seed_mapping):
    reviewer = make_user("reviewer")
    client = logged_in(reviewer)
    html = client.get(reverse("review:mappings")).content.decode()
    pattern = r'<form method="post" action="(/review/mappings/\d+/refine/)" class="suggestion-refine">(.*?)</form>'
    form = re.search(pattern, html, re.S)
    data = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    response = client.post(form.group(1), data, follow=True)
    seed_mapping.refresh_from_db()
    assert seed_mapping.status == "approved" and seed_mapping.previous_code == "15-0000"
    assert seed_mapping.code == data["code"] and seed_mapping.code.startswith("15-")
    assert f"Refined 15-0000 → {seed_mapping.code}" in response.content.decode()
    decision = Decision.objects.get(mapping=seed_mapping)
    assert (decision.decision, decision.actor, decision.old_code) == ("refine", reviewer, "15-0000")


def test_a_suggestion_outside_the_group_is_a_replacement_with_a_reason(make_user, accounting_manager):
    reviewer = make_user("reviewer")
    client = logged_in(reviewer)
    html = client.get(reverse("review:mapping", args=[accounting_manager.pk])).content.decode()
    assert 'id="replace-11-3031"' in html  # the coder's best answer, outside 13-0000
    url = reverse("review:mapping-replace", args=[accounting_manager.pk])
    refused = client.post(url, {"code": "11-3031", "reason": "", "confirm_wrong_group": "1"}, follow=True)
    assert "Give a reason to replace" in refused.content.decode()
    unconfirmed = client.post(url, {"code": "11-3031", "reason": "a manager"}, follow=True)
    assert "Tick “the current code is wrong”" in unconfirmed.content.decode()
    done = client.post(url, {"code": "11-3031", "reason": "a manager, not a clerk", "confirm_wrong_group": "1",
                             "version": accounting_manager.version}, follow=True)
    assert "Replaced 13-0000 → 11-3031 Financial Managers and approved." in done.content.decode()
    accounting_manager.refresh_from_db()
    assert (accounting_manager.code, accounting_manager.previous_code, accounting_manager.status) == (
        "11-3031", "13-0000", "approved")
    decision = Decision.objects.get(mapping=accounting_manager)
    assert (decision.decision, decision.old_code, decision.new_code, decision.comment) == (
        "replace", "13-0000", "11-3031", "a manager, not a clerk")
    latest = accounting_manager.history.first()
    assert latest.history_user == reviewer and "13-0000 → 11-3031" in latest.history_change_reason


def test_replace_follows_four_eyes_and_refuses_a_code_under_the_group(make_user, accounting_manager):
    creator = type(accounting_manager.created_by).objects.get(pk=accounting_manager.created_by_id)
    from django.contrib.auth.models import Group

    creator.groups.add(Group.objects.get(name="Reviewers"))
    creator = type(creator).objects.get(pk=creator.pk)
    with pytest.raises(services.FourEyesViolation):
        services.replace_mapping(mapping=accounting_manager, actor=creator, code="11-3031", reason="x",
                                 confirm_wrong_group=True)
    with pytest.raises(services.InvalidCode, match="refine the mapping to it instead"):
        services.replace_mapping(mapping=accounting_manager, actor=make_user("reviewer"), code="13-2011",
                                 reason="x", confirm_wrong_group=True)
    with pytest.raises(services.InvalidCode, match="not a detailed occupation"):
        services.replace_mapping(mapping=accounting_manager, actor=make_user("reviewer"), code="11-3000",
                                 reason="x", confirm_wrong_group=True)


def test_refine_outside_the_group_points_to_replace(make_user, accounting_manager):
    with pytest.raises(services.InvalidCode, match="replace the code if the group itself is wrong"):
        services.refine_mapping(mapping=accounting_manager, actor=make_user("reviewer"), code="11-3031")


# -- the disagreement flag -------------------------------------------------------------------------


def test_the_disagreement_flag_and_its_filter_agree(make_user, accounting_manager, seed_mapping, reference_soc):
    curator = make_user("curator")
    role = accounting_manager.role
    agreeing = ClassificationMappingFactory(role=role, occupation=soc("11-3031"), created_by=curator)
    healthcare = ClassificationMappingFactory(role=role, occupation=soc("29-0000"), created_by=curator)
    dentists = ClassificationMappingFactory(role=role, occupation=soc("29-1021"), created_by=curator)
    client = logged_in(make_user("reviewer"))
    page = client.get(reverse("review:mappings")).content.decode()  # fills the cache for the page's roles
    rows = {r["item"].pk: r["coder"].disagrees for r in client.get(reverse("review:mappings")).context["rows"]}
    assert rows[healthcare.pk] == "none of the coder's top 3 lies under 29-0000"
    assert rows[dentists.pk] == "29-1021 is not among the coder's top 5"
    assert rows[agreeing.pk] == rows[seed_mapping.pk] == ""
    flagged = client.get(reverse("review:mappings"), {"flag": "coder_disagrees"}).context["rows"]
    flagged_pks = {r["item"].pk for r in flagged}
    assert {healthcare.pk, dentists.pk} <= flagged_pks and not {agreeing.pk, seed_mapping.pk} & flagged_pks
    assert flagged_pks == {pk for pk, why in rows.items() if why}
    assert "disagrees with the coder" in page


def test_a_detailed_code_outside_the_top_five_is_flagged(make_user, seed_role, reference_soc):
    dentist = ClassificationMappingFactory(role=seed_role, occupation=soc("29-1021"), created_by=make_user("curator"))
    views = selectors.coder_views([ClassificationMapping.objects.select_related("occupation", "role").get(
        pk=dentist.pk)])
    assert views[dentist.pk].disagrees == "29-1021 is not among the coder's top 5"


# -- the cache -------------------------------------------------------------------------------------


def test_suggestions_are_cached_per_role_and_recomputed_when_its_text_changes(
    make_user, seed_role, django_assert_num_queries
):
    first = cached_suggestions([seed_role])[seed_role.pk]
    row = RoleSuggestions.objects.get(role=seed_role)
    role = Role.objects.get(pk=seed_role.pk)
    # Queries when cached: the role's aliases, its components, its cached row.
    with django_assert_num_queries(3):
        again = cached_suggestions([role])[seed_role.pk]
    assert again == first
    alias = seed_role.aliases.first()
    alias.alias = "Dental Hygienist"
    save_alias(alias=alias, actor=make_user("curator"), reason="test")
    cached_suggestions([Role.objects.get(pk=seed_role.pk)])
    assert RoleSuggestions.objects.get(role=seed_role).content_hash != row.content_hash


def test_the_queue_shows_a_stale_row_and_leaves_its_recomputation_to_the_task_worker(
    make_user, seed_mapping, database_backend
):
    from django_tasks_db.models import DBTaskResult

    from roles.tasks import refresh_suggestions

    reviewer, role = make_user("reviewer"), seed_mapping.role
    client = logged_in(reviewer)
    client.get(reverse("review:mappings"))  # no row yet: computed in the request
    row = RoleSuggestions.objects.get(role=role)
    alias = role.aliases.first()
    alias.alias = "Dental Hygienist"
    save_alias(alias=alias, actor=make_user("curator"), reason="test")
    DBTaskResult.objects.all().delete()

    page = client.get(reverse("review:mappings")).content.decode()
    assert f'data-code="{row.suggestions[0]["code"]}"' in page  # the row it had, at once
    assert RoleSuggestions.objects.get(role=role).content_hash == row.content_hash  # not recomputed here
    job = DBTaskResult.objects.get(task_path=refresh_suggestions.module_path)
    assert job.args_kwargs["args"] == [[role.pk]]

    assert refresh_suggestions.call([role.pk]) == 1  # what the worker runs
    assert RoleSuggestions.objects.get(role=role).content_hash != row.content_hash
    # The mapping's own page never shows a stale row: one role is computed in the request.
    alias.alias = "Dental Assistant"
    save_alias(alias=alias, actor=make_user("curator"), reason="test")
    before = RoleSuggestions.objects.get(role=role).content_hash
    client.get(reverse("review:mapping", args=[seed_mapping.pk]))
    assert RoleSuggestions.objects.get(role=role).content_hash != before


# -- suggested mappings ---------------------------------------------------------------------------


def test_suggested_mappings_wait_for_review_and_their_creator_cannot_approve(make_user, reference_soc):
    role = RoleFactory(title="Registered Nurse", headline="Cares for patients in a hospital ward.")
    creator = make_user("superuser")
    result = suggest_mappings(roles=[role], actor=creator)
    mapping = result.created[0]
    mapping.refresh_from_db()
    assert (mapping.code, mapping.status, mapping.source) == ("29-1141", "needs_review", "suggested")
    assert mapping.suggested_score is not None and mapping.coder_version.startswith("nb-fusion")
    assert mapping.history.get().history_change_reason.startswith("SOC coder suggestion")
    with pytest.raises(services.FourEyesViolation):
        services.approve_mapping(mapping=mapping, actor=creator)
    assert services.approve_mapping(mapping=mapping, actor=make_user("reviewer")).status == "approved"
    again = suggest_mappings(roles=[role], actor=creator)
    assert not again.created and "already has a detailed mapping" in again.passed[0][1]


def test_the_suggest_mappings_command(make_user, seed_role, reference_soc):
    out = StringIO()
    call_command("suggest_mappings", "--roles", "AIMLAM.GEN.P1", "--dry-run", stdout=out)
    assert "Would suggest 1 mapping(s) for 1 role(s)" in out.getvalue()
    assert not ClassificationMapping.objects.filter(source="suggested").exists()
    operator = make_user("reviewer", username="operator")
    call_command("suggest_mappings", "--all", "--min-score", "0.99", "--as", "operator", stdout=out)
    assert "Suggested 0 mapping(s)" in out.getvalue()
    call_command("suggest_mappings", "--all", "--as", "operator", stdout=out)
    suggested = ClassificationMapping.objects.get(source="suggested")
    assert suggested.code in {"15-1221", "15-2051", "15-1299"}
    assert suggested.created_by == operator
    for args, flag in ((["--roles", "NOPE.X.P1", "--as", "operator"], "--roles"),
                       (["--all", "--min-score", "2", "--as", "operator"], "min-score"),
                       (["--all", "--as", "ghost"], "--as"), (["--all"], "--as USERNAME is required")):
        with pytest.raises(CommandError, match=re.escape(flag)):
            call_command("suggest_mappings", *args, stdout=StringIO())


def test_the_admin_action_suggests_mappings(make_user, seed_role, reference_soc):
    client = logged_in(make_user("curator"))
    response = client.post(reverse("admin:roles_role_changelist"),
                           {"action": "suggest_soc_mappings", "_selected_action": [seed_role.pk]}, follow=True)
    assert "Suggested 1 mapping(s), waiting for review: AIMLAM.GEN.P1 → 15-" in response.content.decode()
    reviewer_client = logged_in(make_user("reviewer"))
    refused = reviewer_client.post(reverse("admin:roles_role_changelist"),
                                   {"action": "suggest_soc_mappings", "_selected_action": [seed_role.pk]})
    assert refused.status_code in (200, 302, 403)
    assert ClassificationMapping.objects.filter(source="suggested").count() == 1


def test_a_suggested_mapping_prints_on_the_card_and_imports_back(make_user, seed_role, reference_soc):
    from roles.cards.parser import parse_card
    from roles.cards.renderer import render_card

    suggest_mappings(roles=[seed_role], actor=make_user("curator"))
    card = render_card(seed_role)
    assert "source=suggestedreviewStatus=needs_review" in card
    assert [m.source for m in parse_card(card).mappings] == ["inferred_from_superfunction", "suggested"]


# -- alias evidence -------------------------------------------------------------------------------


def test_the_alias_queue_says_under_which_code_an_alias_is_official(make_user, seed_role, reference_soc,
                                                                      reference_titles):
    mapping = ClassificationMapping.objects.get(role=seed_role)
    services.refine_mapping(mapping=mapping, actor=make_user("reviewer"), code="15-2051")
    TitleAliasFactory(role=seed_role, alias="Machine Learning Engineer")
    TitleAliasFactory(role=seed_role, alias="Accountant")
    client = logged_in(make_user("reviewer"))
    html = client.get(reverse("review:aliases"), {"role": "AIMLAM.GEN.P1"}).content.decode()
    assert "O*NET alternate title under <strong>15-2051.00</strong>" in html
    assert "BLS direct-match title under <strong>13-2011</strong>" in html
    flagged = client.get(reverse("review:aliases"), {"flag": "reference_elsewhere"}).context["rows"]
    assert [r["item"].alias for r in flagged] == ["Accountant"]
    dashboard = client.get(reverse("review:dashboard")).content.decode()
    assert "1 pending\n    alias officially filed under another SOC code" in dashboard
    assert TitleAlias.objects.filter(alias="Accountant").exists()


# -- Where a decision on the mapping's page lands --------------------------------------------------


def test_refine_and_replace_on_the_mapping_page_both_return_to_the_queue_page_it_was_opened_from(
    make_user, seed_mapping, accounting_manager
):
    client = logged_in(make_user("reviewer"))
    queue = reverse("review:mappings") + "?family=&sort=code"
    page = client.get(reverse("review:mapping", args=[seed_mapping.pk]), {"next": queue}).content.decode()
    assert f'name="back" value="{queue.replace("&", "&amp;")}"' in page
    refined = client.post(reverse("review:mapping-refine", args=[seed_mapping.pk]),
                          {"code": "15-2051", "version": seed_mapping.version, "back": queue})
    assert (refined.status_code, refined["Location"]) == (302, queue)
    replaced = client.post(reverse("review:mapping-replace", args=[accounting_manager.pk]), {
        "code": "11-3031", "reason": "a manager, not a clerk", "confirm_wrong_group": "1",
        "version": accounting_manager.version, "back": queue})
    assert (replaced.status_code, replaced["Location"]) == (302, queue)


def test_a_refused_decision_on_the_mapping_page_stays_there_and_keeps_the_way_back(make_user, accounting_manager):
    client = logged_in(make_user("reviewer"))
    queue = reverse("review:mappings") + "?sort=code"
    response = client.post(reverse("review:mapping-replace", args=[accounting_manager.pk]),
                           {"code": "11-3031", "reason": "", "confirm_wrong_group": "1", "back": queue})
    detail = reverse("review:mapping", args=[accounting_manager.pk])
    assert response["Location"] == f"{detail}?{urlencode({'next': queue})}"
    accounting_manager.refresh_from_db()
    assert accounting_manager.code == "13-0000"


@pytest.mark.parametrize(
    "crafted", ["https://evil.example/", "//evil.example/", "/\t/evil.example", "javascript:alert(1)"]
)
def test_the_way_back_from_the_mapping_page_never_leaves_the_site(make_user, seed_mapping, crafted):
    client = logged_in(make_user("reviewer"))
    page = client.get(reverse("review:mapping", args=[seed_mapping.pk]), {"next": crafted})
    assert page.context["back"] == reverse("review:mappings")
    response = client.post(reverse("review:mapping-refine", args=[seed_mapping.pk]),
                           {"code": "15-2051", "version": seed_mapping.version, "back": crafted})
    assert response["Location"] == reverse("review:mappings")
    refused = client.post(reverse("review:mapping-refine", args=[seed_mapping.pk]), {"code": "", "back": crafted})
    assert "evil" not in refused["Location"] and refused["Location"].startswith("/review/mappings/")


def test_a_suggestion_scored_under_the_floor_is_evidence_never_an_action(make_user, accounting_manager, settings):
    client = logged_in(make_user("reviewer"))
    url = reverse("review:mapping", args=[accounting_manager.pk])
    settings.REVIEW_CODER_MIN_SCORE = 0.0
    offered = client.get(url).content.decode()
    assert 'id="replace-11-3031"' in offered
    settings.REVIEW_CODER_MIN_SCORE = 1.01  # every score is under it
    html = client.get(url).content.decode()
    section = html.split('id="coder"')[1].split("</section>")[0]
    assert "11-3031" in section and "(too weak to act on)" in section
    assert "suggestion-replace" not in section and "suggestion-refine" not in section
    queue = client.get(reverse("review:mappings")).content.decode()
    assert "Replace…" not in queue and "(too weak to act on)" in queue
