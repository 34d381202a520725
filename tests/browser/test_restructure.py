"""A merge in a real Chromium: from the role list, through the preview, to a second person's approval."""

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from roles import workflow
from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import DecisionKind, Deprecation, TitleAlias
from tests.browser.conftest import login
from tests.factories import RoleFactory, SpecializationFactory, UserFactory

pytestmark = pytest.mark.browser


def test_a_curator_merges_a_role_from_the_list_and_a_reviewer_approves_it(page, live_server, seed_role):
    sync_groups(Group, Permission)
    curator = UserFactory(username="carl", groups=[CURATORS])
    reviewer = UserFactory(username="rita", groups=[REVIEWERS])
    target = RoleFactory(node=SpecializationFactory(parent=seed_role.node.parent), level=seed_role.level,
                         title="Machine Learning Engineer")
    approved = TitleAlias.objects.filter(role=seed_role).order_by("pk").first()
    workflow.decide(approved, kind=DecisionKind.APPROVE, actor=reviewer)
    moving = TitleAlias.objects.filter(role=seed_role, status__in=["pending", "approved"]).count()

    login(page, live_server, "carl")
    page.goto(f"{live_server.url}/admin/roles/role/")
    page.check(f"input[name=_selected_action][value='{seed_role.pk}']")
    page.select_option("select[name=action]", "merge_role")
    page.click("button[name=index]")
    expect(page.locator("h1")).to_have_text(f"Merge {seed_role.code} into another role")

    page.fill("#id_target", target.code)
    page.fill("#id_reason", "One role: the entry-level title is an alias of the wider one")
    page.click("button[name=preview]")
    moves = page.locator("#restructure-moves tbody tr")
    expect(moves.filter(has_text=f"Alias “{approved.alias}”")).to_contain_text("stays approved")
    expect(page.locator("#restructure-preview")).to_contain_text(f"{moving} aliases")
    assert not Deprecation.objects.exists()  # the preview wrote nothing
    page.click("button[name=propose]")
    expect(page.locator(".messagelist")).to_contain_text("proposed: another reviewer approves or rejects it here")

    proposal = Deprecation.objects.get(role=seed_role)
    page.context.clear_cookies()
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/admin/roles/deprecation/{proposal.pk}/change/")
    expect(page.locator("#restructure-moves")).to_contain_text(approved.alias)
    page.click("button[value=approve]")
    expect(page.locator(".messagelist")).to_contain_text(
        "approved: its items moved to the role it merged into, and it is deprecated")

    seed_role.refresh_from_db(), approved.refresh_from_db()
    assert seed_role.deprecated and seed_role.replaced_by == target
    assert (approved.role, approved.status) == (target, "approved")
    assert TitleAlias.objects.filter(role=target).count() == moving
    assert curator.pk == proposal.created_by_id

    # The deprecated role's card sends readers on to the role that replaces it.
    page.goto(f"{live_server.url}{seed_role.get_absolute_url()}")
    expect(page.locator(".notice.deprecated")).to_contain_text(f"It is replaced by {target.code}")
