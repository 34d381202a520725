"""`make serve`: production on one host: settle the database and files, then hand over to gunicorn.

    python -m framework.serve              # set up, then serve: gunicorn and the task worker(s)
    python -m framework.serve --setup-only # set up and stop (a deploy step, a test)
    python -m framework.serve worker [ID]  # only a task worker (another host; no set-up)
    python -m framework.serve manage ARGS  # any manage.py command with the same settings and .env

Values come from the environment, else from `.env` beside manage.py (or ROLEBOOK_ENV_FILE):
DATABASE_URL, DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS are required, and a missing one
stops here with one line and exit status 2. Set-up is idempotent: migrate, collectstatic,
the SOC 2018 / O*NET-SOC reference rows when some are missing, and the SOC coder's index.
With ROLEBOOK_MIGRATE=0 the database steps are skipped (hosts after the first of a release),
except the rebuild of derived data made with other settings (`refresh_derived --if-stale`).

Serving runs gunicorn and ROLEBOOK_TASK_WORKERS task workers (default 1; 0 where other hosts run
them) as children: a worker that dies is restarted after a pause, SIGTERM and SIGINT reach every
child, and when gunicorn ends the workers are stopped and its exit status is this one's.

Each worker has a stable id, `<host>-<n>`: one that starts again first puts back the jobs its
predecessor with that id was running when it died (framework.tasks.requeue_abandoned).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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


# The task worker: django-tasks' database worker, polling every second when the queue is empty.
DB_WORKER = [sys.executable, "manage.py", "db_worker", "--interval", "1", "--queue-name", "*"]


def worker_id(number: int = 1) -> str:
    """The stable id of this host's task worker `number` (db_worker takes up to 64 characters)."""
    return f"{socket.gethostname()[:54]}-{number}"


def worker_command(number: int = 1) -> list[str]:
    """The command of this host's task worker `number`: `python -m framework.serve worker <id>`."""
    return [sys.executable, "-m", "framework.serve", "worker", worker_id(number)]


def run_worker(ident: str) -> None:
    """Take back the jobs the last worker `ident` left running, then become db_worker with that id."""
    import django

    os.chdir(BASE_DIR)
    django.setup()
    from framework.tasks import requeue_abandoned

    if requeued := requeue_abandoned(ident):
        _say(f"task worker {ident}: {requeued} job(s) left running by its last run are queued again")
    os.execv(sys.executable, [*DB_WORKER, "--worker-id", ident])
GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "python:framework.gunicorn_conf"]
RESTART_PAUSE = 5.0


def task_workers() -> int:
    text = os.environ.get("ROLEBOOK_TASK_WORKERS", "1").strip()
    if not text.isdigit():
        print(f"Rolebook: ROLEBOOK_TASK_WORKERS={text!r} is not a number of workers (0 or more).", file=sys.stderr)
        raise SystemExit(2)
    return int(text)


def supervise(commands: dict[str, list[str]], *, restart: set[str], main_child: str) -> int:
    """Run `commands` as children until `main_child` ends; restart those in `restart` when they die.

    SIGTERM/SIGINT are passed to every child; the others are stopped when `main_child` ends.
    Returns `main_child`'s exit status.
    """
    children = {name: subprocess.Popen(args, cwd=BASE_DIR) for name, args in commands.items()}
    stopping = False

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            status = children[main_child].poll()
            if status is not None:
                break
            for name in restart:
                child = children[name]
                if child.poll() is not None and not stopping:
                    _say(f"{name} ended with status {child.returncode}; restarting it in {RESTART_PAUSE:.0f} s")
                    time.sleep(RESTART_PAUSE)
                    children[name] = subprocess.Popen(commands[name], cwd=BASE_DIR)
            time.sleep(0.5)
    finally:
        for name, child in children.items():
            if name != main_child and child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status


def main(argv: list[str]) -> int:
    prepare_environment()
    if argv[:1] == ["manage"]:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["manage.py", *argv[1:]])
        return 0
    if argv[:1] == ["worker"]:
        run_worker(argv[1] if len(argv) > 1 else worker_id())
    workers = task_workers()
    setup()
    if "--setup-only" in argv:
        return 0
    _say(f"starting gunicorn and {workers} task worker{'s' if workers != 1 else ''}")
    commands = {"gunicorn": GUNICORN, **{f"task worker {i}": worker_command(i) for i in range(1, workers + 1)}}
    return supervise(commands, restart=set(commands) - {"gunicorn"}, main_child="gunicorn")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
