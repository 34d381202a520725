"""Review flows in a real Chromium: decide aliases, bulk by threshold, refine a mapping, four-eyes."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from review.groups import sync_review_permissions
from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import ClassificationMapping, Decision, TitleAlias
from roles.services import save_alias
from tests.browser.conftest import login
from tests.factories import TitleAliasFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def users(seed_role):
    """A reviewer and a curator (groups are recreated: the live server's database was flushed)."""
    sync_groups(Group, Permission)
    sync_review_permissions(Group, Permission)
    return {
        "reviewer": UserFactory(username="rita", groups=[REVIEWERS]),
        "curator": UserFactory(username="carl", groups=[CURATORS]),
    }


def alias_row(page, text):
    return page.locator("tr.item").filter(has=page.locator(".alias-text", has_text=re.compile(rf"^{re.escape(text)}$")))


def test_reviewer_filters_approves_and_rejects(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/aliases/")
    page.fill("input[name=role]", "aimlam.gen.p1")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#result-count")).to_have_text("16 aliases")

    alias_row(page, "Machine Learning I").locator("button.approve").click()
    expect(page.locator(".messages")).to_contain_text("“Machine Learning I” approved.")
    row = alias_row(page, "Machine Learning 1")
    row.locator("input[name=reason]").fill("numbered duplicate of Machine Learning I")
    row.locator("button.reject").click()
    expect(page.locator(".messages")).to_contain_text("“Machine Learning 1” rejected.")

    approved = TitleAlias.objects.get(role=seed_role, alias="Machine Learning I")
    assert approved.status == "approved" and approved.decided_by == users["reviewer"]
    assert TitleAlias.objects.get(role=seed_role, alias="Machine Learning 1").status == "rejected"

    # The role's admin page shows the Approved date; the alias's history shows the decision.
    page.goto(f"{live_server.url}/admin/roles/role/{seed_role.pk}/change/")
    # A reviewer may only view roles: the inline shows text, not inputs.
    alias_cell = page.locator("td.field-alias", has_text=re.compile(r"^\s*Machine Learning I\s*$"))
    inline_row = page.locator("tr", has=alias_cell)
    expect(inline_row.locator("td.field-decided_at")).to_contain_text(str(approved.decided_at.year))
    page.goto(f"{live_server.url}/admin/roles/titlealias/{approved.pk}/history/")
    expect(page.locator("body")).to_contain_text("review: approved")
    expect(page.locator("body")).to_contain_text("rita")


def test_keyboard_shortcuts_move_and_approve(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1&sort=-confidence")
    first = page.locator("tr.item").nth(0)
    second = page.locator("tr.item").nth(1)
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(second).to_have_class(re.compile("current"))
    page.keyboard.press("k")
    expect(first).to_have_class(re.compile("current"))
    text = first.locator(".alias-text").inner_text()
    page.keyboard.press("a")
    expect(page.locator(".messages")).to_contain_text(f"“{text}” approved.")
    page.keyboard.press("j")
    page.keyboard.press("r")
    expect(page.locator("tr.item.current input[name=reason]")).to_be_focused()


def test_bulk_approve_by_threshold(page, live_server, seed_role, users):
    TitleAliasFactory(
        role=seed_role, alias="Rita's Own Alias", confidence=Decimal("0.95"), created_by=users["reviewer"]
    )
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1")
    page.fill("#threshold input[name=threshold]", "0.70")
    page.click("#threshold button[type=submit]")
    # Six seed aliases are at 0.70; the reviewer's own alias is skipped under four-eyes.
    expect(page.locator("#will-decide")).to_have_text("6")
    expect(page.locator("#threshold-summary")).to_contain_text("1 you created or changed will be skipped")
    page.check("input[name=confirm]")
    page.click("button:has-text('Approve 6')")
    # The preview left the reviewer's own alias out of what it signed: the confirm decides the six.
    expect(page.locator(".messages")).to_contain_text("Approved at confidence ≥ 0.70: 6 items.")
    assert TitleAlias.objects.get(alias="Rita's Own Alias").status == "pending"
    assert TitleAlias.objects.filter(role=seed_role, status="approved").count() == 6
    assert Decision.objects.filter(actor=users["reviewer"]).count() == 6


def test_refine_group_mapping_with_the_picker(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/mappings/")
    page.click("a:has-text('15-0000')")
    expect(page.locator("#parent-chain")).to_contain_text("15-0000")
    expect(page.locator("#card-title")).to_contain_text("“&” where the official title has “and”")
    page.fill("#code-search", "data scientist")
    # Ranked by the SOC coder as the reviewer types: the best fit comes first.
    expect(page.locator("#code-picker option").first).to_have_text(re.compile(r"^15-2051 Data Scientists"))
    page.select_option("#code-picker", "15-2051")
    page.click("#refine-form button.refine")
    expect(page.locator(".messages")).to_contain_text("Refined 15-0000 → 15-2051 Data Scientists and approved.")
    mapping = ClassificationMapping.objects.get(role=seed_role)
    assert (mapping.code, mapping.previous_code, mapping.status) == ("15-2051", "15-0000", "approved")


def test_curator_sees_no_decision_controls(page, live_server, seed_role, users):
    login(page, live_server, "carl")
    page.goto(f"{live_server.url}/review/aliases/")
    expect(page.locator("tr.item")).to_have_count(16)
    expect(page.locator("button.approve")).to_have_count(0)
    expect(page.locator("button.reject")).to_have_count(0)
    expect(page.locator("#bulk")).to_have_count(0)
    page.goto(f"{live_server.url}/review/mappings/")
    page.click("a:has-text('15-0000')")
    expect(page.locator("form button")).to_have_count(1)  # only the header's "Log out"


def test_four_eyes_refusal_is_shown_to_the_editor(page, live_server, seed_role, users):
    alias = TitleAlias.objects.get(role=seed_role, alias="Deep Learning I")
    alias.confidence = Decimal("0.75")
    save_alias(alias=alias, actor=users["reviewer"], reason="more confident")
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1")
    row = alias_row(page, "Deep Learning I")
    expect(row.locator(".four-eyes")).to_contain_text("you changed its content since it was last approved")
    row.locator("button.approve").click()
    expect(page.locator(".messages .error")).to_contain_text(
        "You cannot approve the alias “Deep Learning I”: you changed its content since it was last approved"
    )
    alias.refresh_from_db()
    assert alias.status == "pending"
