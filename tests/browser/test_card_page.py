"""The role card page in real Chromium: collapsible sections, adjacent-role links, compare."""

from __future__ import annotations

import pytest

from roles.models import TitleAlias
from tests.factories import RoleFactory, SpecializationFactory, reviewer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw"


@pytest.fixture
def card_world(transactional_db, seed_role):
    """The seed role, a sibling specialization's role at the same level, and a reviewer."""
    sibling = RoleFactory(
        node=SpecializationFactory(code="AIMLAM.NLP", parent=seed_role.node.parent),
        level=seed_role.level,
        title="Entry-Level NLP Engineer",
    )
    user = reviewer(username="rita", password=PASSWORD)
    return seed_role, sibling, user


@pytest.fixture
def on_card(page, live_server, login, card_world):
    """A logged-in reviewer looking at the seed role's card page."""
    role, sibling, user = card_world
    login(page, live_server, user.username, PASSWORD)
    page.goto(f"{live_server.url}/roles/{role.code}/")
    return page, role, sibling


def test_sections_collapse_and_expand(on_card):
    page, role, _ = on_card
    for section, sample in (
        ("components", "Python programming"),
        ("aliases", "Machine Learning I"),
        ("mappings", "15-0000"),
    ):
        details = page.locator(f'details[data-card-section="{section}"]')
        item = details.get_by_text(sample, exact=False).first
        assert item.is_visible(), section
        details.locator("summary").first.click()
        item.wait_for(state="hidden")
        assert details.get_attribute("open") is None
        details.locator("summary").first.click()
        item.wait_for(state="visible")
        assert details.get_attribute("open") is not None


def test_the_card_page_shows_all_16_aliases_of_the_seed_role(on_card):
    page, role, _ = on_card
    rows = page.locator('details[data-card-section="aliases"] table.aliases tbody tr.alias')
    assert rows.count() == 16
    shown = [rows.nth(i).locator("td").first.inner_text().strip() for i in range(16)]
    expected = list(TitleAlias.objects.filter(role=role).order_by("pk").values_list("alias", flat=True))
    assert shown == expected
    assert all(rows.nth(i).is_visible() for i in range(16))


def test_an_adjacent_role_link_navigates_to_its_card(on_card):
    page, role, sibling = on_card
    adjacent = page.locator('[data-card-section="adjacent"] tr.adjacent-role').first
    assert "close" in adjacent.inner_text()
    adjacent.get_by_role("link", name=sibling.code).click()
    page.wait_for_url(f"**/roles/{sibling.code}/")
    assert page.locator("h1").inner_text() == sibling.title
    # And back again: the seed role is the sibling's neighbour too.
    page.locator('[data-card-section="adjacent"]').get_by_role("link", name=role.code).click()
    page.wait_for_url(f"**/roles/{role.code}/")


def test_the_compare_page_renders_two_roles_side_by_side(on_card):
    page, role, sibling = on_card
    page.locator('[data-card-section="adjacent"] tr.adjacent-role').first.get_by_role("link", name="compare").click()
    page.wait_for_url("**/roles/compare/?*")
    compare = page.locator("#compare")
    assert role.code in compare.locator(".compare-head").inner_text()
    assert sibling.code in compare.locator(".compare-head").inner_text()
    assert page.locator("#level-compare tbody tr").count() == 7
    assert "close" in page.locator("#compare-distance").inner_text()
    # An unknown code is a form error, not a crash.
    page.fill("#id_b", "NOPE.X.P1")
    page.get_by_role("button", name="Compare").click()
    assert "No role has the code 'NOPE.X.P1'" in page.locator("#error-b").inner_text()
