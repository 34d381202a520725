"""`make serve`: production on one host: settle the database and files, then hand over to gunicorn.

    python -m framework.serve              # set up, then serve (what `make serve` runs)
    python -m framework.serve --setup-only # set up and stop (a deploy step, a test)
    python -m framework.serve manage ARGS  # any manage.py command with the same settings and .env

Values come from the environment, else from `.env` beside manage.py (or ROLEBOOK_ENV_FILE):
DATABASE_URL, DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS are required, and a missing one
stops here with one line and exit status 2. Set-up is idempotent: migrate, collectstatic,
the SOC 2018 / O*NET-SOC reference rows when some are missing, and the SOC coder's index.
With ROLEBOOK_MIGRATE=0 the database steps are skipped (hosts after the first of a release),
except the rebuild of derived data made with other settings (`refresh_derived --if-stale`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def prepare_environment() -> None:
    """Read .env, choose the production settings, and stop with status 2 if a required value is missing."""
    from framework.env import SERVE_REQUIRED, exit_missing, load_dotenv_file, missing

    load_dotenv_file(Path(os.environ.get("ROLEBOOK_ENV_FILE") or BASE_DIR / ".env"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "framework.settings.base")
    if absent := missing(SERVE_REQUIRED):
        exit_missing(absent)


def _say(text: str) -> None:
    print(f"serve: {text}", flush=True)


def setup() -> None:
    """Migrate, collect static files, load missing reference data, build the coder's index."""
    import django
    from django.core.management import call_command

    django.setup()
    if os.environ.get("ROLEBOOK_MIGRATE", "1").strip() not in {"0", "false", "no", "off"}:
        _say("migrate")
        call_command("migrate", interactive=False, verbosity=1)
        call_command("createcachetable")  # for ROLEBOOK_CACHE=database; nothing otherwise
        _say("load_reference")
        call_command("load_reference")  # roles' command: the SOC / O*NET-SOC rows when some are missing
    # Derived data made with other settings (the flags' words, the bands) is rebuilt on every host.
    _say("refresh_derived --if-stale")
    call_command("refresh_derived", "--if-stale")
    _say("collectstatic")
    call_command("collectstatic", interactive=False, verbosity=1)
    _say("build_coder")
    call_command("build_coder")


def main(argv: list[str]) -> int:
    prepare_environment()
    if argv[:1] == ["manage"]:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["manage.py", *argv[1:]])
        return 0
    setup()
    if "--setup-only" in argv:
        return 0
    _say("starting gunicorn")
    os.chdir(BASE_DIR)
    args = [sys.executable, "-m", "gunicorn", "--config", "python:framework.gunicorn_conf"]
    os.execv(sys.executable, args)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
