"""`bench load`: how many reviewers the production stack serves, how far it goes saturated, and a data check.

    .venv/bin/python -m bench load     # as part of `make bench`
    .venv/bin/python -m bench.load     # alone; --keep keeps the database, --reuse starts from a kept one

The stack is what `make serve` starts, on loopback: a PostgreSQL database (BENCH_LOAD_DATABASE_URL,
default: DATABASE_URL's server, else postgres://postgres@127.0.0.1:5432, database `rolebook_load`),
migrated, with the reference data and the O*NET-scale demo data set (1,016 roles, ≈56k aliases and
the roles' mappings, all pending, created by the system account so every reviewer may decide
them), static files collected; gunicorn with framework/gunicorn_conf.py's default worker count
(2 × cores + 1) and the production settings; and, when the task queue is installed (a `db_worker`
command exists), the task worker `make serve` runs beside it (framework.serve.worker_command). Clients
talk plain HTTP to gunicorn with `X-Forwarded-Proto: https`, as nginx in front would. Each account
starts with a session made on the server, as after a login: a login (PBKDF2, about half a second
of CPU) is no part of the load.

1. Capacity. N reviewers (N = 10, 20, 40, 60, 80; BENCH_LOAD_STEPS) each decide one item every 5 s on
   average: an exponential think time (mean 5 s), then open their queue page and decide one row
   of it. One reviewer in four works the mapping queue, the others the alias queue. The queues
   page with keyset cursors: the pages are found by following the "next" links (`after=` cursors)
   from the first page, as far as the largest step has reviewers on that queue (60 alias pages,
   20 mapping pages; BENCH_LOAD_DEPTH sets another depth), and every reviewer gets one of them,
   drawn without replacement, so the reviewers spread over the queue. A reviewer reloads that
   address for each decision: rows decided meanwhile have left it, so it shows the next open
   rows; a page with no open row left sends them on through its "next" link. A reviewer
   decides the first open row that has the form they want, as the desk's JavaScript does
   (POST of the form's fields with `X-Rolebook-Fetch: 1` and `Accept: application/json`, a JSON
   answer): 60 % approve, 40 % reject with a reason. Beside them, one curator opens a random role
   in the admin and saves it with a changed headline, a reason and the row versions the form
   carries (same think time), and one importer uploads 50 cards every 10 s through the admin's
   import page (preview, then confirm), each round with a changed "What's at stake". Each step
   runs BENCH_LOAD_RAMP_SECONDS (8) unmeasured, then BENCH_LOAD_STEP_SECONDS (45) measured; a
   request counts in the step when it starts inside the measured window. Per step: p50 and p95 of
   the queue GET and of the decision POST, decisions per second, errors, and collisions (a 409:
   another reviewer decided or holds the row). N is served when the queue GET p95 is under
   150 ms, the decision POST p95 under 100 ms, and no request failed; the goal is 60 reviewers
   served.
2. Saturation, a separate figure. The zero-think mix: 8 reviewers (as above) and 2 curators with
   no think time, and the importer, for BENCH_LOAD_SATURATION_SECONDS (30): requests per second,
   per page. Then decision throughput: 1, 4 and 16 reviewers deciding back to back through
   "Review next" (take a batch, decide its rows top down, take the next, as the desk's script
   does; a batch is nobody else's, so the figure counts decisions, not collisions),
   BENCH_LOAD_THROUGHPUT_SECONDS (15) each after a 3 s ramp, and the ratio 16 ÷ 1 (goal: 3×).
3. Checks. After the load, the task queue is left to drain (no job ready or running, nothing in
   the derived-data queue), then the workers stop and the database is checked: one Decision row
   per decision the clients saw succeed, one history row per decision, edit and imported role, no
   approved item whose content changed after approval; and `refresh_derived --check` must find
   the derived rows equal to a recompute.

A 5xx or a dropped connection is an error, a 409 on a decision a collision, a clean refusal of a
stale admin form a refusal. An answer no client should get (a 400 or 403 to a decision, a
redirect to the login page, a page without the forms the clients look for), a client that
crashed or a step with no decision at all means the benchmark itself broke: the run stops with
an exception. Missed goals are printed, not raised.

BENCH_LOAD_KEEP=1 (--keep) keeps the database afterwards; BENCH_LOAD_REUSE=1 (--reuse) starts
from a kept one and keeps it again (no generate_demo: decisions of earlier runs stay made).

The clients are threads running plain `requests` and `html.parser` (no load-testing framework:
each simulated person is a loop of dependent steps, and the data check must know exactly which
decisions the clients saw succeed), spread over BENCH_LOAD_CLIENT_PROCESSES (2) processes so
that the load generator's own CPU never caps the load; each step prints that CPU, per process.
"""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures
import functools
import html
import itertools
import json
import multiprocessing
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE_NAME = "rolebook_load"


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


# Capacity: the steps of N reviewers, how long each runs, and how a reviewer works.
STEPS = [int(n) for n in os.environ.get("BENCH_LOAD_STEPS", "10,20,40,60,80").split(",") if n.strip()]
STEP_SECONDS = _env_float("BENCH_LOAD_STEP_SECONDS", 45)
RAMP_SECONDS = _env_float("BENCH_LOAD_RAMP_SECONDS", 8)
THINK_SECONDS = 5.0  # mean of the exponential pause before each decision
MAPPING_EVERY = 4  # every fourth reviewer works the mapping queue
APPROVE_SHARE = 0.6
# How deep reviewers spread: by default one page of their own for each reviewer of the largest step.
DEPTH_PAGES = int(_env_float("BENCH_LOAD_DEPTH", 0))
REASONS = ["duplicate of another alias", "not a title for this role", "wrong level", "too generic"]
# Saturation: the zero-think mix, then deciding back to back.
SATURATION_SECONDS = _env_float("BENCH_LOAD_SATURATION_SECONDS", 30)
SATURATION_REVIEWERS = int(_env_float("BENCH_LOAD_REVIEWERS", 8))
SATURATION_CURATORS = int(_env_float("BENCH_LOAD_CURATORS", 2))
THROUGHPUT_SECONDS = _env_float("BENCH_LOAD_THROUGHPUT_SECONDS", 15)
THROUGHPUT_CLIENTS = (1, 4, 16)
IMPORTER = os.environ.get("BENCH_LOAD_IMPORTER", "1") != "0"
CARDS_PER_IMPORT, IMPORT_EVERY = 50, 10.0
CLIENT_PROCESSES = max(1, int(_env_float("BENCH_LOAD_CLIENT_PROCESSES", 2)))
DRAIN_SECONDS = 180.0
GOALS = {"queue GET p95 ms": 150.0, "decision POST p95 ms": 100.0, "reviewers served": 60, "16 / 1": 3.0}
JSON_HEADERS = {"X-Rolebook-Fetch": "1", "Accept": "application/json"}
NOUNS = {"aliases": "alias", "mappings": "mapping"}


class BenchmarkBroken(RuntimeError):
    """The benchmark could not measure what it claims (not a slow or failing application)."""


# --------------------------------------------------------------------------------------------
# Set-up


def database_url() -> str:
    """The load test's own database on the configured PostgreSQL server."""
    if url := os.environ.get("BENCH_LOAD_DATABASE_URL"):
        return url
    base = os.environ.get("DATABASE_URL", "")
    server = base.rsplit("/", 1)[0] if base.startswith("postgres") else DEFAULT_SERVER
    return f"{server}/{DATABASE_NAME}"


