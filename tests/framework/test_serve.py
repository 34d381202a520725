"""`make serve`'s settings: static files, /healthz, clean exits on missing values, headers and cookies."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client, override_settings

from framework import health
from framework.settings import base

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "framework.settings.base",
    "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-0123456789",
    "DJANGO_ALLOWED_HOSTS": "rolebook.example.org",
    "DATABASE_URL": "sqlite:////tmp/rolebook-serve-check.sqlite3",
}


def _run(args, **env):
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("DJANGO_", "ROLEBOOK_")) and k != "DATABASE_URL"}
    environment.update(env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=120)


# --- static files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """collectstatic with the production storage (hashed names, compressed) into a temporary folder."""
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root, STORAGES=base.STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


def test_collectstatic_writes_hashed_compressed_files_and_a_manifest(collected):
    assert (collected / "staticfiles.json").is_file()
    hashed = list((collected / "admin" / "css").glob("base.*.css"))
    assert len(hashed) == 1 and (collected / "admin" / "css" / (hashed[0].name + ".gz")).is_file()
    assert list((collected / "rolebook").glob("rolebook.*.js"))


@pytest.mark.django_db
def test_whitenoise_serves_hashed_admin_css_with_far_future_cache_headers(collected):
    hashed = next((collected / "admin" / "css").glob("base.*.css")).name
    with override_settings(DEBUG=False, STATIC_ROOT=collected, STORAGES=base.STORAGES, WHITENOISE_AUTOREFRESH=False):
        client = Client()  # a new handler: WhiteNoise indexes the folder at start-up
        response = client.get(f"/static/admin/css/{hashed}", HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200
        assert response["Cache-Control"] == "max-age=315360000, public, immutable"
        assert response["Content-Encoding"] == "gzip"
        # The page names the hashed file (the manifest), so a new release never meets an old cache.
        assert f"/static/admin/css/{hashed}" in client.get("/admin/login/").content.decode()
        unhashed = client.get("/static/admin/css/base.css")
        assert unhashed.status_code == 200 and "immutable" not in unhashed["Cache-Control"]


# --- /healthz -----------------------------------------------------------------------------------


@pytest.fixture
def fresh_health():
    health.reset()
    yield
    health.reset()


@pytest.mark.django_db
def test_healthz_is_200_without_login_for_any_host_over_http(fresh_health):
    with override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["rolebook.example.org"]):
        response = Client().get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "migrations": "ok"}
    assert "Set-Cookie" not in response and response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_healthz_is_503_with_a_migration_unapplied(fresh_health, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.migration import Migration

    fake = Migration("0099_not_yet", "roles")
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets, clean_start=False: [(fake, False)])
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "migrations": "1 unapplied"}
    assert "0099" not in response.content.decode()  # names no migration, no app


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_does_not_answer(fresh_health, monkeypatch):
    from django.db.backends.base.base import BaseDatabaseWrapper

    def down(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", down)
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "unavailable", "migrations": "unknown"}


@pytest.mark.django_db
def test_healthz_refuses_other_methods(fresh_health):
    assert Client().post("/healthz").status_code == 405


# --- missing values, deploy checks ----------------------------------------------------------------


def test_a_missing_secret_stops_manage_py_with_one_line_and_status_2():
    env = {**PRODUCTION, "DJANGO_SECRET_KEY": ""}
    result = _run(["manage.py", "check"], **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Rolebook: set DJANGO_SECRET_KEY in the environment")


def test_gunicorns_application_stops_the_same_way():
    result = _run(["-c", "import framework.wsgi"], DJANGO_SETTINGS_MODULE="framework.settings.base",
                  DJANGO_SECRET_KEY="s" * 50)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_serve_names_every_missing_value_and_reads_dotenv(tmp_path):
    result = _run(["-m", "framework.serve", "--setup-only"], ROLEBOOK_ENV_FILE=str(tmp_path / "none"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert [line.split()[2] for line in result.stderr.splitlines()] == [
        "DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"
    ]
    dotenv = tmp_path / ".env"
    dotenv.write_text("# production\nexport DATABASE_URL=sqlite:////tmp/x.sqlite3\nDJANGO_ALLOWED_HOSTS='a.example'\n"
                      "DJANGO_SECRET_KEY=\n")
    result = _run(["-m", "framework.serve", "--setup-only"], ROLEBOOK_ENV_FILE=str(dotenv))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and "DJANGO_SECRET_KEY" in result.stderr


def test_the_unedited_env_example_does_not_start_with_its_published_secret(tmp_path):
    # Attack: `cp .env.example .env` and forget to edit it; the secret key would be public.
    dotenv = tmp_path / ".env"
    dotenv.write_text((ROOT / ".env.example").read_text())
    result = _run(["-m", "framework.serve", "--setup-only"], ROLEBOOK_ENV_FILE=str(dotenv))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line.split()[1] for line in lines] == ["DATABASE_URL", "DJANGO_SECRET_KEY"]
    assert all("still the placeholder from .env.example" in line for line in lines)
    # The settings refuse it too, whatever starts them.
    result = _run(["manage.py", "check"], **{**PRODUCTION, "DJANGO_SECRET_KEY": "CHANGE-ME-to-a-long-random-string"})
    assert result.returncode == 2 and "DJANGO_SECRET_KEY is still the placeholder" in result.stderr


def test_check_deploy_is_clean_under_make_serves_settings(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("\n".join(f"{k}={v}" for k, v in PRODUCTION.items() if k != "DJANGO_SETTINGS_MODULE"))
    result = _run(["-m", "framework.serve", "manage", "check", "--deploy", "--fail-level", "WARNING"],
                  ROLEBOOK_ENV_FILE=str(dotenv))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


# --- cookies and headers ------------------------------------------------------------------------


def test_production_cookies_are_secure_httponly_and_lax():
    assert base.SESSION_COOKIE_SECURE is True and base.CSRF_COOKIE_SECURE is True
    assert base.SESSION_COOKIE_HTTPONLY is True and base.CSRF_COOKIE_HTTPONLY is True
    assert base.SESSION_COOKIE_SAMESITE == "Lax" and base.CSRF_COOKIE_SAMESITE == "Lax"
    assert base.SECURE_HSTS_SECONDS == int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))


def test_the_desk_javascript_never_reads_the_csrf_cookie():
    for script in (ROOT / "static" / "rolebook").glob("*.js"):
        assert "cookie" not in script.read_text(encoding="utf-8").lower(), script.name


def test_no_template_has_an_inline_script_or_style():
    import re

    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>|<style[^>]*>|\sstyle=\"", text):
            if "nonce=" not in match.group(0) and "drf_spectacular/redoc.html" not in str(path):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert offenders == []


@pytest.mark.django_db
@override_settings(CONTENT_SECURITY_POLICY=base.CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY=None)
def test_the_policy_forbids_inline_code_and_the_api_docs_use_a_nonce():
    policy = Client().get("/admin/login/")["Content-Security-Policy"]
    assert "script-src 'self';" in policy + ";" and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy

    docs = Client().get("/api/v1/docs")
    policy = docs["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in docs.content.decode()
    assert "unsafe-inline" not in policy

    redoc = Client().get("/api/v1/redoc")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in redoc and "script-src 'self'" in redoc
    assert "fonts.googleapis.com" not in Client().get("/api/v1/redoc").content.decode()
