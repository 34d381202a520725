"""`bench load`: the production stack under a working team's load for 60 s, then a check of the data.

    .venv/bin/python -m bench load                 # as part of `make bench`
    .venv/bin/python -m bench.load --duration 60   # alone; --keep keeps the database afterwards

It starts what `make serve` starts, on loopback: a fresh PostgreSQL database
(BENCH_LOAD_DATABASE_URL, default: DATABASE_URL's server, else postgres://postgres@127.0.0.1:5432,
database `rolebook_load`), migrated, with the reference data and the O*NET-scale demo data set
(1,016 roles, ≈56k aliases, all pending, created by the system account so every reviewer may
decide them), static files collected, and gunicorn with 4 workers and the production settings.
Clients talk plain HTTP to gunicorn with `X-Forwarded-Proto: https`, as nginx in front would.

Then, for --duration seconds, with no think time:
- 8 reviewers open the alias or the mapping queue at a random depth and decide one of its rows
  (60 % approve, 40 % reject with a reason), as the desk's JavaScript does (fetch, JSON answer);
- 2 curators open a random role in the admin and save it with a changed headline, a reason and
  the row versions the form carries (inlines included);
- 1 importer uploads the same 50 cards every 10 s through the admin's import page (preview, then
  confirm), each round with a changed "What's at stake", so every confirm writes 50 roles.

Then the same 8 reviewers work the alias queue as a team, BENCH_LOAD_TEAM_SECONDS (30) per mode,
approving rows top down with BENCH_LOAD_TEAM_THINK (0.5 s) between decisions: first all on the
default first page, as before batches, then each through "Review next". It reports collisions
(decisions refused because another reviewer decided or holds the row) per 1,000 decisions,
decisions per minute per reviewer, and the p95 of taking a batch.

Every request is timed per page and action. A 5xx (or a dropped connection) is an error; a
clean refusal (already decided, changed since shown, a stale form) is counted apart. Afterwards
the database is checked: one Decision row per decision the clients saw succeed, one history row
per decision, edit and imported role, and no approved item whose content changed after approval.

Why a thread pool with `requests` and not locust: the scenario is eleven scripted people, each
a sequence of dependent steps (log in, read a page, post the form it carries with its CSRF
token and versions), plus a check of the database afterwards that must know exactly which
decisions the clients saw succeed. That is a loop per thread in plain Python, with no new
dependency (locust brings gevent, Flask and its own process model and report format) and one
table printed the same way as the other benchmarks.
"""

from __future__ import annotations

import argparse
import html
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
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE_NAME = "rolebook_load"
# The mix; the environment may change it to find where the time goes (e.g. one reviewer alone).
REVIEWERS = int(os.environ.get("BENCH_LOAD_REVIEWERS", "8"))
CURATORS = int(os.environ.get("BENCH_LOAD_CURATORS", "2"))
IMPORTER = os.environ.get("BENCH_LOAD_IMPORTER", "1") != "0"
CARDS_PER_IMPORT, IMPORT_EVERY = 50, 10.0
GOALS = {"alias queue page": 150.0, "decision POST": 100.0, "take a batch": 50.0}  # p95 ms
# After the mixed load: the same reviewers as a team on one queue, per mode (0 skips it).
TEAM_SECONDS = float(os.environ.get("BENCH_LOAD_TEAM_SECONDS", "30"))
TEAM_THINK = float(os.environ.get("BENCH_LOAD_TEAM_THINK", "0.5"))

# --------------------------------------------------------------------------------------------
# Set-up