def _admin_url(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def _recreate_database(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _has_demo_data(url: str) -> bool:
    """Whether `url` names a database that already holds the demo data set (for --reuse)."""
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('roles_role')").fetchone()[0] is None:
            return False
        return conn.execute("SELECT count(*) FROM roles_role").fetchone()[0] >= 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SETUP_SCRIPT = r"""
import json, os, random
from importlib import import_module
from pathlib import Path
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.cards.renderer import render_card
from roles.models import Role

sync_groups(Group, Permission)
User = get_user_model()
# One hash for every account: each costs as much CPU as a login.
hashed = make_password(os.environ["BENCH_LOAD_PASSWORD"])
store = import_module(settings.SESSION_ENGINE).SessionStore
accounts = [(f"rev{i}", REVIEWERS) for i in range(1, int(os.environ["BENCH_LOAD_REVIEWER_ACCOUNTS"]) + 1)]
accounts += [("cur1", CURATORS), ("cur2", CURATORS), ("importer", CURATORS)]
sessions = {}
for name, group in accounts:
    user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": True, "email": f"{name}@example.org"})
    user.password = hashed
    user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=group))
    # What a login leaves in the session, without the login's password hashing.
    session = store()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    sessions[name] = session.session_key
out = Path(os.environ["BENCH_LOAD_CARDS"])
roles = list(Role.objects.with_related().order_by("code"))
for role in random.Random(7).sample(roles, 50):
    (out / f"{role.code}.txt").write_text(render_card(role), encoding="utf-8")
print("BENCH_LOAD " + json.dumps({"role_ids": [r.pk for r in roles], "sessions": sessions,
                                  "cookie": settings.SESSION_COOKIE_NAME}))
"""


@dataclass
class Target:
    """What a client needs to reach the stack; picklable, so client processes get it too."""

    url: str
    session_cookie: str
    sessions: dict[str, str]
    role_ids: list[int]
    cards: dict[str, str]
    password: str = ""


@dataclass
class Stack:
    url: str
    process: subprocess.Popen
    log: Path
    role_ids: list[int]
    cards: dict[str, str]
    password: str
    env: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    session_cookie: str = "sessionid"
    workers: int = 0
    task_worker: subprocess.Popen | None = None
    task_log: Path | None = None

    @property
    def target(self) -> Target:
        return Target(self.url, self.session_cookie, self.sessions, self.role_ids, self.cards, self.password)

    def stop_task_worker(self) -> None:
        if self.task_worker is not None:
            _terminate(self.task_worker)

    def stop(self) -> None:
        """Stop gunicorn and the task worker (each gets 30 s to finish what it does)."""
        _terminate(self.process)
        self.stop_task_worker()


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _production_env(db_url: str, static_root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ROLEBOOK_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "framework.settings.base",
        "DATABASE_URL": db_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_STATIC_ROOT": str(static_root),
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DJANGO_LOG_LEVEL": "WARNING",  # request lines would cost the server more than they tell here
        "ROLEBOOK_ENV_FILE": "/nonexistent",
        # No double-blind samples: the data check counts one Decision per decision a client saw.
        # (A drawn decision stays open and writes two; tests/review cover samples under races.)
        "REVIEW_SAMPLE_SHARE": "0",
    })
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print(f"  {what}: {time.perf_counter() - started:.1f} s", flush=True)
    return result.stdout


def _manage_commands(env: dict[str, str]) -> set[str]:
    """The management commands the production settings offer (`manage.py help --commands`)."""
    out = _run(["-m", "framework.serve", "manage", "help", "--commands"], env, "list of management commands")
    return {line.strip() for line in out.splitlines() if line.strip()}


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait for gunicorn at `url` to answer /healthz; RuntimeError with its log if it ends or times out."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("gunicorn did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.3)


def start_stack(
    db_url: str,
    workdir: Path,
    workers: int | None = None,
    *,
    reuse: bool = False,
    reviewers: int = 8,
    config: str = "python:framework.gunicorn_conf",
    extra_env: dict[str, str] | None = None,
    task_worker: bool = True,
) -> Stack:
    """`make serve`'s set-up, demo data, accounts with sessions, cards; then gunicorn (waits for /healthz).

    The database is made afresh unless `reuse` and it already holds the demo data. `workers`
    None keeps gunicorn_conf's default count; `config` and `extra_env` let another benchmark
    serve with its own gunicorn settings. The task worker (`manage.py db_worker`) starts beside
    gunicorn when the command exists and `task_worker`; Stack.stop() stops both.
    """
    static_root, cards_dir = workdir / "static", workdir / "cards"
    cards_dir.mkdir()
    password = secrets.token_urlsafe(16)
    env = _production_env(db_url, static_root, BENCH_LOAD_PASSWORD=password, BENCH_LOAD_CARDS=str(cards_dir),
                          BENCH_LOAD_REVIEWER_ACCOUNTS=str(reviewers), **(extra_env or {}))
    if workers is None:
        env.pop("WEB_CONCURRENCY", None)
    else:
        env["WEB_CONCURRENCY"] = str(workers)
    name = db_url.rsplit("/", 1)[-1]
    fresh = not (reuse and _has_demo_data(db_url))
    if fresh:
        _recreate_database(db_url)
        print(f"  database {name} created", flush=True)
    else:
        print(f"  database {name} reused (kept by an earlier run)", flush=True)
    _run(["-m", "framework.serve", "--setup-only"], env, "make serve's set-up (migrate, reference, static, coder)")
    if fresh:
        _run(["-m", "framework.serve", "manage", "generate_demo", "--roles", "1016", "--aliases-per-role", "55",
              "--components-per-role", "40", "--seed", "42"], env, "generate_demo (O*NET scale)")
    out = _run(["-m", "framework.serve", "manage", "shell", "-c", SETUP_SCRIPT], env,
               f"{reviewers + 3} accounts with sessions, 50 cards")
    made = json.loads(out.split("BENCH_LOAD ", 1)[1].splitlines()[0])
    cards = {p.name: p.read_text(encoding="utf-8") for p in sorted(cards_dir.glob("*.txt"))}

    worker_process, worker_log = None, None
    if task_worker and "db_worker" in _manage_commands(env):
        worker_log = workdir / "db_worker.log"
        worker_process = subprocess.Popen(_task_worker_command(), cwd=ROOT, env=env, stdout=worker_log.open("w"),
                                          stderr=subprocess.STDOUT)
        atexit.register(_terminate, worker_process)
    port = _free_port()
    log = workdir / "gunicorn.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", config], cwd=ROOT,
        env={**env, "ROLEBOOK_BIND": f"127.0.0.1:{port}"}, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    atexit.register(_terminate, process)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
    except RuntimeError:
        _terminate(process)
        if worker_process is not None:
            _terminate(worker_process)
        raise
    if worker_process is not None and worker_process.poll() is not None:
        _terminate(process)
        raise RuntimeError("the task worker (db_worker) stopped:\n" + worker_log.read_text()[-3000:])
    expected = workers or _default_workers()
    count = 0
    for _ in range(40):  # the workers boot side by side; the first answered /healthz
        count = len(_children(process.pid))
        if count >= expected:
            break
        time.sleep(0.25)
    print(f"  gunicorn: {count} workers at {url}"
          f"{' (gunicorn_conf default, 2 × cores + 1)' if workers is None else ''}; task worker: "
          f"{' '.join(_task_worker_command()[1:]) if worker_process else 'none (no db_worker command)'}", flush=True)
    return Stack(url=url, process=process, log=log, role_ids=made["role_ids"], cards=cards, password=password,
                 env=env, sessions=made["sessions"], session_cookie=made["cookie"], workers=count,
                 task_worker=worker_process, task_log=worker_log)


def _task_worker_command() -> list[str]:
    """The task worker `make serve` runs (framework.serve.worker_command), else `manage.py db_worker` as it is."""
    try:
        from framework.serve import worker_command
    except ImportError:  # an older checkout, measured as a baseline
        return [sys.executable, "-m", "framework.serve", "manage", "db_worker"]
    return worker_command()


def _default_workers() -> int:
    from framework.gunicorn_conf import default_workers

    return default_workers()


# --------------------------------------------------------------------------------------------
# Reading pages as a browser does: forms (with the fields they submit) and links


@dataclass
class Form:
    attrs: dict[str, str]
    fields: list[tuple[str, str]] = field(default_factory=list)
    submits: list[tuple[str, str]] = field(default_factory=list)  # named submit buttons
    files: list[str] = field(default_factory=list)  # names of file inputs

    @property
    def action(self) -> str:
        return self.attrs.get("action") or ""

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.fields if k == name), default)

    def submit(self, button: str | None = None, **values: str) -> list[tuple[str, str]]:
        """What a browser posts: the fields, with `values` replacing those of the same name, and the button."""
        data = [(k, v) for k, v in self.fields if k not in values]
        data += list(values.items())
        if button:
            data += [next((b for b in self.submits if b[0] == button), (button, button))]
        return data


@dataclass
class Page:
    forms: list[Form]
    links: list[dict[str, str]]

    def form(self, *, id: str = "", css: str = "", field: str = "") -> Form | None:
        for form in self.forms:
            if ((not id or form.attrs.get("id") == id) and (not css or css in form.classes)
                    and (not field or any(k == field for k, _ in form.fields))):
                return form
        return None

    def link(self, rel: str) -> str | None:
        return next((a["href"] for a in self.links if rel in (a.get("rel") or "").split()), None)


