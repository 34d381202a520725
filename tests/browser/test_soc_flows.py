"""The SOC coder in the review, in a real Chromium: refine to a suggestion, replace a wrong group,
and suggested mappings that their creator cannot approve."""

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import ClassificationMapping, Decision
from tests.browser.conftest import login
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory, UserFactory
from tests.review.conftest import soc

pytestmark = pytest.mark.browser


@pytest.fixture
def users(seed_role):
    """Reviewers, a curator and an admin (groups are recreated: the live server's database was flushed)."""
    sync_groups(Group, Permission)
    return {
        "reviewer": UserFactory(username="rita", groups=[REVIEWERS]),
        "curator": UserFactory(username="carl", groups=[CURATORS]),
        "admin": UserFactory(username="ada", is_superuser=True),
    }


def test_a_reviewer_refines_the_seed_mapping_to_a_suggestion_in_one_click(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    mapping = ClassificationMapping.objects.get(role=seed_role)
    page.goto(f"{live_server.url}/review/mappings/{mapping.pk}/")
    suggestions = page.locator("#coder li.suggestion")
    expect(suggestions).to_have_count(5)
    first = suggestions.first
    code = first.get_attribute("data-code")
    assert code in {"15-1221", "15-2051", "15-1299"}
    expect(first.locator(".chain")).to_contain_text("15-0000 Computer and Mathematical Occupations")
    first.locator("summary").click()
    expect(first.locator(".evidence li").first).to_be_visible()
    first.locator("button.refine").click()
    expect(page.locator("#messages")).to_contain_text(f"Refined 15-0000 → {code}")
    mapping.refresh_from_db()
    assert (mapping.code, mapping.previous_code, mapping.status) == (code, "15-0000", "approved")


def test_a_reviewer_replaces_a_wrong_group_with_a_reason(page, live_server, users, reference_soc):
    role = RoleFactory(title="Accounting Manager", headline="Directs the accounting department.")
    TitleAliasFactory(role=role, alias="Controller")
    mapping = ClassificationMappingFactory(role=role, occupation=soc("13-0000"), created_by=users["curator"],
                                           source=ClassificationMapping.Source.INFERRED_FROM_SUPERFUNCTION)
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/mappings/{mapping.pk}/")
    form = page.locator("#replace-11-3031")
    form.locator("input[name=confirm_wrong_group]").check()
    form.locator("input[name=reason]").fill("a manager of accountants, not an accountant")
    form.locator("button.replace").click()
    expect(page.locator("#messages")).to_contain_text("Replaced 13-0000 → 11-3031 Financial Managers and approved.")
    decision = Decision.objects.get(mapping=mapping)
    assert (decision.decision, decision.old_code, decision.new_code) == ("replace", "13-0000", "11-3031")


def test_suggested_mappings_wait_in_the_queue_and_their_creator_cannot_approve(page, live_server, users,
                                                                               reference_soc):
    role = RoleFactory(title="Registered Nurse", headline="Cares for patients on a hospital ward.")
    login(page, live_server, "ada")
    page.goto(f"{live_server.url}/admin/roles/role/")
    page.locator(f"input[name=_selected_action][value='{role.pk}']").check()
    page.select_option("select[name=action]", "suggest_soc_mappings")
    page.click("button[name=index]")
    expect(page.locator("ul.messagelist")).to_contain_text(f"{role.code} → 29-1141")
    page.goto(f"{live_server.url}/review/mappings/?source=suggested")
    row = page.locator("tr.item")
    expect(row).to_have_count(1)
    expect(row.locator(".four-eyes")).to_contain_text("you created it")
    expect(row.locator("button.approve")).to_have_count(0)
    page.keyboard.press("a")
    expect(page.locator("#messages")).to_contain_text("Four-eyes: you created it")
    mapping = ClassificationMapping.objects.get(role=role)
    assert (mapping.status, mapping.source) == ("needs_review", "suggested")
