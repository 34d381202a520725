"""The mapping queue's folds in a real Chromium: a closed fold loads nothing, an opened one loads once in place,
and without the script it is a link to the mapping's page."""

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from roles.groups import REVIEWERS, sync_groups
from roles.models import ClassificationMapping
from tests.browser.conftest import TIMEOUT_MS, login
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def mapping(seed_role):
    sync_groups(Group, Permission)  # the live server's database was flushed
    UserFactory(username="rita", groups=[REVIEWERS])
    return ClassificationMapping.objects.get(role=seed_role)


def test_opening_the_coder_fold_loads_its_reasons_and_next_codes_once(page, live_server, mapping):
    loads = []
    page.on("request", lambda request: loads.append(request.url) if "/coder/" in request.url else None)
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/mappings/")
    fold = page.locator(f"tr.item[data-id='{mapping.pk}'] details.coder-more")
    expect(fold.locator(".fold-body a")).to_have_count(1)
    assert not loads, "a closed fold loads nothing"
    fold.locator("> summary").click()
    expect(fold.locator("li.suggestion")).to_have_count(4)
    expect(fold.locator(".evidence-list")).to_be_visible()
    expect(fold.locator("form.suggestion-refine").first).to_be_attached()
    fold.locator("> summary").click()
    fold.locator("> summary").click()
    expect(fold.locator("li.suggestion")).to_have_count(4)
    assert len(loads) == 1, loads


def test_without_the_script_a_fold_links_to_the_mapping_page(browser, live_server, mapping):
    context = browser.new_context(java_script_enabled=False, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        login(page, live_server, "rita")
        page.goto(f"{live_server.url}/review/mappings/")
        fold = page.locator(f"tr.item[data-id='{mapping.pk}'] details.coder-more")
        fold.locator("> summary").click()
        fold.locator(".fold-body a").click()
        page.wait_for_url(f"**/review/mappings/{mapping.pk}/?next=/review/mappings/#coder")
        expect(page.locator("#coder li.suggestion")).to_have_count(5)
    finally:
        context.close()
