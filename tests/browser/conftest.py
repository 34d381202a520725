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


@pytest.fixture
def realistic(transactional_db, tmp_path_factory):
    """A page's worth of realistic rows on every page, reference data and the seed role included
    (tests/browser/realistic.py): 3-8 s to build the first time in a session, then 0.2 s to copy back."""
    from pathlib import Path

    from tests.browser.realistic import realistic_data

    return realistic_data(Path(tmp_path_factory.getbasetemp()) / "realistic-data.sqlite3")


def pytest_configure(config):
    """`pytest tests/browser/measure_ui.py` runs the measurement although addopts deselects `measure`.

    addopts carries `-m "not measure"` so that no collection of the suite ever runs it; naming the
    file on the command line (without a -m of one's own) is asking for it.
    """
    if config.option.markexpr.strip() != "not measure":
        return
    if any(str(arg).split("::")[0].endswith("measure_ui.py") for arg in config.args):
        config.option.markexpr = ""