class PageParser(HTMLParser):
    """Forms and links of a page, whatever the order of attributes or the markup around them.

    A field belongs to the form around it, or to the one its `form` attribute names; a `<form>`
    inside another is ignored, as browsers do.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[dict[str, str]] = []
        self._by_id: dict[str, Form] = {}
        self._current: Form | None = None
        self._textarea: tuple[Form, str] | None = None
        self._text: list[str] = []
        self._select: tuple[Form, str] | None = None
        self._options: list[tuple[str, bool]] = []

    def _owner(self, a: dict[str, str]) -> Form | None:
        return self._by_id.get(a["form"]) if a.get("form") else self._current

    def handle_starttag(self, tag, attrs):
        a = {k: v if v is not None else "" for k, v in attrs}
        if tag == "form":
            if self._current is None:
                self._current = Form(a)
                self.forms.append(self._current)
                if a.get("id"):
                    self._by_id[a["id"]] = self._current
            return
        if tag == "a" and a.get("href"):
            self.links.append(a)
            return
        if tag == "option":
            if self._select is not None:
                self._options.append((a.get("value", ""), "selected" in a))
            return
        owner = self._owner(a)
        name = a.get("name")
        if owner is None or not name or "disabled" in a:
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    owner.fields.append((name, a.get("value") or "on"))
            elif kind in ("submit", "image"):
                owner.submits.append((name, a.get("value") or ""))
            elif kind == "file":
                owner.files.append(name)
            elif kind not in ("button", "reset"):
                owner.fields.append((name, a.get("value") or ""))
        elif tag == "button" and (a.get("type") or "submit").lower() == "submit":
            owner.submits.append((name, a.get("value") or ""))
        elif tag == "textarea":
            self._textarea, self._text = (owner, name), []
        elif tag == "select":
            self._select, self._options = (owner, name), []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            owner, name = self._textarea
            owner.fields.append((name, "".join(self._text).removeprefix("\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            owner, name = self._select
            chosen = [v for v, s in self._options if s] or [v for v, _ in self._options[:1]]
            owner.fields.extend((name, v) for v in chosen[:1])
            self._select = None
        elif tag == "form":
            self._current = None


def parse_page(text: str) -> Page:
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return Page(parser.forms, parser.links)


DECIDE_PATH = re.compile(r"^/review/(aliases|mappings)/(\d+)/(approve|reject)/$")


@dataclass
class Row:
    """A queue row a reviewer can decide: its forms by action ("approve", "reject")."""

    kind: str
    pk: int
    forms: dict[str, Form]


def decide_rows(page: Page) -> list[Row]:
    """The page's decidable rows in the order shown, found by their decide forms' actions."""
    rows: dict[tuple[str, int], Row] = {}
    for form in page.forms:
        match = DECIDE_PATH.match(urllib.parse.urlsplit(form.action).path)
        if match and (form.attrs.get("method") or "get").lower() == "post":
            row = rows.setdefault((match[1], int(match[2])), Row(match[1], int(match[2]), {}))
            row.forms.setdefault(match[3], form)
    return list(rows.values())


# --------------------------------------------------------------------------------------------
# Recording what the clients see


class Recorder:
    """Every timed request (start, label, ms, outcome) and what the clients saw succeed."""

    OUTCOMES = ("ok", "error", "collision", "refused", "unexpected")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[tuple[float, str, float, str]] = []
        self.decided: list[tuple[str, int, str, str, float]] = []  # (noun, pk, action, user, start)
        self.notes: dict[str, str] = {}  # the first detail per "label: outcome"
        self.flags: list[tuple[float, str]] = []  # answers that broke a client's script: (time, label)
        self.flagged: set[str] = set()
        self.edits = 0
        self.imported_roles = 0
        self.crashes: list[str] = []
        self.cpu: list[float] = []  # each client process's CPU seconds in the measured window

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.lock = threading.Lock()

    def record(self, start: float, label: str, seconds: float, outcome: str, detail: str = "") -> None:
        with self.lock:
            self.samples.append((start, label, seconds * 1000, outcome))
            if outcome != "ok" and detail:
                self.notes.setdefault(f"{label}: {outcome}", detail[:300])

    def merge(self, other: Recorder) -> None:
        self.samples += other.samples
        self.decided += other.decided
        for key, value in other.notes.items():
            self.notes.setdefault(key, value)
        self.edits += other.edits
        self.imported_roles += other.imported_roles
        self.crashes += other.crashes
        self.cpu += other.cpu
        self.flags += other.flags

    def window(self, start: float, stop: float) -> list[tuple[float, str, float, str]]:
        return [s for s in self.samples if start <= s[0] < stop]


@dataclass
class Stats:
    """Times per label, errors and refusals, without the time of each request (bench/bench_cost.py)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, seconds: float, outcome: str = "ok", sample: str = "") -> None:
        with self.lock:
            self.times[label].append(seconds * 1000)
            if outcome == "error":
                self.errors[label] += 1
                self.samples.setdefault(label, sample[:300])
            elif outcome != "ok":
                self.refused[label] += 1

    def record(self, start: float, label: str, seconds: float, outcome: str, detail: str = "") -> None:
        self.add(label, seconds, outcome, detail)


# The decide forms as a regular expression (bench/bench_cost.py); decide_rows() reads them whatever the markup.
DECIDE_RE = re.compile(
    r'action="/review/(aliases|mappings)/(\d+)/approve/" class="decide">.{0,400}?name="version" value="(\d+)"', re.S
)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# --------------------------------------------------------------------------------------------
# Clients: one person's browser each


