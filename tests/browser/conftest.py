"""Shared Playwright fixtures: a real Chromium (Debian's package) driving pytest-django's live server.

Fixture names are stable for every browser test module: `browser` (session), `page`, and the
helper `login(page, live_server, username, password)`. Chromium missing is a failure with
instructions, never a skip: CI installs it (`make browser`).
"""

import os
import shutil

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
# body would otherwise be refused as async-unsafe. Only the browser tests set this.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import pytest  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run."""
    executable = shutil.which("chromium")
    if not executable:
        pytest.fail(
            "Browser tests need Debian's chromium on PATH: run `make browser` "
            "(or `apt-get install chromium` as root). They are not skipped.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A fresh page in its own context (own cookies), closed after the test."""
    context = browser.new_context(locale="en-GB", timezone_id="UTC", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def login(page, live_server, username, password="pw"):
    """Log in through the login form and wait until the landing page (by role) has loaded."""
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


@pytest.fixture(name="login")
def login_fixture():
    """The `login` helper as a fixture, for tests that prefer it to `from tests.browser.conftest import login`."""
    return login
