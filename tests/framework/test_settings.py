"""Production settings pass Django's deployment checks when given a real secret."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SETTINGS_MODULE="framework.settings.base",
        DJANGO_SECRET_KEY="x" * 20 + "a-long-random-production-secret-0123456789",
        DJANGO_ALLOWED_HOSTS="rolebook.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret():
    result = _manage("check", DJANGO_SETTINGS_MODULE="framework.settings.base")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_debug_is_off_outside_dev_settings(settings):
    assert settings.DEBUG is False
    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"] is True


def test_a_sample_share_outside_0_to_1_stops_the_process_with_one_clear_line():
    for bad in ("5", "-0.1", "five percent"):
        result = _manage("check", DJANGO_SETTINGS_MODULE="framework.settings.test", REVIEW_SAMPLE_SHARE=bad)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"REVIEW_SAMPLE_SHARE={bad!r} is not a share from 0 to 1" in result.stderr