def database_url() -> str:
    """The load test's own database on the configured PostgreSQL server."""
    if url := os.environ.get("BENCH_LOAD_DATABASE_URL"):
        return url
    base = os.environ.get("DATABASE_URL", "")
    server = base.rsplit("/", 1)[0] if base.startswith("postgres") else DEFAULT_SERVER
    return f"{server}/{DATABASE_NAME}"


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SETUP_SCRIPT = r"""
import os, random
from pathlib import Path
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.cards.renderer import render_card
from roles.models import Role

sync_groups(Group, Permission)
User = get_user_model()
password = os.environ["BENCH_LOAD_PASSWORD"]
for name, group in [*((f"rev{i}", REVIEWERS) for i in range(1, 9)), ("cur1", CURATORS), ("cur2", CURATORS),
                    ("importer", CURATORS)]:
    user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": True, "email": f"{name}@example.org"})
    user.set_password(password)
    user.save()
    user.groups.add(Group.objects.get(name=group))
out = Path(os.environ["BENCH_LOAD_CARDS"])
roles = list(Role.objects.with_related().order_by("code"))
for role in random.Random(7).sample(roles, 50):
    (out / f"{role.code}.txt").write_text(render_card(role), encoding="utf-8")
print("ROLE_IDS", ",".join(str(r.pk) for r in roles))
"""


@dataclass
class Stack:
    url: str
    process: subprocess.Popen
    log: Path
    role_ids: list[int]
    cards: dict[str, str]
    password: str


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