class Client:
    """A session with its cookies, the proxy's headers, and timed requests into `rec`.

    `target` is a Target or a Stack: the account starts with the session the stack made for it,
    if any (else `login()`). `rec` is a Recorder, or a Stats of another benchmark.
    """

    def __init__(self, target: Target | Stack, rec: Recorder | Stats, username: str) -> None:
        import requests

        self.target, self.rec, self.username = target, rec, username
        self.http = requests.Session()
        if username in target.sessions:
            self.http.cookies.set(target.session_cookie, target.sessions[username], path="/")
        self.origin = target.url.replace("http://", "https://")
        self.http.headers.update({"X-Forwarded-Proto": "https", "Origin": self.origin,
                                  "User-Agent": "rolebook-load"})

    def request(self, label: str, method: str, path: str, *, ok=(200, 302), refused=(), collision=(), judge=None,
                **kwargs):
        """Time one request; return the response, or None after an error.

        `ok`: the statuses of success; `refused`: clean refusals; `collision`: another person
        got there first; `judge(response)` may name the outcome instead. 5xx or a dropped
        connection is an error; any other answer is unexpected.
        """
        import requests

        headers = {"Referer": self.origin + path, **kwargs.pop("headers", {})}
        start, clock = time.monotonic(), time.perf_counter()
        try:
            response = self.http.request(method, self.target.url + path, headers=headers, allow_redirects=False,
                                         timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.rec.record(start, label, time.perf_counter() - clock, "error", repr(exc))
            return None
        elapsed = time.perf_counter() - clock
        # The TLS hop is the proxy's: send the Secure cookies back over this plain-HTTP one.
        for cookie in self.http.cookies:
            cookie.secure = False
        status = response.status_code
        if status >= 500:
            self.rec.record(start, label, elapsed, "error", f"{status} {method} {path}")
            return None
        outcome = (judge and judge(response)) or (
            "ok" if status in ok else "refused" if status in refused
            else "collision" if status in collision else "unexpected")
        detail = f"{status} {method} {path} → {response.headers.get('Location') or response.text[:200]}"
        self.rec.record(start, label, elapsed, outcome, detail)
        return response

    @property
    def csrf(self) -> str:
        """The CSRF cookie (a form's own token, Form.get("csrfmiddlewaretoken"), works as well)."""
        return self.http.cookies.get("csrftoken", "")

    def login(self) -> None:
        """Log in through the admin's login form (costs the server a password hash)."""
        page = self.get_page("login page", "/admin/login/")
        form = page.form(field="password") if page is not None else None
        data = form.submit(username=self.username, password=self.target.password) if form else {
            "username": self.username, "password": self.target.password, "csrfmiddlewaretoken": self.csrf}
        response = self.request("login POST", "POST", "/admin/login/", ok=(302,), data=data)
        if response is None or response.status_code != 302:
            detail = "no answer" if response is None else f"{response.status_code}: {response.text[:300]}"
            raise BenchmarkBroken(f"{self.username} could not log in ({detail})")

    def flag(self, label: str, detail: str) -> None:
        """An answer that broke the client's script (a page without the forms it looks for)."""
        with self.rec.lock:
            self.rec.flags.append((time.monotonic(), label))
            self.rec.notes.setdefault(f"{label}: unexpected", detail[:300])

    def get_page(self, label: str, path: str) -> Page | None:
        response = self.request(label, "GET", path, ok=(200,))
        return parse_page(response.text) if response is not None and response.status_code == 200 else None


# --------------------------------------------------------------------------------------------
# The people


@dataclass
class Actor:
    role: str  # "reviewer", "batch", "curator", "importer"
    username: str
    seed: int
    think: float = THINK_SECONDS  # mean seconds of the pause before each action; 0: back to back
    kind: str = "aliases"
    address: str = ""  # the reviewer's queue page (a real cursor)


@dataclass
class Phase:
    start: float  # time.monotonic(): actors begin
    measure_from: float
    stop: float  # nothing new starts after it


def _pause(rng: random.Random, actor: Actor, phase: Phase) -> bool:
    """Sleep the actor's think time; False when the phase ends first."""
    pause = rng.expovariate(1 / actor.think) if actor.think else 0.0
    if time.monotonic() + pause >= phase.stop:
        return False
    time.sleep(pause)
    return True


def decide(client: Client, row: Row, action: str, rng: random.Random) -> bool:
    """POST a row's decide form as the desk's script does; True when the JSON answer says it was decided."""
    noun = NOUNS[row.kind]
    form = row.forms[action]
    values = {"reason": rng.choice(REASONS)} if action == "reject" else {}
    start = time.monotonic()
    response = client.request(f"{noun} decision POST", "POST", form.action, data=form.submit(**values),
                              ok=(200,), headers=JSON_HEADERS, collision=(409,))
    if response is None or response.status_code != 200:
        return False
    try:
        answer = response.json()
    except ValueError:
        client.flag(f"{noun} decision POST", f"not JSON: {response.text[:200]}")
        return False
    expected = "approved" if action == "approve" else "rejected"
    if not answer.get("ok") or answer.get("status") != expected:
        client.flag(f"{noun} decision POST", f"answer {answer} to {action}")
        return False
    with client.rec.lock:
        client.rec.decided.append((noun, row.pk, action, client.username, start))
    return True


def _choose(rows: list[Row], rng: random.Random) -> tuple[Row, str] | None:
    """The first row with the form the reviewer wants (60 % approve), else the first with the other."""
    wanted = "approve" if rng.random() < APPROVE_SHARE else "reject"
    for action in (wanted, "reject" if wanted == "approve" else "approve"):
        for row in rows:
            if action in row.forms:
                return row, action
    return None


def reviewer(client: Client, actor: Actor, phase: Phase) -> None:
    """Think, open the queue page at the reviewer's depth, decide its first open row; until the phase ends."""
    rng = random.Random(actor.seed)
    noun = NOUNS[actor.kind]
    address = actor.address
    while _pause(rng, actor, phase):
        rows: list[Row] = []
        for _ in range(3):
            page = client.get_page(f"{noun} queue GET", address)
            if page is None:
                break
            rows = decide_rows(page)
            if rows:
                break
            # Nothing open here any more: on to the next page, as a person would click "next".
            following = page.link("next")
            if not following:
                client.flag(f"{noun} queue GET", f"no open row and no next page at {address}")
                address = actor.address
                break
            address = urllib.parse.urljoin(address, following)
        choice = _choose(rows, rng)
        if choice is not None:
            decide(client, *choice, rng)


def batch_decider(client: Client, actor: Actor, phase: Phase) -> None:
    """Decide back to back through "Review next": a batch top down, then the next; give the batch back at the end."""
    rng = random.Random(actor.seed)
    page = client.get_page("alias batch page GET", "/review/aliases/?held=mine")
    while page is not None and time.monotonic() < phase.stop:
        for row in decide_rows(page):
            if time.monotonic() >= phase.stop:
                break
            decide(client, row, "approve" if rng.random() < APPROVE_SHARE and "approve" in row.forms
                   else "reject", rng)
        if time.monotonic() >= phase.stop:
            break
        form = page.form(css="review-next")
        if form is None:
            client.flag("take a batch (Review next POST)", "no Review next form on the alias queue")
            return
        taken = client.request("take a batch (Review next POST)", "POST", form.action or "/review/aliases/next/",
                               data=form.submit(), ok=(302,))
        if taken is None:  # an error: the batch as the server has it, after a pause
            time.sleep(0.5)
            page = client.get_page("alias batch page GET", "/review/aliases/?held=mine")
            continue
        location = urllib.parse.urlsplit(taken.headers.get("Location", ""))
        page = client.get_page("alias batch page GET", f"{location.path}?{location.query}")
    if page is not None and (form := page.form(css="release-batch")) is not None:
        client.request("give back the batch", "POST", form.action, data=form.submit(), ok=(302,))


def curator(client: Client, actor: Actor, phase: Phase) -> None:
    """Open a random role in the admin and save it with a changed headline; until the phase ends."""
    rng = random.Random(actor.seed)
    edit = 0
    while _pause(rng, actor, phase):
        path = f"/admin/roles/role/{rng.choice(client.target.role_ids)}/change/"
        page = client.get_page("admin role change GET", path)
        if page is None:
            continue
        form = page.form(id="role_form")
        if form is None:
            client.flag("admin role change GET", f"no role_form at {path}")
            continue
        edit += 1
        headline = form.get("headline").split(" [edit ", 1)[0]
        data = form.submit("_save", headline=f"{headline} [edit {client.username}-{edit}]",
                           change_reason=f"load test edit {edit}")
        response = client.request("admin role change POST", "POST", path, data=data, ok=(302,), refused=(200,),
                                  judge=functools.partial(_stale, path))
        if response is None:
            continue
        if response.status_code == 200 and "admin role change POST: refused" not in client.rec.flagged:
            # The form's errors, rather than the page's first lines.
            client.rec.flagged.add("admin role change POST: refused")
            client.rec.notes["admin role change POST: refused"] = _errors(response.text)
        elif response.status_code == 302 and not _stale(path, response):
            with client.rec.lock:
                client.rec.edits += 1


def _stale(path: str, response) -> str | None:
    """A stale edit (someone saved between the form's check and the locked write) comes back to its page."""
    if response.status_code == 302 and urllib.parse.urlsplit(response.headers.get("Location", "")).path == path:
        return "refused"
    return None


def _errors(page: str) -> str:
    found = re.findall(r'<(?:p|li) class="errornote"[^>]*>(.*?)</|<ul class="errorlist[^"]*">(.*?)</ul>', page, re.S)
    return html.unescape(" | ".join(" ".join(x) for x in found))[:300]


STAKE_RE = re.compile(r"(What's at stake\n)([^\n]*)")
# Every import round changes every card, across phases too (a card imported unchanged writes nothing).
IMPORT_ROUNDS = itertools.count(1)


def importer(client: Client, actor: Actor, phase: Phase) -> None:
    """Every IMPORT_EVERY seconds: the admin's import page, a preview of the 50 cards, the confirm."""
    path = "/admin/roles/role/import/"
    round_ = 0
    while True:
        at = phase.start + round_ * IMPORT_EVERY
        if at >= phase.stop:
            return
        time.sleep(max(0.0, at - time.monotonic()))
        round_ += 1
        page = client.get_page("card import page GET", path)
        upload = page.form(id="upload-form") if page is not None else None
        if upload is None:
            if page is not None:
                client.flag("card import page GET", "no upload-form on the import page")
            continue
        tag = f"{os.getpid()}-{next(IMPORT_ROUNDS)}"
        files = [
            (upload.files[0] if upload.files else "cards",
             (name, STAKE_RE.sub(rf"\g<1>\g<2> (import round {tag})", text, 1).encode("utf-8"), "text/plain"))
            for name, text in client.target.cards.items()
        ]
        response = client.request(f"card import preview ({CARDS_PER_IMPORT} cards)", "POST", path,
                                  data=upload.submit("preview"), ok=(200,), files=files)
        if response is None or response.status_code != 200:
            continue
        confirm = parse_page(response.text).form(field="payload")
        if confirm is None:
            client.flag(f"card import preview ({CARDS_PER_IMPORT} cards)", f"no confirm form: {_errors(response.text)}")
            continue
        response = client.request(f"card import confirm ({CARDS_PER_IMPORT} cards)", "POST", path,
                                  data=confirm.submit("confirm"), ok=(302,), refused=(200,))
        if response is not None and response.status_code == 302:
            with client.rec.lock:
                client.rec.imported_roles += CARDS_PER_IMPORT


ROLES = {"reviewer": reviewer, "batch": batch_decider, "curator": curator, "importer": importer}


# --------------------------------------------------------------------------------------------
# Running the people: threads in a few client processes


def _act(client: Client, actor: Actor, phase: Phase) -> None:
    time.sleep(max(0.0, phase.start - time.monotonic()))
    try:
        ROLES[actor.role](client, actor, phase)
    except Exception:  # noqa: BLE001 — a crashed person is reported, and breaks the run
        client.rec.crashes.append(f"{actor.role} {actor.username}: {traceback.format_exc()[-1500:]}")


def _run_phase_here(clients: dict[str, Client], target: Target, actors: list[Actor], phase: Phase) -> Recorder:
    """The actors as threads of this process; their records, and this process's CPU in the measured window."""
    rec = Recorder()
    threads = []
    for actor in actors:
        client = clients.get(actor.username) or clients.setdefault(actor.username, Client(target, rec, actor.username))
        client.rec = rec
        threads.append(threading.Thread(target=_act, args=(client, actor, phase), daemon=True))
    cpu: list[float] = []

    def meter() -> None:
        time.sleep(max(0.0, phase.measure_from - time.monotonic()))
        cpu.append(time.process_time())
        time.sleep(max(0.0, phase.stop - time.monotonic()))
        cpu.append(time.process_time())

    threads.append(threading.Thread(target=meter, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, phase.stop - time.monotonic()) + 180)
    if any(thread.is_alive() for thread in threads):
        rec.crashes.append("a client did not finish within 180 s of the end of its phase")
    if len(cpu) == 2:
        rec.cpu.append(cpu[1] - cpu[0])
    return rec


def _client_process(conn, target: Target) -> None:
    clients: dict[str, Client] = {}
    while (message := conn.recv()) is not None:
        actors, phase = message
        try:
            conn.send(_run_phase_here(clients, target, actors, phase))
        except Exception:  # noqa: BLE001 — handed to the parent, which stops the run
            rec = Recorder()
            rec.crashes.append(traceback.format_exc()[-1500:])
            conn.send(rec)


class ClientPool:
    """A few processes, each running its share of the actors as threads."""

    def __init__(self, target: Target, processes: int) -> None:
        context = multiprocessing.get_context("fork")
        self.conns, self.processes = [], []
        for _ in range(processes):
            parent, child = context.Pipe()
            process = context.Process(target=_client_process, args=(child, target), daemon=True)
            process.start()
            child.close()
            self.conns.append(parent)
            self.processes.append(process)

    def run(self, actors: list[Actor], phase: Phase) -> Recorder:
        # Accounts stay in one process from phase to phase (its session, its connection pool).
        shares: list[list[Actor]] = [[] for _ in self.conns]
        for actor in actors:
            shares[_account_index(actor.username) % len(shares)].append(actor)
        for conn, share in zip(self.conns, shares, strict=True):
            conn.send((share, phase))
        rec = Recorder()
        for conn in self.conns:
            if not conn.poll(max(0.0, phase.stop - time.monotonic()) + 240):
                raise BenchmarkBroken("a client process did not answer")
            rec.merge(conn.recv())
        return rec

    def close(self) -> None:
        for conn in self.conns:
            conn.send(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def _account_index(username: str) -> int:
    digits = "".join(c for c in username if c.isdigit())
    return int(digits) if digits else sum(map(ord, username))


# --------------------------------------------------------------------------------------------
# Where the CPU went (Linux /proc): gunicorn, the task worker, PostgreSQL, the clients, the rest


TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _proc_seconds(pid: int, with_waited_children: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    if with_waited_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime + cstime: workers that exited (max_requests)
    return ticks / TICKS


def _tree_seconds(pid: int) -> float:
    return _proc_seconds(pid, with_waited_children=True) + sum(_proc_seconds(c) for c in _children(pid))


def cpu_snapshot(stack: Stack, db_url: str) -> dict:
    import psycopg

    try:
        total = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except OSError:
        return {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        backends = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                               "AND pid <> pg_backend_pid()")]
    return {
        "busy": (sum(total) - total[3] - total[4]) / TICKS,
        "gunicorn": _tree_seconds(stack.process.pid),
        "task worker": _tree_seconds(stack.task_worker.pid) if stack.task_worker else 0.0,
        "postgres": {pid: _proc_seconds(pid) for pid in backends},
    }


def cpu_used(before: dict, after: dict, clients: float, seconds: float) -> dict[str, float]:
    """Cores busy over `seconds`: the machine, gunicorn, the task worker, PostgreSQL, the clients, the rest."""
    if not before or not after:
        return {}
    # A backend opened during the window counts whole; one closed during it is lost (rare: connections persist).
    postgres = sum(v - before["postgres"].get(pid, 0.0) for pid, v in after["postgres"].items())
    used = {key: (after[key] - before[key]) / seconds for key in ("busy", "gunicorn", "task worker")}
    used["postgres"] = postgres / seconds
    used["clients"] = clients / seconds
    used["rest"] = used["busy"] - used["gunicorn"] - used["task worker"] - used["postgres"] - used["clients"]
    return used


def run_phase(pool: ClientPool, stack: Stack, db_url: str, actors: list[Actor], ramp: float,
              seconds: float) -> tuple[Recorder, Phase, dict[str, float]]:
    """Run `actors` for `ramp` + `seconds`; the records, the phase's times, and the CPU of the measured window."""
    start = time.monotonic() + 1.0
    phase = Phase(start=start, measure_from=start + ramp, stop=start + ramp + seconds)
    snapshots: list[dict] = []

    def meter() -> None:
        for at in (phase.measure_from, phase.stop):
            time.sleep(max(0.0, at - time.monotonic()))
            snapshots.append(cpu_snapshot(stack, db_url))

    thread = threading.Thread(target=meter, daemon=True)
    thread.start()
    rec = pool.run(actors, phase)
    thread.join()
    cpu = cpu_used(*snapshots, clients=sum(rec.cpu), seconds=seconds) if len(snapshots) == 2 else {}
    if cpu:
        cpu["client processes"] = [c / seconds for c in rec.cpu]
    _check_broken(rec, phase)
    return rec, phase, cpu


def _check_broken(rec: Recorder, phase: Phase) -> None:
    """Stop the run when the clients could not do what they are for (see the module's docstring)."""
    if rec.crashes:
        raise BenchmarkBroken("a client crashed:\n" + "\n".join(rec.crashes[:3]))
    unexpected = [s for s in rec.samples if s[3] == "unexpected"] + rec.flags
    if len(unexpected) > max(5, len(rec.samples) // 50):
        notes = "\n".join(f"  {k}: {v}" for k, v in rec.notes.items() if k.endswith("unexpected"))
        raise BenchmarkBroken(f"{len(unexpected)} unexpected answers of {len(rec.samples)} requests:\n{notes}")
    if any(s[1].endswith("decision POST") for s in rec.samples) and not rec.decided:
        notes = "\n".join(f"  {k}: {v}" for k, v in rec.notes.items())
        raise BenchmarkBroken(f"no decision succeeded in the phase:\n{notes}")


# --------------------------------------------------------------------------------------------
# The queues' pages: each reviewer's depth, found by following the "next" links


def scout(target: Target, kind: str, pages: int) -> list[str]:
    """The addresses of the queue's first `pages` pages, each taken from the previous page's "next" link."""
    client = Client(target, Recorder(), "rev1")
    address = f"/review/{kind}/"
    found = [address]
    while True:
        page = client.get_page(f"{NOUNS[kind]} queue GET (finding pages)", address)
        if page is None:
            raise BenchmarkBroken(f"the {kind} queue did not answer: {client.rec.notes}")
        if len(found) == 1 and not decide_rows(page):
            raise BenchmarkBroken(f"no decide form on the first page of /review/{kind}/ (the template changed?)")
        following = page.link("next")
        if len(found) >= pages or not following:
            return found
        address = urllib.parse.urljoin(address, following)
        if "after=" not in address:
            raise BenchmarkBroken(f"the {kind} queue's next link carries no cursor: {address}")
        found.append(address)


def queue_of(i: int) -> str:
    """Reviewer i's queue: every fourth works the mapping queue."""
    return "mappings" if i % MAPPING_EVERY == 0 else "aliases"


def plan_reviewers(count: int, pages: dict[str, list[str]], seed: int = 11) -> list[Actor]:
    """Reviewers rev1…revN: every fourth on the mapping queue; each at a page of their own while pages last."""
    rng = random.Random(seed)
    order = {kind: rng.sample(addresses, len(addresses)) for kind, addresses in pages.items()}
    taken: dict[str, int] = defaultdict(int)
    actors = []
    for i in range(1, count + 1):
        kind = queue_of(i)
        address = order[kind][taken[kind] % len(order[kind])]
        taken[kind] += 1
        actors.append(Actor("reviewer", f"rev{i}", seed=i, kind=kind, address=address))
    return actors


def _depth(address: str) -> int:
    return int(urllib.parse.parse_qs(urllib.parse.urlsplit(address).query).get("p", ["1"])[0])


# --------------------------------------------------------------------------------------------
# Reports


def _cpu_line(cpu: dict) -> str:
    if not cpu:
        return "CPU: not measured"
    per_process = " + ".join(f"{c:.2f}" for c in cpu.get("client processes", []))
    return (f"CPU in cores (of {os.cpu_count()}): machine {cpu['busy']:.2f}: gunicorn {cpu['gunicorn']:.2f}, "
            f"task worker {cpu['task worker']:.2f}, PostgreSQL {cpu['postgres']:.2f}, load clients "
            f"{cpu['clients']:.2f} ({per_process}), other processes {cpu['rest']:.2f}")


def _labels(samples, suffix: str) -> list[float]:
    return sorted(s[2] for s in samples if s[1].endswith(suffix) and s[3] != "error")


def capacity_figures(rec: Recorder, phase: Phase, n: int, cpu: dict) -> dict:
    seconds = phase.stop - phase.measure_from
    samples = rec.window(phase.measure_from, phase.stop)
    gets, posts = _labels(samples, "queue GET"), _labels(samples, "decision POST")
    decided = sum(1 for d in rec.decided if phase.measure_from <= d[4] < phase.stop)
    errors = sum(1 for s in samples if s[3] == "error")
    row = {
        "N": n, "decisions/s": decided / seconds, "per reviewer/min": 60 * decided / seconds / n,
        "GET n": len(gets), "GET p50": _pct(gets, 50), "GET p95": _pct(gets, 95),
        "POST n": len(posts), "POST p50": _pct(posts, 50), "POST p95": _pct(posts, 95),
        "errors": errors, "collisions": sum(1 for s in samples if s[3] == "collision"),
        "unexpected": sum(1 for s in samples if s[3] == "unexpected"), "cpu": cpu,
        "labels": _by_label(samples, seconds), "load": os.getloadavg()[0],
    }
    row["served"] = (row["GET p95"] < GOALS["queue GET p95 ms"] and row["POST p95"] < GOALS["decision POST p95 ms"]
                     and errors == 0)
    return row


def _by_label(samples, seconds: float) -> dict[str, dict[str, float]]:
    grouped: dict[str, list] = defaultdict(list)
    for sample in samples:
        grouped[sample[1]].append(sample)
    out = {}
    for label, group in sorted(grouped.items()):
        times = sorted(s[2] for s in group if s[3] != "error")
        out[label] = {"n": len(group), "rps": len(group) / seconds, "p50": _pct(times, 50), "p95": _pct(times, 95),
                      "p99": _pct(times, 99), "errors": sum(1 for s in group if s[3] == "error"),
                      "refused": sum(1 for s in group if s[3] in ("refused", "collision"))}
    return out


def _ms(value: float, width: int) -> str:
    return f"{'–' if value != value else f'{value:.0f}':>{width}}"  # NaN: nothing measured


def print_capacity(rows: list[dict]) -> None:
    print(f"\nCapacity: reviewers deciding one item every {THINK_SECONDS:.0f} s on average (1 in {MAPPING_EVERY} on "
          f"the mapping queue), 1 curator, {'an importer' if IMPORTER else 'no importer'}; "
          f"{STEP_SECONDS:.0f} s measured per step after {RAMP_SECONDS:.0f} s of ramp-up")
    print(f"{'N':>4} {'decisions/s':>11} {'per rev/min':>11} {'queue GET':>9} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'POST':>6} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6} {'collisions':>10} {'served':>6}")
    for r in rows:
        print(f"{r['N']:>4} {r['decisions/s']:>11.2f} {r['per reviewer/min']:>11.1f} {r['GET n']:>9} "
              f"{_ms(r['GET p50'], 7)} {_ms(r['GET p95'], 7)} {r['POST n']:>6} {_ms(r['POST p50'], 7)} "
              f"{_ms(r['POST p95'], 7)} {r['errors']:>6} {r['collisions']:>10} {'yes' if r['served'] else 'no':>6}")
    print("(queue GET: alias and mapping queue pages together; goals: queue GET p95 < "
          f"{GOALS['queue GET p95 ms']:.0f} ms, decision POST p95 < {GOALS['decision POST p95 ms']:.0f} ms)")
    labels = sorted({label for r in rows for label in r["labels"]})
    print(f"\nEvery page and action during the steps, p95 ms (requests):\n{'':<36}"
          + "".join(f"{'N = ' + str(r['N']):>16}" for r in rows))
    for label in labels:
        cells = []
        for r in rows:
            x = r["labels"].get(label)
            cells.append(f"{x['p95']:.0f} ({x['n']})" if x else "–")
        print(f"{label:<36}" + "".join(f"{c:>16}" for c in cells))
    print()
    for r in rows:
        print(f"N = {r['N']:>2}: {_cpu_line(r['cpu'])}; load average {r['load']:.1f}")
    busiest = max((c for r in rows for c in r["cpu"].get("client processes", [])), default=0.0)
    print(f"The busiest load-client process used {busiest:.2f} of a core"
          + (": the clients may have limited the load." if busiest > 0.7 else ": the clients were not the limit."))


def print_mix(rec: Recorder, phase: Phase, cpu: dict) -> dict:
    seconds = phase.stop - phase.measure_from
    samples = rec.window(phase.measure_from, phase.stop)
    labels = _by_label(samples, seconds)
    total = len(samples) / seconds
    decided = sum(1 for d in rec.decided if phase.measure_from <= d[4] < phase.stop)
    print(f"\nSaturation, the zero-think mix: {SATURATION_REVIEWERS} reviewers and {SATURATION_CURATORS} curators with "
          f"no think time{', the importer' if IMPORTER else ''}; {seconds:.0f} s measured")
    print(f"{'page / action':<36} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6} "
          f"{'refused':>7}")
    for label, x in labels.items():
        print(f"{label:<36} {x['n']:>6} {x['rps']:>7.1f} {_ms(x['p50'], 8)} {_ms(x['p95'], 8)} {_ms(x['p99'], 8)} "
              f"{x['errors']:>6} {x['refused']:>7}")
    print(f"{'all requests':<36} {len(samples):>6} {total:>7.1f}   ({decided / seconds:.1f} decisions/s)")
    print(_cpu_line(cpu))
    return {"rps": total, "decisions/s": decided / seconds, "errors": sum(x["errors"] for x in labels.values())}


def throughput_figures(rec: Recorder, phase: Phase, clients: int, cpu: dict) -> dict:
    seconds = phase.stop - phase.measure_from
    samples = rec.window(phase.measure_from, phase.stop)
    posts = _labels(samples, "decision POST")
    takes = _labels(samples, "(Review next POST)")
    decided = sum(1 for d in rec.decided if phase.measure_from <= d[4] < phase.stop)
    return {"clients": clients, "decisions/s": decided / seconds, "POST p50": _pct(posts, 50),
            "POST p95": _pct(posts, 95), "take p95": _pct(takes, 95), "batches": len(takes),
            "collisions": sum(1 for s in samples if s[3] == "collision"),
            "errors": sum(1 for s in samples if s[3] == "error"), "cpu": cpu}


def print_throughput(rows: list[dict]) -> float:
    print(f"\nSaturation, decision throughput: reviewers deciding back to back through Review next "
          f"(batches of 25), {THROUGHPUT_SECONDS:.0f} s measured each")
    print(f"{'clients':>7} {'decisions/s':>11} {'POST p50 ms':>11} {'POST p95 ms':>11} {'take a batch p95':>16} "
          f"{'batches':>7} {'collisions':>10} {'errors':>6}")
    for r in rows:
        print(f"{r['clients']:>7} {r['decisions/s']:>11.1f} {_ms(r['POST p50'], 11)} {_ms(r['POST p95'], 11)} "
              f"{_ms(r['take p95'], 16)} {r['batches']:>7} {r['collisions']:>10} {r['errors']:>6}")
    for r in rows:
        print(f"{r['clients']:>2} clients: {_cpu_line(r['cpu'])}")
    first, last = rows[0]["decisions/s"], rows[-1]["decisions/s"]
    ratio = last / first if first else float("nan")
    print(f"{rows[-1]['clients']} ÷ {rows[0]['clients']}: {ratio:.2f}×")
    return ratio


# --------------------------------------------------------------------------------------------
# After the load: the task queue drains, then the data is checked


def drain(db_url: str, limit: float = DRAIN_SECONDS) -> tuple[int, float, int]:
    """Wait until no task is ready or running and the derived-data queue is empty.

    Returns (entries waiting when called, seconds waited, entries left): jobs ready or running
    plus rows of the derived-data queue.
    """
    import psycopg

    started = time.monotonic()
    with psycopg.connect(db_url, autocommit=True) as conn:
        tasks = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                             "current_schema() AND table_name LIKE '%%dbtaskresult'").fetchone()
        derived = conn.execute("SELECT to_regclass('roles_derivedqueue')").fetchone()[0]
        backlog = None
        while True:
            left = 0
            if tasks:
                left += conn.execute(
                    f'SELECT count(*) FROM "{tasks[0]}" WHERE status = \'RUNNING\' OR (status IN (\'NEW\', \'READY\') '
                    "AND (run_after IS NULL OR run_after <= now() OR run_after >= '9000-01-01'))").fetchone()[0]
            if derived:
                left += conn.execute("SELECT count(*) FROM roles_derivedqueue").fetchone()[0]
            backlog = left if backlog is None else backlog
            if left == 0 or time.monotonic() - started > limit:
                return backlog, time.monotonic() - started, left
            time.sleep(0.5)


def check_data(db_url: str, rec: Recorder, started_at) -> list[tuple[str, bool, str]]:
    """The data checks, as (what, passed, detail)."""
    import psycopg

    checks = []
    with psycopg.connect(db_url) as conn:
        def one(sql, *params):
            return conn.execute(sql, params).fetchone()[0]

        reviewer_ids = [r[0] for r in conn.execute("SELECT id FROM auth_user WHERE username LIKE 'rev%%'")]
        curator_ids = [r[0] for r in conn.execute("SELECT id FROM auth_user WHERE username IN ('cur1','cur2')")]
        importer_id = one("SELECT id FROM auth_user WHERE username = 'importer'")
        seen = defaultdict(int)
        for noun, pk, _action, _user, _t in rec.decided:
            seen[(noun, pk)] += 1
        rows = conn.execute(
            "SELECT CASE WHEN alias_id IS NOT NULL THEN 'alias' ELSE 'mapping' END, COALESCE(alias_id, mapping_id), "
            "count(*) FROM review_decision WHERE actor_id = ANY(%s) AND created_at >= %s GROUP BY 1, 2",
            (reviewer_ids, started_at),
        ).fetchall()
        in_db = {(noun, pk): n for noun, pk, n in rows}
        lost = sum(1 for key in seen if key not in in_db)
        extra = sum(1 for key in in_db if key not in seen)
        duplicated = sum(1 for key, n in in_db.items() if n > 1 or seen.get(key, 0) > 1)
        checks.append(("every decided item has exactly one Decision row", lost == extra == duplicated == 0,
                       f"{len(rec.decided):,} decisions seen by clients, {sum(in_db.values()):,} rows; "
                       f"{lost} lost, {extra} unseen, {duplicated} duplicated"))

        history = {}
        for model in ("titlealias", "classificationmapping", "role", "component"):
            history[model] = one(f"SELECT count(*) FROM roles_historical{model} WHERE history_date >= %s", started_at)
        decision_rows = sum(in_db.values())
        review_history = one(
            "SELECT (SELECT count(*) FROM roles_historicaltitlealias WHERE history_date >= %s "
            "AND history_user_id = ANY(%s)) + (SELECT count(*) FROM roles_historicalclassificationmapping "
            "WHERE history_date >= %s AND history_user_id = ANY(%s))",
            started_at, reviewer_ids, started_at, reviewer_ids)
        edit_history = one("SELECT count(*) FROM roles_historicalrole WHERE history_date >= %s "
                           "AND history_user_id = ANY(%s)", started_at, curator_ids)
        import_history = one("SELECT count(*) FROM roles_historicalrole WHERE history_date >= %s "
                             "AND history_user_id = %s", started_at, importer_id)
        total = sum(history.values())
        expected = decision_rows + rec.edits + rec.imported_roles
        checks.append(("history rows = edits + decisions (+ imported roles)",
                       total == expected and review_history == decision_rows and edit_history == rec.edits
                       and import_history == rec.imported_roles,
                       f"{total:,} history rows = {review_history:,} decision + {edit_history:,} edit "
                       f"+ {import_history:,} import rows; expected {decision_rows:,} + {rec.edits:,} "
                       f"+ {rec.imported_roles:,} = {expected:,}"))

        changed = one(
            "SELECT (SELECT count(*) FROM roles_titlealias WHERE status = 'approved' "
            "AND content_changed_at > decided_at) + (SELECT count(*) FROM roles_classificationmapping "
            "WHERE status = 'approved' AND content_changed_at > decided_at)")
        later_history = one(
            "SELECT count(*) FROM roles_titlealias a JOIN roles_historicaltitlealias h ON h.id = a.id "
            "WHERE a.status = 'approved' AND h.history_date > a.decided_at AND h.alias IS DISTINCT FROM a.alias")
        checks.append(("no approved item has content changed after its approval", changed == later_history == 0,
                       f"{changed} items with content_changed_at after decided_at, {later_history} later text changes"))

        tasks = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                             "current_schema() AND table_name LIKE '%%dbtaskresult'").fetchone()
        if tasks:
            states = dict(conn.execute(f'SELECT status, count(*) FROM "{tasks[0]}" WHERE enqueued_at >= %s '
                                       "GROUP BY 1", (started_at,)).fetchall())
            failed = states.get("FAILED", 0)
            checks.append(("no task failed", failed == 0,
                           ", ".join(f"{n:,} {s.lower()}" for s, n in sorted(states.items())) or "no task enqueued"))
    return checks


def check_derived(env: dict[str, str]) -> tuple[bool, str]:
    """`refresh_derived --check` on the database: (clean, what it said)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "framework.serve", "manage", "refresh_derived", "--check"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    said = (result.stdout.strip() + "\n" + result.stderr.strip()).strip()
    if result.returncode not in (0, 1):
        raise BenchmarkBroken(f"refresh_derived --check could not run:\n{said[-3000:]}")
    print(f"  refresh_derived --check: {time.perf_counter() - started:.1f} s", flush=True)
    return result.returncode == 0, said


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class Outcome:
    goals_met: bool
    checks_passed: bool


@dataclass
class Measured:
    started_at: object  # the database's clock when the load began
    everything: Recorder
    capacity: list[dict]
    mix: tuple[Recorder, Phase, dict]
    throughput: list[dict]


def measure(stack: Stack, db_url: str, accounts: int) -> Measured:
    """Find the reviewers' pages, then run the capacity steps and the saturation phases."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        started_at = conn.execute("SELECT now()").fetchone()[0]
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM roles_role), (SELECT count(*) FROM roles_titlealias), "
            "(SELECT count(*) FROM roles_titlealias WHERE status = 'pending'), "
            "(SELECT count(*) FROM roles_classificationmapping), "
            "(SELECT count(*) FROM roles_classificationmapping WHERE status = 'needs_review')").fetchone()
    print(f"Data: {counts[0]:,} roles, {counts[1]:,} aliases ({counts[2]:,} pending), {counts[3]:,} mappings "
          f"({counts[4]:,} to review).")
    target = stack.target
    clock = time.perf_counter()
    largest = max(STEPS + [SATURATION_REVIEWERS])
    wanted = {kind: DEPTH_PAGES or max(1, sum(1 for i in range(1, largest + 1) if queue_of(i) == kind))
              for kind in NOUNS}
    with concurrent.futures.ThreadPoolExecutor(len(wanted)) as threads:
        found = {kind: threads.submit(scout, target, kind, n) for kind, n in wanted.items()}
        pages = {kind: future.result() for kind, future in found.items()}
    print(f"Queue pages found by following the next links: {len(pages['aliases'])} of the alias queue, "
          f"{len(pages['mappings'])} of the mapping queue ({time.perf_counter() - clock:.1f} s).", flush=True)
    plan = plan_reviewers(accounts, pages)
    depths = [_depth(a.address) for a in plan[: max(STEPS, default=0)]]
    if depths:
        print(f"Reviewers' pages: {min(depths)} to {max(depths)} (median {statistics.median(depths):.0f}).")
    everything = Recorder()
    pool = ClientPool(target, CLIENT_PROCESSES)
    try:
        capacity = []
        for step, n in enumerate(STEPS):
            actors = [Actor(a.role, a.username, seed=1000 * (step + 1) + a.seed, kind=a.kind, address=a.address)
                      for a in plan[:n]]
            actors.append(Actor("curator", "cur1", seed=100 + step))
            if IMPORTER:
                actors.append(Actor("importer", "importer", seed=0))
            print(f"Capacity: {n} reviewers …", flush=True)
            rec, phase, cpu = run_phase(pool, stack, db_url, actors, RAMP_SECONDS, STEP_SECONDS)
            everything.merge(rec)
            capacity.append(capacity_figures(rec, phase, n, cpu))

        print("Saturation: the zero-think mix …", flush=True)
        actors = [Actor(a.role, a.username, seed=a.seed, think=0, kind=a.kind, address=a.address)
                  for a in plan[:SATURATION_REVIEWERS]]
        actors += [Actor("curator", f"cur{i}", seed=200 + i, think=0) for i in range(1, SATURATION_CURATORS + 1)]
        if IMPORTER:
            actors.append(Actor("importer", "importer", seed=0))
        mix = run_phase(pool, stack, db_url, actors, 2.0, SATURATION_SECONDS)
        everything.merge(mix[0])

        throughput = []
        for clients in THROUGHPUT_CLIENTS:
            print(f"Saturation: {clients} reviewer{'s' if clients > 1 else ''} deciding back to back …", flush=True)
            actors = [Actor("batch", f"rev{i}", seed=300 + i, think=0) for i in range(1, clients + 1)]
            rec, phase, cpu = run_phase(pool, stack, db_url, actors, 3.0, THROUGHPUT_SECONDS)
            everything.merge(rec)
            throughput.append(throughput_figures(rec, phase, clients, cpu))
    finally:
        pool.close()
    return Measured(started_at, everything, capacity, mix, throughput)


