"""The desk at desktop sizes, the keyboard, focus rings, dark-mode decision buttons, and API tokens.

* The mapping and alias queues, full pages of realistic rows, at 1280 × 900 and 1024 × 768:
  every Decide control of every row inside the viewport sideways (not off-screen, not clipped
  by a scrolling or clipping box), and the page no wider than the window.
* After logging in, the reviewer's first Tab reaches "Start reviewing" (directly, or through a
  skip link that points at it).
* Focus rings at least 3 : 1 against the background behind them, on a sample of each page's
  links, buttons, inputs, rows and row links, in light and dark mode.
* Dark mode: Approve and Reject keep at least 3 : 1 against the page.
* The user menu (#user-tools) links to API tokens for a reviewer and a curator; the token page
  shown after making a token has a button that copies the token.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, login
from tests.browser.ui import (
    MIN_CONTRAST,
    Page,
    Visitor,
    button_contrast,
    contrast_failures,
    create_token,
    decide_controls,
    focus_rings,
    page_list,
    set_scheme,
    tabs_to_start_reviewing,
)

pytestmark = pytest.mark.browser

SIZES = [{"width": 1280, "height": 900}, {"width": 1024, "height": 768}]
QUEUES = {"mapping queue": ("/review/mappings/", 25), "alias queue": ("/review/aliases/", 50)}


def new_page(browser, viewport, **extra):
    context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC", **extra)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def test_every_decide_control_is_in_view_at_1280_and_1024(browser, live_server, realistic):
    failures, seen = [], []
    context, page = new_page(browser, SIZES[0])
    try:
        login(page, live_server, "rita")
        for size in SIZES:
            page.set_viewport_size(size)
            for name, (url, rows) in QUEUES.items():
                page.goto(f"{live_server.url}{url}")
                found = decide_controls(page)
                where = f"{name} at {size['width']}×{size['height']}"
                assert found["rows"] == rows, f"{where}: expected a full page of {rows} rows, got {found['rows']}"
                controls = found["controls"]
                assert len(controls) >= rows, f"{where}: only {len(controls)} Decide controls in {rows} rows"
                hidden = [c for c in controls if c["why"]]
                seen.append(f"  {where}: {len(controls) - len(hidden)}/{len(controls)} Decide controls in view, "
                            f"scrollWidth {found['scrollWidth']}")
                for c in hidden[:10]:
                    failures.append(f"{where}: row {c['row']} {c['selector']} “{c['label']}”: {c['why']}")
                if len(hidden) > 10:
                    failures.append(f"{where}: … and {len(hidden) - 10} more Decide controls out of view")
                if found["scrollWidth"] > found["innerWidth"]:
                    failures.append(f"{where}: the page scrolls sideways: scrollWidth {found['scrollWidth']} px > "
                                    f"{found['innerWidth']} px")
    finally:
        context.close()
    print("\n" + "\n".join(seen))
    assert not failures, "\n".join(failures)


def test_the_first_tab_after_login_reaches_start_reviewing(browser, live_server, realistic):
    context, page = new_page(browser, SIZES[0])
    try:
        login(page, live_server, "rita")
        assert page.url.endswith("/review/"), f"a reviewer lands on the dashboard, not {page.url}"
        expect(page.locator("#start-reviewing")).to_be_visible()
        tabs, stops = tabs_to_start_reviewing(page, limit=40)
    finally:
        context.close()
    print(f"\nTabs from the dashboard's load to Start reviewing: {tabs} ({' → '.join(stops[:6])})")
    assert tabs is not None and tabs <= 1, (
        f"Start reviewing is {tabs or 'not reached in 40'} Tabs away (at most 1, or a skip link to it); "
        f"the first Tabs reach: {' → '.join(stops[:8])}"
    )


def test_focus_rings_contrast_3_to_1_in_light_and_dark(browser, live_server, realistic):
    failures, sampled = [], 0
    context, page = new_page(browser, SIZES[0])
    try:
        visitor = Visitor(page, live_server)
        for target in page_list(realistic):
            visitor.open(target)
            for scheme in ("light", "dark"):
                set_scheme(page, scheme)
                rings = focus_rings(page)
                sampled += len(rings)
                failures += contrast_failures(rings, f"{target.name} ({scheme})")
            set_scheme(page, "light")
    finally:
        context.close()
    print(f"\n{sampled} focus rings measured")
    assert sampled > 100, f"only {sampled} focusable elements sampled: the pages did not render"
    assert not failures, "\n".join(failures)


def test_dark_mode_approve_and_reject_stand_out_from_the_page(browser, live_server, realistic):
    failures, measured = [], []
    context, page = new_page(browser, SIZES[0], color_scheme="dark")
    try:
        login(page, live_server, "rita")
        for url in ("/review/aliases/", "/review/mappings/"):
            page.goto(f"{live_server.url}{url}")
            found = button_contrast(page)
            assert len(found) >= 2, f"{url}: no Approve / Reject button found"
            for b in found:
                measured.append(f"  {url} {b['selector']}: {b['button']} on {b['page']} / {b['behind']} = "
                                f"{b['contrast']}:1")
                if b["contrast"] < MIN_CONTRAST:
                    failures.append(f"{url} (dark): {b['selector']} background {b['button']} against the page "
                                    f"{b['page']} (behind it {b['behind']}) = {b['contrast']}:1, under 3:1")
    finally:
        context.close()
    print("\n" + "\n".join(measured))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("username", ["rita", "carl"])
def test_the_user_menu_links_to_api_tokens(browser, live_server, realistic, username):
    context, page = new_page(browser, SIZES[0])
    try:
        login(page, live_server, username)
        link = page.locator("#user-tools a[href='/api/tokens/']")
        menu = page.locator("#user-tools").inner_text().replace("\n", " ")
        assert link.count() == 1, f"no link to /api/tokens/ in {username}'s user menu (#user-tools: “{menu}”)"
        expect(link).to_have_text(re.compile(r"API tokens", re.I))
        link.click()
        expect(page).to_have_url(re.compile(r"/api/tokens/$"))
    finally:
        context.close()


def test_the_new_token_has_a_copy_button_that_copies_it(browser, live_server, realistic):
    context, page = new_page(browser, SIZES[0], permissions=["clipboard-read", "clipboard-write"])
    try:
        Visitor(page, live_server).open(Page("token page", "rita", "/api/tokens/", action=create_token))
        secret = page.input_value("#new-token")
        assert len(secret) > 20
        copy = page.get_by_role("button", name=re.compile(r"copy", re.I))
        assert copy.count() == 1, "the page showing the new token has no (single) Copy button"
        copy.click()
        page.wait_for_timeout(200)
        assert page.evaluate("navigator.clipboard.readText()") == secret
    finally:
        context.close()