def start_stack(db_url: str, workdir: Path, workers: int = 4) -> Stack:
    """Fresh database, `make serve`'s set-up, demo data, accounts, cards; then gunicorn (waits for /healthz)."""
    static_root, cards_dir = workdir / "static", workdir / "cards"
    cards_dir.mkdir()
    password = secrets.token_urlsafe(16)
    env = _production_env(db_url, static_root, BENCH_LOAD_PASSWORD=password, BENCH_LOAD_CARDS=str(cards_dir))
    _recreate_database(db_url)
    print(f"  database {db_url.rsplit('/', 1)[-1]} created", flush=True)
    _run(["-m", "framework.serve", "--setup-only"], env, "make serve's set-up (migrate, reference, static, coder)")
    _run(["-m", "framework.serve", "manage", "generate_demo", "--roles", "1016", "--aliases-per-role", "55",
          "--components-per-role", "40", "--seed", "42"], env, "generate_demo (O*NET scale)")
    out = _run(["-m", "framework.serve", "manage", "shell", "-c", SETUP_SCRIPT], env, "accounts and 50 cards")
    role_ids = [int(pk) for pk in out.split("ROLE_IDS ", 1)[1].split()[0].split(",")]
    cards = {p.name: p.read_text(encoding="utf-8") for p in sorted(cards_dir.glob("*.txt"))}
    port = _free_port()
    log = workdir / "gunicorn.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:framework.gunicorn_conf"], cwd=ROOT,
        env={**env, "ROLEBOOK_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)},
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("gunicorn did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.3)
    print(f"  gunicorn: {workers} workers at {url}", flush=True)
    return Stack(url=url, process=process, log=log, role_ids=role_ids, cards=cards, password=password)


# --------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[str, str] = field(default_factory=dict)
    # What the clients saw succeed, for the data check.
    decided: list[tuple[str, int, str, str]] = field(default_factory=list)  # (type, pk, kind, user)
    edits: int = 0
    imported_roles: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # seconds of CPU over the run (_cpu_used)

    def add(self, label: str, seconds: float, outcome: str = "ok", sample: str = "") -> None:
        with self.lock:
            self.times[label].append(seconds * 1000)
            if outcome == "error":
                self.errors[label] += 1
                self.samples.setdefault(label, sample[:300])
            elif outcome == "refused":
                self.refused[label] += 1


class Client:
    """One person's browser: a session with its cookies, the proxy's headers, timed requests."""

    def __init__(self, stack: Stack, stats: Stats, username: str) -> None:
        import requests

        self.stack, self.stats, self.username = stack, stats, username
        self.http = requests.Session()
        origin = stack.url.replace("http://", "https://")
        self.origin = origin
        self.http.headers.update({"X-Forwarded-Proto": "https", "Origin": origin, "User-Agent": "rolebook-load"})

    def request(self, label: str, method: str, path: str, *, ok=(200, 302), **kwargs):
        """Time one request; 5xx or a dropped connection is an error. Returns the response or None."""
        import requests

        headers = {"Referer": self.origin + path, **kwargs.pop("headers", {})}
        start = time.perf_counter()
        try:
            response = self.http.request(method, self.stack.url + path, headers=headers, allow_redirects=False,
                                         timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.stats.add(label, time.perf_counter() - start, "error", repr(exc))
            return None
        elapsed = time.perf_counter() - start
        # The TLS hop is the proxy's: send the Secure cookies back over this plain-HTTP one.
        for cookie in self.http.cookies:
            cookie.secure = False
        if response.status_code >= 500:
            self.stats.add(label, elapsed, "error", f"{response.status_code} {path}")
            return None
        outcome = "ok" if response.status_code in ok else "refused"
        self.stats.add(label, elapsed, outcome)
        return response

    @property
    def csrf(self) -> str:
        return self.http.cookies.get("csrftoken", "")

    def login(self) -> None:
        self.request("login page", "GET", "/admin/login/")
        response = self.request("login POST", "POST", "/admin/login/", ok=(302,), data={
            "username": self.username, "password": self.stack.password, "csrfmiddlewaretoken": self.csrf,
        })
        if response is None or response.status_code != 302:
            detail = "no answer" if response is None else f"{response.status_code}: {response.text[:300]}"
            raise RuntimeError(f"{self.username} could not log in ({detail})")


DECIDE_RE = re.compile(
    r'action="/review/(aliases|mappings)/(\d+)/approve/" class="decide">.{0,400}?name="version" value="(\d+)"', re.S
)


def _depth(rng: random.Random) -> int:
    """Mostly the first pages, often deep ones: 60 % pages 1–10, 40 % pages 11–500."""
    return rng.randint(1, 10) if rng.random() < 0.6 else rng.randint(11, 500)


def reviewer(client: Client, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    client.login()
    while time.monotonic() < deadline:
        kind = "aliases" if rng.random() < 0.7 else "mappings"
        noun = "alias" if kind == "aliases" else "mapping"
        page = _depth(rng)
        depth = "" if page <= 10 else " (page > 10)"
        response = client.request(f"{noun} queue page{depth}", "GET", f"/review/{kind}/?page={page}", ok=(200,))
        if response is None or response.status_code != 200:
            continue
        rows = DECIDE_RE.findall(response.text)
        if not rows:
            continue
        _, pk, version = rng.choice(rows)
        approve = rng.random() < 0.6
        action = "approve" if approve else "reject"
        data = {"csrfmiddlewaretoken": client.csrf, "version": version, "next": f"/review/{kind}/?page={page}"}
        if not approve:
            data["reason"] = rng.choice(["duplicate of another alias", "not a title for this role",
                                         "wrong level", "too generic"])
        response = client.request(f"{noun} decision POST ({action})", "POST", f"/review/{kind}/{pk}/{action}/",
                                  ok=(200,), data=data,
                                  headers={"X-Rolebook-Fetch": "1", "Accept": "application/json"})
        if response is not None and response.status_code == 200 and response.json().get("ok"):
            with client.stats.lock:
                client.stats.decided.append((noun, int(pk), action, client.username))


# --------------------------------------------------------------------------------------------
# A team on one queue: everyone on the default first page (before "Review next"), or batches.


def team_reviewer(client: Client, deadline: float, mode: str, think: float) -> None:
    """Decide alias rows in the queue's order until the deadline, approving them all.

    `mode` "first page": open the alias queue (lowest confidence first) and decide its rows top
    down, as every reviewer did before batches. "next": take a batch ("Review next"), decide its
    rows top down, take the next. A refusal of a decision (another reviewer decided or holds the
    row) is a collision. `think` seconds pass between decisions, as a person reads the row.
    """
    client.login()
    while time.monotonic() < deadline:
        if mode == "next":
            taken = client.request("take a batch (Review next POST)", "POST", "/review/aliases/next/", ok=(302,),
                                   data={"csrfmiddlewaretoken": client.csrf})
            if taken is None:
                continue
            path = "/review/aliases/?held=mine"
        else:
            path = "/review/aliases/"
        response = client.request(f"alias queue ({mode})", "GET", path, ok=(200,))
        if response is None or response.status_code != 200:
            continue
        rows = DECIDE_RE.findall(response.text)
        if not rows:
            time.sleep(0.2)
            continue
        for _kind, pk, version in rows:
            if time.monotonic() >= deadline:
                return
            time.sleep(think)
            answer = client.request("decision POST", "POST", f"/review/aliases/{pk}/approve/", ok=(200,),
                                    data={"csrfmiddlewaretoken": client.csrf, "version": version},
                                    headers={"X-Rolebook-Fetch": "1", "Accept": "application/json"})
            if answer is not None and answer.status_code == 200 and answer.json().get("ok"):
                with client.stats.lock:
                    client.stats.decided.append(("alias", int(pk), "approve", client.username))
            elif mode == "first page":
                break  # the page is stale: read it again, as a reviewer told "already decided" would


def run_team(stack: Stack, duration: float, think: float, into: Stats) -> dict[str, dict[str, float]]:
    """The same reviewers, first on the default page and then with "Review next"; the figures per mode.

    The decisions the clients saw succeed join `into`, for the data check.
    """
    figures = {}
    for mode in ("first page", "next"):
        stats = Stats()
        deadline = time.monotonic() + 3 + duration
        threads = [threading.Thread(target=team_reviewer, args=(Client(stack, stats, f"rev{i}"), deadline, mode,
                                                                 think), daemon=True)
                   for i in range(1, REVIEWERS + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=duration + 120)
        into.decided.extend(stats.decided)
        decided = len(stats.decided)
        collisions = stats.refused["decision POST"]
        takes = sorted(stats.times.get("take a batch (Review next POST)", []))
        figures[mode] = {
            "decisions": decided,
            "collisions per 1,000 decisions": 1000 * collisions / max(decided, 1),
            "decisions per minute per reviewer": decided / REVIEWERS / (duration / 60),
            "take a batch p95 ms": _pct(takes, 95) if takes else float("nan"),
            "errors": sum(stats.errors.values()),
        }
    print(f"\nA team of {REVIEWERS} reviewers on the alias queue, {duration:.0f} s per mode, think time {think} s:")
    names = list(next(iter(figures.values())))
    print(f"{'':<36}" + "".join(f"{mode:>14}" for mode in figures))
    for name in names:
        print(f"{name:<36}" + "".join(f"{figures[mode][name]:>14.1f}" for mode in figures))
    return figures


class FormParser(HTMLParser):
    """The fields a browser would submit from the form with the given id (inputs, textareas, selects)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value") or "on"))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []
        elif tag == "select" and a.get("name"):
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text).removeprefix("\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = [v for v, s in self._options if s] or [v for v, _ in self._options[:1]]
            self.fields.extend((self._select, v) for v in chosen[:1])
            self._select = None
        elif tag == "form" and self.inside:
            self.inside = False


def curator(client: Client, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    client.login()
    edit = 0
    while time.monotonic() < deadline:
        pk = rng.choice(client.stack.role_ids)
        path = f"/admin/roles/role/{pk}/change/"
        response = client.request("admin role change GET", "GET", path, ok=(200,))
        if response is None or response.status_code != 200:
            continue
        parser = FormParser("role_form")
        parser.feed(response.text)
        fields = [(k, v) for k, v in parser.fields if k not in ("headline", "change_reason")]
        headline = dict(parser.fields).get("headline", "")
        edit += 1
        fields += [("headline", f"{headline.split(' [edit ', 1)[0]} [edit {client.username}-{edit}]"),
                   ("change_reason", f"load test edit {edit}"), ("_save", "Save"),
                   ("csrfmiddlewaretoken", client.csrf)]
        response = client.request("admin role change POST", "POST", path, ok=(302,), data=fields)
        if response is not None and response.status_code == 302:
            with client.stats.lock:
                # A saved edit goes to the role list; a stale one (someone saved between the form's
                # check and the locked write) comes back to the same page with the reason.
                if urllib.parse.urlsplit(response.headers.get("Location", "")).path == path:
                    client.stats.refused["admin role change POST"] += 1
                else:
                    client.stats.edits += 1
        elif response is not None and client.stats.refused["admin role change POST"] == 1:
            client.stats.samples.setdefault("admin role change POST (refused)", _errors(response.text))


def _errors(page: str) -> str:
    found = re.findall(r'<(?:p|li) class="errornote"[^>]*>(.*?)</|<ul class="errorlist[^"]*">(.*?)</ul>', page, re.S)
    return html.unescape(" | ".join(" ".join(x) for x in found))[:300]


STAKE_RE = re.compile(r"(What's at stake\n)([^\n]*)")


def importer(client: Client, deadline: float, start: float) -> None:
    client.login()
    round_ = 0
    while True:
        at = start + round_ * IMPORT_EVERY
        if at >= deadline:
            return
        time.sleep(max(0.0, at - time.monotonic()))
        round_ += 1
        files = [
            ("cards", (name, STAKE_RE.sub(rf"\g<1>\g<2> (import round {round_})", text, 1).encode("utf-8"),
                       "text/plain"))
            for name, text in client.stack.cards.items()
        ]
        path = "/admin/roles/role/import/"
        response = client.request(f"card import preview ({CARDS_PER_IMPORT} cards)", "POST", path, ok=(200,),
                                  data={"csrfmiddlewaretoken": client.csrf, "preview": "Preview"}, files=files)
        if response is None or 'name="payload"' not in response.text:
            continue
        payload = html.unescape(re.search(r'name="payload" value="([^"]*)"', response.text).group(1))
        response = client.request(f"card import confirm ({CARDS_PER_IMPORT} cards)", "POST", path, ok=(302, 200),
                                  data={"csrfmiddlewaretoken": client.csrf, "payload": payload,
                                        "confirm": "Confirm import"})
        if response is not None and response.status_code in (200, 302):
            with client.stats.lock:
                client.stats.imported_roles += CARDS_PER_IMPORT


def drive(stack: Stack, duration: float) -> tuple[Stats, float]:
    stats = Stats()
    start = time.monotonic() + 3  # logins first
    deadline = start + duration
    threads = [threading.Thread(target=reviewer, args=(Client(stack, stats, f"rev{i}"), deadline, i), daemon=True)
               for i in range(1, REVIEWERS + 1)]
    threads += [threading.Thread(target=curator, args=(Client(stack, stats, f"cur{i}"), deadline, 100 + i),
                                 daemon=True) for i in range(1, CURATORS + 1)]
    if IMPORTER:
        threads.append(threading.Thread(target=importer, args=(Client(stack, stats, "importer"), deadline, start),
                                        daemon=True))
    before = _cpu_snapshot(stack)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
    stats.cpu = _cpu_used(before, _cpu_snapshot(stack))
    return stats, duration


# --------------------------------------------------------------------------------------------
# Where the machine's CPU went during the run (Linux /proc): the server, the clients, the rest.


def _jiffies(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _cpu_snapshot(stack: Stack) -> dict[str, float]:
    try:
        total = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        children = Path(f"/proc/{stack.process.pid}/task/{stack.process.pid}/children").read_text().split()
    except OSError:
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    idle = int(total[3]) + int(total[4])
    return {
        "busy": (sum(int(v) for v in total[:8]) - idle) / ticks,
        "gunicorn": sum(_jiffies(int(pid)) for pid in [stack.process.pid, *children]) / ticks,
        "clients": sum(os.times()[:2]),
    }


def _cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    if not before or not after:
        return {}
    used = {key: after[key] - before[key] for key in before}
    used["rest"] = used["busy"] - used["gunicorn"] - used["clients"]  # PostgreSQL, mostly
    return used


# --------------------------------------------------------------------------------------------
# Report and checks


def _pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(stats: Stats, duration: float) -> dict[str, dict[str, float]]:
    rows = {}
    print(f"\n{'page / action':<38} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'refused':>7}")
    for label in sorted(stats.times):
        values = sorted(stats.times[label])
        row = {"n": len(values), "rps": len(values) / duration, "p50": _pct(values, 50), "p95": _pct(values, 95),
               "p99": _pct(values, 99), "errors": stats.errors[label], "refused": stats.refused[label]}
        rows[label] = row
        print(f"{label:<38} {row['n']:>6} {row['rps']:>7.1f} {row['p50']:>8.0f} {row['p95']:>8.0f} "
              f"{row['p99']:>8.0f} {row['errors']:>6} {row['refused']:>7}")
    for label, sample in stats.samples.items():
        print(f"  first {'error' if 'refused' not in label else 'refusal'} of {label}: {sample}")
    if stats.cpu:
        cores = os.cpu_count() or 1
        share = {k: v / duration for k, v in stats.cpu.items()}
        print(f"\nCPU over the run, in cores busy (of {cores}): all {share['busy']:.2f}; gunicorn workers "
              f"{share['gunicorn']:.2f}, load clients {share['clients']:.2f}, "
              f"the rest (PostgreSQL) {share['rest']:.2f}")
        requests = sum(len(v) for v in stats.times.values())
        if requests:
            print(f"gunicorn CPU per request: {1000 * stats.cpu['gunicorn'] / requests:.0f} ms "
                  f"over {requests:,} requests")
    return rows


def _combined(stats: Stats, prefix: str) -> list[float]:
    return sorted(v for label, values in stats.times.items() if label.startswith(prefix) for v in values)


def check_data(db_url: str, stats: Stats, started_at: str) -> list[tuple[str, bool, str]]:
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
        for noun, pk, _action, _user in stats.decided:
            seen[(noun, pk)] += 1
        rows = conn.execute(
            "SELECT CASE WHEN alias_id IS NOT NULL THEN 'alias' ELSE 'mapping' END, COALESCE(alias_id, mapping_id), "
            "count(*) FROM review_decision WHERE actor_id = ANY(%s) GROUP BY 1, 2", (reviewer_ids,)
        ).fetchall()
        in_db = {(noun, pk): n for noun, pk, n in rows}
        lost = sum(1 for key in seen if key not in in_db)
        extra = sum(1 for key in in_db if key not in seen)
        duplicated = sum(1 for key, n in in_db.items() if n > 1 or seen.get(key, 0) > 1)
        checks.append(("every decided item has exactly one Decision row", lost == extra == duplicated == 0,
                       f"{len(stats.decided):,} decisions seen by clients, {sum(in_db.values()):,} rows; "
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
        expected = decision_rows + stats.edits + stats.imported_roles
        checks.append(("history rows = edits + decisions (+ imported roles)",
                       total == expected and review_history == decision_rows and edit_history == stats.edits
                       and import_history == stats.imported_roles,
                       f"{total:,} history rows = {review_history:,} decision + {edit_history:,} edit "
                       f"+ {import_history:,} import rows; expected {decision_rows:,} + {stats.edits:,} "
                       f"+ {stats.imported_roles:,} = {expected:,}"))

        changed = one(
            "SELECT (SELECT count(*) FROM roles_titlealias WHERE status = 'approved' "
            "AND content_changed_at > decided_at) + (SELECT count(*) FROM roles_classificationmapping "
            "WHERE status = 'approved' AND content_changed_at > decided_at)")
        later_history = one(
            "SELECT count(*) FROM roles_titlealias a JOIN roles_historicaltitlealias h ON h.id = a.id "
            "WHERE a.status = 'approved' AND h.history_date > a.decided_at AND h.alias IS DISTINCT FROM a.alias")
        checks.append(("no approved item has content changed after its approval", changed == later_history == 0,
                       f"{changed} items with content_changed_at after decided_at, {later_history} later text changes"))
    return checks


def run_load(duration: float = 60.0, keep: bool = False) -> bool:
    """Set up, drive, report and check; return whether every goal was met."""
    try:
        import psycopg  # noqa: F401
        import requests  # noqa: F401
    except ImportError as exc:
        print(f"bench load needs {exc.name}: run `make venv`.")
        return False
    db_url = database_url()
    try:
        _recreate_database(db_url)
    except Exception as exc:  # noqa: BLE001 — any connection failure means no server to test against
        print(f"bench load needs PostgreSQL ({db_url.rsplit('/', 1)[0]}): {exc}".splitlines()[0])
        return False
    with tempfile.TemporaryDirectory(prefix="rolebook-load-") as tmp:
        workdir = Path(tmp)
        print("Setting up the production stack:", flush=True)
        stack = start_stack(db_url, workdir)
        try:
            import psycopg

            with psycopg.connect(db_url) as conn:
                started_at = conn.execute("SELECT now()").fetchone()[0]
                pending = conn.execute("SELECT count(*) FROM roles_titlealias WHERE status = 'pending'").fetchone()[0]
                total = conn.execute("SELECT count(*) FROM roles_titlealias").fetchone()[0]
                roles = conn.execute("SELECT count(*) FROM roles_role").fetchone()[0]
            print(f"Data: {roles:,} roles, {total:,} aliases ({pending:,} pending).")
            importing = (f"1 importer ({CARDS_PER_IMPORT} cards every {IMPORT_EVERY:.0f} s)" if IMPORTER
                         else "no importer")
            print(f"Load: {REVIEWERS} reviewers, {CURATORS} curators, {importing}, think time 0, {duration:.0f} s.",
                  flush=True)
            stats, seconds = drive(stack, duration)
            team = run_team(stack, TEAM_SECONDS, TEAM_THINK, stats) if TEAM_SECONDS else {}
        finally:
            stack.process.terminate()
            try:
                stack.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.process.kill()
        report(stats, seconds)
        server_errors = stack.log.read_text().count('"level": "ERROR"')
        checks = check_data(db_url, stats, started_at)
    if not keep:
        _drop_database(db_url)
    errors = sum(stats.errors.values())
    alias_pages = _combined(stats, "alias queue page")
    decisions = _combined(stats, "alias decision POST") + _combined(stats, "mapping decision POST")
    alias_p95 = _pct(alias_pages, 95) if alias_pages else float("inf")
    decision_p95 = _pct(decisions, 95) if decisions else float("inf")
    goals = [
        ("0 errors (5xx, dropped connections)", errors == 0,
         f"{errors} ({server_errors} ERROR lines in the server log)"),
        *checks,
        ("alias queue page p95 < 150 ms", alias_p95 < GOALS["alias queue page"],
         f"{alias_p95:.0f} ms over {len(alias_pages):,} pages"),
        ("decision POST p95 < 100 ms", decision_p95 < GOALS["decision POST"],
         f"{decision_p95:.0f} ms over {len(decisions):,} POSTs"),
    ]
    if team:
        goals += [
            ("collisions per 1,000 decisions with Review next = 0",
             team["next"]["collisions per 1,000 decisions"] == 0,
             f"{team['next']['collisions per 1,000 decisions']:.1f} (on the default first page: "
             f"{team['first page']['collisions per 1,000 decisions']:.1f})"),
            ("taking a batch p95 < 50 ms", team["next"]["take a batch p95 ms"] < GOALS["take a batch"],
             f"{team['next']['take a batch p95 ms']:.0f} ms"),
        ]
    print("\nGoals:")
    for what, ok, detail in goals:
        print(f"  [{'met' if ok else 'NOT MET'}] {what}: {detail}")
    return all(ok for _, ok, _ in goals)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_LOAD_SECONDS", "60")))
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards (to look at it).")
    args = parser.parse_args(argv)
    return 0 if run_load(args.duration, keep=args.keep) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
