"""The production stack in a real Chromium: gunicorn, WhiteNoise's hashed static files, the enforced CSP.

Not the live server: gunicorn runs `framework.wsgi` with the production settings (framework.settings.base,
plain HTTP as behind a TLS proxy) against the test database, serving what collectstatic wrote. A
reviewer approves and rejects a curator's aliases; the curator's bell counts each decision.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from playwright.sync_api import expect

from framework.serve import worker_command
from roles.models import TitleAlias
from roles.services import save_alias
from tests.browser.conftest import CHROMIUM_ARGS, TIMEOUT_MS, login  # noqa: F401
from tests.factories import RoleFactory, curator, reviewer

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """The test database, as gunicorn's DATABASE_URL."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ROLEBOOK_", "WEB_CONCURRENCY"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "framework.settings.base",
        "DJANGO_SECRET_KEY": "gunicorn-browser-test-" + "k" * 40,
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "DATABASE_URL": _database_url(),
        # Plain HTTP on loopback, as behind a TLS-terminating proxy; everything else as in production.
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "ROLEBOOK_CODER_PATH": str(settings.ROLEBOOK_CODER_PATH),
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        # No double-blind draws: a drawn decision stays open and sends no notification.
        "REVIEW_SAMPLE_SHARE": "0",
    })
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """collectstatic with the production settings (the manifest storage) into a temporary folder."""
    root = tmp_path_factory.mktemp("gunicorn-static")
    env = _production_env(DJANGO_STATIC_ROOT=str(root), DATABASE_URL="sqlite:////nonexistent/unused.sqlite3")
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def gunicorn(transactional_db, static_root, tmp_path):
    """gunicorn with two workers on a free loopback port, and the task worker beside it as `make serve` runs
    it; yields the base URL and the two logs, and stops both afterwards."""
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    worker_log = (tmp_path / "worker.log").open("w")
    env = _production_env(DJANGO_STATIC_ROOT=str(static_root), ROLEBOOK_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "python:framework.gunicorn_conf"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker = subprocess.Popen(worker_command(), cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text(), pytrace=False)
            time.sleep(0.2)
        yield SimpleNamespace(url=url, log=tmp_path / "gunicorn.log", worker_log=tmp_path / "worker.log")
    finally:
        for child in (process, worker):
            child.terminate()
            child.wait(timeout=30)
        log.close()
        worker_log.close()


@pytest.fixture
def cast(gunicorn):
    """A curator whose two aliases wait for review, and a reviewer (passwords hashed as production checks them)."""
    password = PBKDF2PasswordHasher().encode("pw", "gunicorn-test-salt", iterations=1000)
    carl, rita = curator(username="carl"), reviewer(username="rita")
    for user in (carl, rita):
        user.password = password
        user.save(update_fields=["password"])
    role = RoleFactory()
    for text in ("Data Wrangler", "Data Janitor"):
        alias = TitleAlias(role=role, alias=text, alias_type=TitleAlias.AliasType.COMMON, confidence=Decimal("0.6"),
                           source="manual")
        save_alias(alias=alias, actor=carl, reason="proposed")
    return SimpleNamespace(carl=carl, rita=rita, role=role)


def _context(browser, violations: list[str]):
    context = browser.new_context(locale="en-GB", timezone_id="UTC", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return context, page


def _bell(page):
    return page.locator("#notification-bell .bell-count")


def test_a_reviewers_decisions_reach_the_curators_bell_through_gunicorn(browser, gunicorn, cast):
    violations: list[str] = []
    curator_context, curator_page = _context(browser, violations)
    reviewer_context, reviewer_page = _context(browser, violations)
    try:
        login(curator_page, gunicorn, "carl")
        response = curator_page.goto(f"{gunicorn.url}/admin/")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        expect(_bell(curator_page)).to_have_attribute("data-count", "0")
        # The admin's CSS comes from WhiteNoise under its hashed name, and applies.
        hrefs = curator_page.locator("link[rel=stylesheet]").evaluate_all("links => links.map(l => l.href)")
        assert any(re.search(r"/static/admin/css/base\.[0-9a-f]{12}\.css$", h) for h in hrefs), hrefs
        assert curator_page.locator("#header").evaluate("e => getComputedStyle(e).display") == "flex"

        login(reviewer_page, gunicorn, "rita")
        reviewer_page.goto(f"{gunicorn.url}/review/aliases/?role={cast.role.code}")
        row = reviewer_page.locator("tr.item", has=reviewer_page.locator(".alias-text", has_text="Data Wrangler"))
        row.locator("button.approve").click()
        expect(reviewer_page.locator("#messages")).to_contain_text("“Data Wrangler” approved.")

        curator_page.reload()
        expect(_bell(curator_page)).to_have_attribute("data-count", "1")

        row = reviewer_page.locator("tr.item", has=reviewer_page.locator(".alias-text", has_text="Data Janitor"))
        row.locator("input[name=reason]").fill("a duplicate of Data Wrangler")
        row.locator("button.reject").click()
        expect(reviewer_page.locator("#messages")).to_contain_text("“Data Janitor” rejected.")

        curator_page.reload()
        expect(_bell(curator_page)).to_have_attribute("data-count", "2")
        curator_page.locator("#notification-bell summary").click()
        rejected = curator_page.locator(".bell-item", has_text="“Data Janitor”")
        expect(curator_page.locator("#notification-bell .bell-panel")).to_contain_text(
            "Rejected by rita: a duplicate of Data Wrangler"
        )
        rejected.click()
        curator_page.wait_for_url(re.compile(r"/admin/roles/titlealias/\d+/change/$"))
        expect(_bell(curator_page)).to_have_attribute("data-count", "1")
    finally:
        curator_context.close()
        reviewer_context.close()
    log = gunicorn.log.read_text()
    assert '"logger": "rolebook.review", "message": "reject the alias “Data Janitor” → rejected by rita"' in log
    assert '"path": "/review/aliases/' in log
    # Sent after the commit by the task worker (the console backend): it polls every second.
    deadline = time.monotonic() + 30
    while "notification email: rejected to carl (1 item)" not in gunicorn.worker_log.read_text():
        assert time.monotonic() < deadline, gunicorn.worker_log.read_text()[-3000:]
        time.sleep(0.3)
    assert '"status": 500' not in log
    # Nothing inline anywhere: a style="" attribute (e.g. from a form widget's attrs) is refused too.
    assert violations == [], violations
