"""Review flows in a real Chromium: decide aliases, bulk by threshold, refine a mapping, four-eyes."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

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
    expect(page.locator("#messages")).to_contain_text("“Machine Learning I” approved.")
    row = alias_row(page, "Machine Learning 1")
    row.locator("input[name=reason]").fill("numbered duplicate of Machine Learning I")
    row.locator("button.reject").click()
    expect(page.locator("#messages")).to_contain_text("“Machine Learning 1” rejected.")

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


def test_keyboard_shortcuts_move_real_focus_approve_and_undo(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1&sort=-confidence")
    first = page.locator("tr.item").nth(0)
    second = page.locator("tr.item").nth(1)
    expect(first).to_be_focused()  # the next decision is one key away from the start
    page.keyboard.press("j")
    expect(second).to_be_focused()
    page.keyboard.press("k")
    expect(first).to_be_focused()
    text = first.locator(".alias-text").inner_text()
    first_id, second_id = first.get_attribute("id"), second.get_attribute("id")
    total = int(page.locator("#result-count").get_attribute("data-count"))
    page.keyboard.press("a")
    expect(page.locator("#messages")).to_contain_text(f"“{text}” approved.")
    # No reload: the approved row leaves the pending queue, the total says one fewer, the next row has focus.
    expect(page.locator(f"#{first_id}")).to_have_count(0)
    expect(page.locator("#result-count")).to_have_text(f"{total - 1} aliases")
    expect(page.locator(f"#{second_id}")).to_be_focused()
    assert TitleAlias.objects.get(role=seed_role, alias=text).status == "approved"
    page.keyboard.press("u")
    expect(page.locator("#messages")).to_contain_text(f"Undone: “{text}” back to review.")
    alias = TitleAlias.objects.get(role=seed_role, alias=text)
    assert alias.status == "pending"
    assert alias.decisions.order_by("-created_at", "-pk").first().comment == "undo"


def test_reject_with_r_a_reason_and_enter(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1")
    row = page.locator("tr.item").nth(0)
    text = row.locator(".alias-text").inner_text()
    page.keyboard.press("r")
    reason = row.locator("input[name=reason]")
    expect(reason).to_be_focused()
    page.keyboard.type("a numbered duplicate")
    page.keyboard.press("Escape")  # leaves the box: back on the row
    expect(row).to_be_focused()
    row_id = row.get_attribute("id")
    total = int(page.locator("#result-count").get_attribute("data-count"))
    page.keyboard.press("r")
    page.keyboard.press("Enter")
    expect(page.locator("#messages")).to_contain_text(f"“{text}” rejected.")
    # A rejected row leaves the pending queue as an approved one does, and the total counts down.
    expect(page.locator(f"#{row_id}")).to_have_count(0)
    expect(page.locator("#result-count")).to_have_text(f"{total - 1} aliases")
    alias = TitleAlias.objects.get(role=seed_role, alias=text)
    assert alias.status == "rejected" and alias.decisions.get().comment == "a numbered duplicate"


def test_a_on_a_row_that_cannot_be_approved_says_why(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/mappings/")
    page.keyboard.press("a")
    expect(page.locator("#messages")).to_contain_text("15-0000 is a major group: open it to refine it")


def test_the_key_help_opens_with_question_mark(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/aliases/")
    page.keyboard.press("?")
    expect(page.locator("dialog#key-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#key-help")).to_be_hidden()


def test_the_queue_fits_a_phone(browser, live_server, seed_role, users):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        login(page, live_server, "rita")
        for url in ("/review/aliases/", "/review/mappings/", "/review/", "/roles/", f"/roles/{seed_role.code}/"):
            page.goto(f"{live_server.url}{url}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (url, width)
        page.goto(f"{live_server.url}/review/aliases/")
        expect(page.locator("details.filters-panel")).not_to_have_attribute("open", "")
        expect(page.locator("tr.item").first.locator("button.approve")).to_be_in_viewport()
    finally:
        context.close()


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
    # The preview lists what it will approve.
    expect(page.locator("#threshold-items tbody tr")).to_have_count(6)
    expect(page.locator("#threshold-items")).to_contain_text("Machine Learning I")
    page.check("input[name=confirm]")
    page.click("button:has-text('Approve 6')")
    # The preview left the reviewer's own alias out of what it signed: the confirm decides the six.
    expect(page.locator("#messages")).to_contain_text("Approved at confidence ≥ 0.70: 6 items. “")
    expect(page.locator("#threshold input[name=threshold]")).to_have_value("0.70")  # it stays
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
    expect(page.locator("#messages")).to_contain_text("Refined 15-0000 → 15-2051 Data Scientists and approved.")
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
    # Only the header's "Log out" and the theme toggle are buttons.
    expect(page.locator("#content form button")).to_have_count(0)


def test_four_eyes_refusal_is_shown_to_the_editor(page, live_server, seed_role, users):
    alias = TitleAlias.objects.get(role=seed_role, alias="Deep Learning I")
    alias.confidence = Decimal("0.75")
    save_alias(alias=alias, actor=users["reviewer"], reason="more confident")
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1")
    row = alias_row(page, "Deep Learning I")
    expect(row.locator(".four-eyes")).to_contain_text("you wrote part of its content")
    expect(row.locator("button.approve")).to_have_count(0)
    row.focus()
    page.keyboard.press("a")
    expect(page.locator("#messages")).to_contain_text(
        "Four-eyes: you wrote part of its content; another reviewer must approve"
    )
    alias.refresh_from_db()
    assert alias.status == "pending"


def test_from_login_to_the_first_decision_takes_two_interactions(page, live_server, seed_role, users):
    login(page, live_server, "rita")
    assert page.url.endswith("/review/")  # reviewers land on the review dashboard
    page.click("#start-reviewing")  # 1
    # Not an interaction: the queue is ready when its first row has the focus.
    expect(page.locator("tr.item.current")).to_be_focused()
    page.keyboard.press("a")  # 2
    expect(page.locator("#messages")).to_contain_text("approved.")
    assert Decision.objects.filter(actor=users["reviewer"], decision="approve").count() == 1


def test_curators_land_in_the_admin(page, live_server, seed_role, users):
    login(page, live_server, "carl")
    assert page.url.endswith("/admin/")
    expect(page.locator("#rolebook-panel")).to_contain_text("Review")


def test_the_role_editor_stays_compact_with_its_reason_beside_save(browser, live_server, seed_role, users):
    from tests.factories import ComponentFactory

    admin = UserFactory(username="ada", is_superuser=True)
    for i in range(12):  # 20 skills, and 20 aliases with the seed's 16
        ComponentFactory(role=seed_role, kind="skill", text=f"An extra skill number {i}")
    for i in range(4):
        TitleAliasFactory(role=seed_role, alias=f"Extra Alias {i}")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        login(page, live_server, admin.username)
        page.goto(f"{live_server.url}/admin/roles/role/{seed_role.pk}/change/")
        height = page.evaluate("document.documentElement.scrollHeight")
        width = page.evaluate("document.documentElement.scrollWidth")
        print(f"\nrole editor at 1280 px: {height} px tall, {width} px wide")
        assert height < 3000 and width <= 1280
        # Reason and Save sit together, in sight wherever the page is scrolled.
        expect(page.locator("#sticky-submit #id_change_reason")).to_be_in_viewport()
        expect(page.locator("#sticky-submit input[name=_save]")).to_be_in_viewport()
        # A failed save (no reason) brings the first error into view.
        page.locator("#sticky-submit input[name=_save]").click()
        expect(page.locator(".errornote")).to_be_visible()
        expect(page.locator("#id_change_reason")).to_be_focused()
        expect(page.locator("#sticky-submit .errorlist")).to_be_in_viewport()
    finally:
        context.close()


def test_eight_mapping_rows_fit_the_first_screen_at_1280(browser, live_server, seed_role, users, reference_soc):
    from tests.factories import ClassificationMappingFactory, RoleFactory
    from tests.review.conftest import soc

    codes = ("15-2051", "15-1252", "15-2041", "15-1211", "15-1221", "15-1241", "15-2031", "15-1299", "15-1212")
    for number, code in enumerate(codes):
        # A typical title's length, not Faker's random one: a long title wraps and makes its row taller.
        role = RoleFactory(title=f"Senior Data Platform Engineer {number}")
        ClassificationMappingFactory(role=role, occupation=soc(code), created_by=users["curator"])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        login(page, live_server, "rita")
        page.goto(f"{live_server.url}/review/mappings/")
        bottoms = page.eval_on_selector_all("tr.item", "rows => rows.map(r => r.getBoundingClientRect().bottom)")
        visible = sum(1 for bottom in bottoms if bottom <= 900)
        print(f"\nmapping queue at 1280×900: {visible} rows on the first screen")
        assert len(bottoms) == 10 and visible >= 8
    finally:
        context.close()


def test_two_reviewers_review_next_side_by_side_and_never_see_each_others_rows(browser, live_server, seed_role,
                                                                                users, settings):
    """'Review next' in two browsers at once: disjoint batches; the last decision of a batch loads the next."""
    settings.REVIEW_BATCH_SIZE = 3
    UserFactory(username="rex", groups=[REVIEWERS])
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
    try:
        pages = [context.new_page() for context in contexts]
        for page, who in zip(pages, ("rita", "rex"), strict=True):
            login(page, live_server, who)
            page.goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1")
            page.click("#review-next")
            expect(page.locator("#messages")).to_contain_text("3 aliases are yours until")
        batches = [set(page.locator("tr.item").evaluate_all("rows => rows.map(r => r.dataset.id)")) for page in pages]
        assert len(batches[0]) == 3 and len(batches[1]) == 3 and batches[0].isdisjoint(batches[1])
        # Rita's queue without holds shown leaves out Rex's batch.
        pages[0].goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1")
        shown = set(pages[0].locator("tr.item").evaluate_all("rows => rows.map(r => r.dataset.id)"))
        assert shown.isdisjoint(batches[1])
        # Rita decides her batch with the keyboard; after the last row the next batch loads.
        pages[0].goto(f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1&held=mine")
        for _ in range(3):
            pages[0].keyboard.press("a")
            pages[0].wait_for_timeout(300)
        expect(pages[0].locator("#messages")).to_contain_text("3 aliases are yours until")
        following = set(pages[0].locator("tr.item").evaluate_all("rows => rows.map(r => r.dataset.id)"))
        assert len(following) == 3 and following.isdisjoint(batches[0] | batches[1])
    finally:
        for context in contexts:
            context.close()