def run_load(keep: bool = False, reuse: bool = False) -> Outcome:
    """Set up, measure capacity and saturation, check the data; raise BenchmarkBroken if the clients could not."""
    try:
        import psycopg
        import requests  # noqa: F401
    except ImportError as exc:
        raise BenchmarkBroken(f"bench load needs {exc.name}: run `make venv`.") from exc
    db_url = database_url()
    try:
        with psycopg.connect(_admin_url(db_url)[0], connect_timeout=5):
            pass
    except psycopg.Error as exc:
        raise BenchmarkBroken(f"bench load needs PostgreSQL ({db_url.rsplit('/', 1)[0]}): "
                              f"{str(exc).splitlines()[0]}") from exc
    began = time.monotonic()
    accounts = max(max(STEPS, default=0), SATURATION_REVIEWERS, max(THROUGHPUT_CLIENTS))
    with tempfile.TemporaryDirectory(prefix="rolebook-load-") as tmp:
        print("Setting up the production stack:", flush=True)
        stack = None
        try:
            stack = start_stack(db_url, Path(tmp), reuse=reuse, reviewers=accounts)
            got = measure(stack, db_url, accounts)
            _terminate(stack.process)  # the task worker goes on: the queue drains first
            print("After the load:", flush=True)
            backlog, waited, left = drain(db_url)
            print(f"  {backlog:,} jobs and derived-queue rows waiting when the load stopped; "
                  + (f"drained in {waited:.1f} s" if not left else f"NOT drained after {waited:.0f} s: {left:,} left"),
                  flush=True)
            stack.stop_task_worker()
            server_errors = stack.log.read_text().count('"level": "ERROR"')
            worker_errors = stack.task_log.read_text().count('"level": "ERROR"') if stack.task_log else 0
            checks = check_data(db_url, got.everything, got.started_at)
            clean, said = check_derived(stack.env)
        except BaseException:
            if stack is not None:
                stack.stop()
            if not keep:
                _drop_database(db_url)
            raise
    if not keep:
        _drop_database(db_url)

    print_capacity(got.capacity)
    print_mix(*got.mix)
    ratio = print_throughput(got.throughput)
    everything = got.everything
    notes = {k: v for k, v in everything.notes.items() if not k.endswith(": collision")}
    if notes:
        print("\nThe first answer of each kind that was not a success (collisions aside):")
        for what, detail in sorted(notes.items()):
            print(f"  {what}: {detail}")
    served = max((r["N"] for r in got.capacity if r["served"]), default=0)
    errors = sum(1 for s in everything.samples if s[3] == "error")
    unexpected = sum(1 for s in everything.samples if s[3] == "unexpected") + len(everything.flags)
    first, last = got.throughput[0], got.throughput[-1]
    goals = [
        (f"reviewers served ≥ {GOALS['reviewers served']} (queue GET p95 < {GOALS['queue GET p95 ms']:.0f} ms, "
         f"decision POST p95 < {GOALS['decision POST p95 ms']:.0f} ms, no errors)", served >= GOALS["reviewers served"],
         f"{served} (" + ", ".join(f"N = {r['N']}: {'served' if r['served'] else 'not'}" for r in got.capacity) + ")"),
        (f"decision throughput {last['clients']} ÷ {first['clients']} ≥ {GOALS['16 / 1']:.0f}×",
         ratio >= GOALS["16 / 1"],
         f"{ratio:.2f}× ({last['decisions/s']:.1f} against {first['decisions/s']:.1f} decisions/s)"),
    ]
    correctness = [
        ("0 errors (5xx, dropped connections)", errors == 0,
         f"{errors} ({server_errors} ERROR lines in the server log, {worker_errors} in the task worker's; "
         f"{unexpected} unexpected answers)"),
        ("task queue drained before the checks", left == 0,
         f"{backlog:,} waiting when the load stopped, drained in {waited:.1f} s, {left:,} left"),
        *checks,
        ("derived data equals a recompute (refresh_derived --check)", clean,
         said.splitlines()[-1][:300] if said else "no output"),
    ]
    print("\nGoals:")
    for what, ok, detail in goals:
        print(f"  [{'met' if ok else 'NOT MET'}] {what}: {detail}")
    print("Correctness:")
    for what, ok, detail in correctness:
        print(f"  [{'passed' if ok else 'FAILED'}] {what}: {detail}")
    if not clean:
        print("  refresh_derived --check said:\n    " + "\n    ".join(said.splitlines()[:20]))
    print(f"(bench load: {time.monotonic() - began:.0f} s in all)")
    return Outcome(goals_met=all(ok for _, ok, _ in goals), checks_passed=all(ok for _, ok, _ in correctness))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", default=os.environ.get("BENCH_LOAD_KEEP") == "1",
                        help="Keep the database afterwards (to look at it, or for --reuse).")
    parser.add_argument("--reuse", action="store_true", default=os.environ.get("BENCH_LOAD_REUSE") == "1",
                        help="Start from the database a --keep run left (skips generate_demo); keeps it again.")
    args = parser.parse_args(argv)
    try:
        outcome = run_load(keep=args.keep or args.reuse, reuse=args.reuse)
    except BenchmarkBroken as exc:
        print(f"bench load broke: {exc}")
        return 2
    return 0 if outcome.checks_passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
