"""`bench cost`: what one request costs the server, page by page: worker CPU, PostgreSQL CPU, queries, bytes.

    .venv/bin/python -m bench cost     # alone; `make bench` runs it with the others

Set-up, as bench/load.py's start_stack (its functions): a fresh PostgreSQL database `rolebook_cost`
on DATABASE_URL's server (else postgres://postgres@127.0.0.1:5432), `make serve`'s set-up
(`framework.serve --setup-only`), the O*NET-scale demo data (`generate_demo --roles 1016
--aliases-per-role 55 --components-per-role 40 --seed 42`: ≈56k aliases, all pending, created by
the system account, so any reviewer may decide them), a reviewer, a curator and a read-scoped API
token. Production settings (framework.settings.base, persistent connections with CONN_MAX_AGE 60),
REVIEW_SAMPLE_SHARE=0, and DJANGO_LOG_LEVEL=INFO as in production (one request log line each).

Server: gunicorn with ONE sync worker (WEB_CONCURRENCY=1), configured by bench/gunicorn_cost.py:
`make serve`'s gunicorn settings plus hooks that write one JSON line per request with the worker's
CPU (`time.process_time()` from pre_request to post_request), its queries and their summed wall
time (a `connection.execute_wrappers` entry), and the CPU of the PostgreSQL backend serving the
worker's connection (`/proc/<pid>/schedstat`, i.e. its utime + stime in nanoseconds; the pid from
psycopg's `info.backend_pid`). Beside it runs the task worker (`manage db_worker`) when the project
has that command. The derived rows the demo data left stale are worked off first (`manage
refresh_derived`), each round starts once the task worker is idle, and the task worker's CPU from
the first measured request until it is idle again, per measured request, is printed below the table
(work a request moved to the queue, e.g. derived data after a decision).

Client: sequential requests, one at a time, over plain HTTP with `X-Forwarded-Proto: https` and
`Origin`, as bench/load.py's clients send them (a requests.Session logged in through the admin's
login form; one session for the reviewer, one for the curator). Per page, WARMUP requests
(10), then REQUESTS measured ones (60):

1. the notification preferences page (/notifications/preferences/), a trivial logged-in page;
2. the alias review queue, first page (/review/aliases/), as the reviewer;
3. the mapping review queue, first page (/review/mappings/), as the reviewer;
4. the decision POST as the desk's script sends it (X-Rolebook-Fetch: 1, Accept: application/json,
   the form's CSRF token, `next` and `version`): approve a different pending alias each time,
   taken from the queue's first pages, as the reviewer;
5. the admin change form of a role with 40 components and 55 aliases, GET, as the curator;
6. the admin alias changelist (/admin/roles/titlealias/, 100 rows), as the curator;
7. GET /api/v1/roles (the first page, 50 roles) with the token and no session, as an API client.

Printed per page: worker CPU per request (median, p10–p90), the PostgreSQL backend's CPU per
request (median) and the queries' summed wall time (median), queries and body bytes per
request, the client's wall time, and worker CPU as a multiple of the trivial page's in the same
run. Goals (medians): alias queue ≤ 30 ms of worker CPU; mapping queue ≤ 45 ms; decision POST
≤ 15 ms and ≤ 12 queries; admin role form ≤ 120 ms and ≤ 150 kB; trivial page worker +
PostgreSQL CPU ≤ 13 ms. A missed goal is reported, not fatal; a page answering an error status
fails the run (after the table of the others).

Environment: BENCH_COST_KEEP=1 keeps the database afterwards; BENCH_COST_REUSE=1 reuses a kept
one (no generate_demo; the set-up step still runs, for migrations and static files);
BENCH_COST_REQUESTS and BENCH_COST_WARMUP change the counts.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import (
    DEFAULT_SERVER,
    ROOT,
    _drop_database,
    _free_port,
    _production_env,
    _recreate_database,
    _run,
    wait_healthy,
)

DATABASE_NAME = "rolebook_cost"
WARMUP = int(os.environ.get("BENCH_COST_WARMUP", "10"))
REQUESTS = int(os.environ.get("BENCH_COST_REQUESTS", "60"))
KEEP = os.environ.get("BENCH_COST_KEEP") == "1"
REUSE = os.environ.get("BENCH_COST_REUSE") == "1"

TRIVIAL = "trivial: notification preferences"
ALIAS_QUEUE = "alias queue, first page"
MAPPING_QUEUE = "mapping queue, first page"
DECISION = "decision POST (approve, JSON)"
ROLE_FORM = "admin role change form"
CHANGELIST = "admin alias changelist"
API = "GET /api/v1/roles"

ACCOUNTS_SCRIPT = r"""
import os
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Count
from api.models import ApiToken
from api.services import create_token, revoke_token
from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import Component, TitleAlias

sync_groups(Group, Permission)
User = get_user_model()
for name, group in [("cost-reviewer", REVIEWERS), ("cost-curator", CURATORS)]:
    user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": True, "email": f"{name}@example.org"})
    user.set_password(os.environ["BENCH_COST_PASSWORD"])
    user.save()
    user.groups.add(Group.objects.get(name=group))
reviewer = User.objects.get(username="cost-reviewer")
for token in ApiToken.objects.active().owned_by(reviewer):  # a kept database: one live token per run
    revoke_token(token=token, actor=reviewer)
_, secret = create_token(user=reviewer, name="bench cost", scopes=["read"])
per_role = {model: set(model.objects.order_by().values("role").annotate(n=Count("pk")).filter(n=n)
                       .values_list("role", flat=True)) for model, n in [(Component, 40), (TitleAlias, 55)]}
roles = sorted(per_role[Component] & per_role[TitleAlias])
print("TOKEN", secret)
print("ROLE", roles[0] if roles else "none")
"""


def database_url() -> str:
    """The benchmark's own database, `rolebook_cost`, on the configured PostgreSQL server."""
    base = os.environ.get("DATABASE_URL", "")
    server = base.rsplit("/", 1)[0] if base.startswith("postgres") else DEFAULT_SERVER
    return f"{server}/{DATABASE_NAME}"


def _has_data(db_url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT count(*) FROM roles_role").fetchone()[0] > 0
    except psycopg.Error:
        return False


# --------------------------------------------------------------------------------------------
# The server: one gunicorn worker with the measuring hooks, and the task worker when there is one


@dataclass
class Server:
    url: str
    server_log: Path  # gunicorn's own output
    log: Path  # one JSON line per request (bench/gunicorn_cost.py)
    role_pk: int
    token: str
    password: str
    tasks: subprocess.Popen | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def prepare(db_url: str, workdir: Path) -> tuple[dict[str, str], str, int, str]:
    """Database, set-up, demo data (unless reused), accounts; returns (env, password, role pk, token)."""
    password = secrets.token_urlsafe(16)
    env = _production_env(db_url, workdir / "static", BENCH_COST_PASSWORD=password, DJANGO_LOG_LEVEL="INFO",
                          REVIEW_SAMPLE_SHARE="0")
    reuse = REUSE and _has_data(db_url)
    if not reuse:
        _recreate_database(db_url)
        print(f"  database {DATABASE_NAME} created", flush=True)
    else:
        print(f"  database {DATABASE_NAME} reused (BENCH_COST_REUSE=1)", flush=True)
    _run(["-m", "framework.serve", "--setup-only"], env, "make serve's set-up (migrate, reference, static, coder)")
    if not reuse:
        _run(["-m", "framework.serve", "manage", "generate_demo", "--roles", "1016", "--aliases-per-role", "55",
              "--components-per-role", "40", "--seed", "42"], env, "generate_demo (O*NET scale)")
    # The derived rows the demo data marked stale, worked off as a caught-up task worker would have.
    _run(["-m", "framework.serve", "manage", "refresh_derived"], env, "refresh_derived (the queue)")
    out = _run(["-m", "framework.serve", "manage", "shell", "-c", ACCOUNTS_SCRIPT], env, "accounts and token")
    token = out.split("TOKEN ", 1)[1].split()[0]
    role = out.split("ROLE ", 1)[1].split()[0]
    if not role.isdigit():
        raise RuntimeError("no role has exactly 40 components and 55 aliases in the demo data")
    return env, password, int(role), token


def _has_task_worker(env: dict[str, str]) -> bool:
    out = _run(["-m", "framework.serve", "manage", "help", "--commands"], env, "looking for db_worker")
    return "db_worker" in out.split()


def start(env: dict[str, str], password: str, role_pk: int, token: str, workdir: Path) -> Server:
    """gunicorn with one worker and the hooks (waits for /healthz), then the task worker if any."""

    requests_log = workdir / "requests.jsonl"
    server_log = workdir / "gunicorn.log"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:bench.gunicorn_cost"], cwd=ROOT,
        env={**env, "ROLEBOOK_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1",
             "BENCH_COST_LOG": str(requests_log)},
        stdout=server_log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    server = Server(url=url, server_log=server_log, log=requests_log, role_pk=role_pk, token=token,
                    password=password, processes=[process])
    try:
        wait_healthy(url, process, server_log)
    except RuntimeError:
        server.stop()
        raise
    print(f"  gunicorn: 1 sync worker at {url}", flush=True)
    if _has_task_worker(env):
        tasks_log = workdir / "db_worker.log"
        server.tasks = subprocess.Popen([sys.executable, "-m", "framework.serve", "manage", "db_worker"], cwd=ROOT,
                                        env=env, stdout=tasks_log.open("w"), stderr=subprocess.STDOUT)
        server.processes.append(server.tasks)
        time.sleep(2)
        if server.tasks.poll() is not None:
            server.stop()
            raise RuntimeError("the task worker (manage db_worker) stopped:\n" + tasks_log.read_text()[-3000:])
        print(f"  task worker: manage db_worker, pid {server.tasks.pid}", flush=True)
    else:
        print("  task worker: none (no db_worker command)", flush=True)
    return server


def settle(server: Server, timeout: float = 300.0) -> float:
    """Wait until the task worker is idle (under 2 % of a core for a second); return the seconds waited.

    Work a round enqueued (derived data after a decision) is then done before the next round starts,
    so it neither competes for the 2 cores nor goes unaccounted.
    """
    if server.tasks is None:
        return 0.0
    started = time.monotonic()
    before = _process_cpu_ms(server.tasks.pid)
    while time.monotonic() - started < timeout:
        time.sleep(1.0)
        now = _process_cpu_ms(server.tasks.pid)
        if now - before < 20.0:
            break
        before = now
    return time.monotonic() - started


def _process_cpu_ms(pid: int) -> float:
    """CPU so far of a process and its children on this machine (schedstat, nanoseconds)."""
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for each in [pid, *map(int, children)]:
        try:
            total += int(Path(f"/proc/{each}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e6


# --------------------------------------------------------------------------------------------
# The client


class Browser:
    """One person's browser, as bench/load.py's clients: a session, the proxy's headers, no redirects followed."""

    def __init__(self, url: str) -> None:
        import requests

        self.url, self.origin = url, url.replace("http://", "https://")
        self.http = requests.Session()
        self.http.headers.update({"X-Forwarded-Proto": "https", "Origin": self.origin, "User-Agent": "rolebook-cost"})

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs):
        """The response, whatever its status; None for a dropped connection or a timeout."""
        import requests

        try:
            response = self.http.request(method, self.url + path, headers={"Referer": self.origin + path,
                                                                           **(headers or {})},
                                         allow_redirects=False, timeout=60, **kwargs)
        except requests.RequestException:
            return None
        # The TLS hop is the proxy's: send the Secure cookies back over this plain-HTTP one.
        for cookie in self.http.cookies:
            cookie.secure = False
        return response

    @property
    def csrf(self) -> str:
        return self.http.cookies.get("csrftoken", "")

    def login(self, username: str, password: str) -> None:
        setup = {"X-Bench-Cost": "setup"}
        self.request("GET", "/admin/login/", headers=setup)
        response = self.request("POST", "/admin/login/", headers=setup, data={
            "username": username, "password": password, "csrfmiddlewaretoken": self.csrf})
        if response is None or response.status_code != 302:
            detail = "no answer" if response is None else f"{response.status_code}: {response.text[:300]}"
            raise RuntimeError(f"{username} could not log in ({detail})")


# --------------------------------------------------------------------------------------------
# Rounds


@dataclass
class Result:
    name: str
    lines: list[dict] = field(default_factory=list)  # the hook's measured lines
    wall_ms: list[float] = field(default_factory=list)  # as the client saw them
    tasks_ms: float | None = None  # the task worker's CPU per request over the round
    rows: int | None = None  # rows on the page, for a per-row figure
    error: str = ""

    def median(self, key: str) -> float | None:
        values = [line[key] for line in self.lines if line[key] is not None]
        return statistics.median(values) if values else None

    def spread(self, key: str) -> tuple[float, float]:
        values = [line[key] for line in self.lines]
        if len(values) < 2:
            return values[0], values[0]
        deciles = statistics.quantiles(values, n=10, method="inclusive")
        return deciles[0], deciles[-1]


Send = Callable[[int, dict[str, str]], object]


def _wait_for_lines(log: Path, label: str, count: int) -> list[dict]:
    """The hook's lines for `label`: the worker writes each just after the client has the response."""
    deadline = time.monotonic() + 30
    while True:
        lines = []
        if log.exists():
            for raw in log.read_text(encoding="utf-8").splitlines():
                line = json.loads(raw)
                if line["label"] == label:
                    lines.append(line)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def measure(server: Server, name: str, send: Send, check: Callable[[object], str]) -> Result:
    """WARMUP then REQUESTS calls of `send(i, headers)`; `check` names what is wrong with an answer, or ''."""
    result = Result(name)
    label = name.replace(";", ",")
    if (waited := settle(server)) > 1.5:
        print(f"  {name}: waited {waited:.0f} s for the task worker to go idle first", flush=True)
    for i in range(WARMUP + REQUESTS):
        phase = "warm" if i < WARMUP else "measure"
        if i == WARMUP and server.tasks is not None:
            tasks_before = _process_cpu_ms(server.tasks.pid)
        start = time.perf_counter()
        response = send(i, {"X-Bench-Cost": f"{label};{phase}"})
        elapsed = time.perf_counter() - start
        problem = "no answer (a dropped connection or a timeout)" if response is None else check(response)
        if problem:
            result.error = f"{phase} request {i + 1}: {problem}"
            log = server.server_log.read_text()[-2000:]
            if (response is None or response.status_code >= 500) and log.strip():
                result.error += f"\n  server log tail:\n{log}"
            return result
        if phase == "measure":
            result.wall_ms.append(elapsed * 1000)
    if server.tasks is not None:
        settle(server)  # what the round enqueued is its cost too
        result.tasks_ms = (_process_cpu_ms(server.tasks.pid) - tasks_before) / REQUESTS
    result.lines = _wait_for_lines(server.log, f"{label};measure", REQUESTS)
    if len(result.lines) < REQUESTS:
        result.error = f"the server logged {len(result.lines)} of {REQUESTS} measured requests"
    return result


def _status(expected: int) -> Callable[[object], str]:
    def check(response) -> str:
        if response.status_code != expected:
            where = response.headers.get("Location", "")
            return f"HTTP {response.status_code}{' to ' + where if where else ''}: {response.text[:200]!r}"
        return ""

    return check


def _decided(response) -> str:
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:300]!r}"
    try:
        answer = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]!r}"
    return "" if answer.get("ok") else f"refused: {answer.get('error')!r}"


# A row's approve form, as the queue renders it: the item and the version it shows.
APPROVE_RE = re.compile(
    r'action="/review/(aliases|mappings)/(\d+)/approve/" class="decide">.{0,400}?name="version" value="(\d+)"', re.S
)
NEXT_RE = re.compile(r'<a href="(\?[^"]*)" rel="next">')


def _pending_aliases(reviewer: Browser, wanted: int) -> list[tuple[str, str]]:
    """(pk, version) of `wanted` pending aliases, from the alias queue's first pages, in queue order."""
    found: dict[str, str] = {}
    path = "/review/aliases/"
    for _page in range(10):
        response = reviewer.request("GET", path, headers={"X-Bench-Cost": "setup"})
        if response is None or response.status_code != 200:
            break
        for kind, pk, version in APPROVE_RE.findall(response.text):
            if kind == "aliases":
                found.setdefault(pk, version)
        following = NEXT_RE.search(response.text)  # the keyset paginator's "next →" (after=…)
        if len(found) >= wanted or following is None:
            break
        path = "/review/aliases/" + html.unescape(following.group(1))
    return list(found.items())[:wanted]


def _table_rows(page: str) -> int:
    body = page.split('id="result_list"', 1)[-1].split("<tbody>", 1)[-1].split("</tbody>", 1)[0]
    return body.count("<tr")


def run_pages(server: Server) -> list[Result]:
    reviewer, curator = Browser(server.url), Browser(server.url)
    api = Browser(server.url)  # no session: a script with a token
    reviewer.login("cost-reviewer", server.password)
    curator.login("cost-curator", server.password)

    def get(client: Browser, path: str, **headers: str) -> Send:
        return lambda _i, label: client.request("GET", path, headers={**label, **headers})

    results = [
        measure(server, TRIVIAL, get(reviewer, "/notifications/preferences/"), _status(200)),
        measure(server, ALIAS_QUEUE, get(reviewer, "/review/aliases/"), _status(200)),
        measure(server, MAPPING_QUEUE, get(reviewer, "/review/mappings/"), _status(200)),
    ]

    pending = _pending_aliases(reviewer, WARMUP + REQUESTS)
    if len(pending) < WARMUP + REQUESTS:
        results.append(Result(DECISION, error=f"the alias queue offered {len(pending)} aliases to approve, "
                                              f"{WARMUP + REQUESTS} needed"))
    else:
        def decide(i: int, label: dict[str, str]):
            pk, version = pending[i]
            return reviewer.request(
                "POST", f"/review/aliases/{pk}/approve/",
                data={"csrfmiddlewaretoken": reviewer.csrf, "next": "/review/aliases/", "version": version},
                headers={**label, "X-Rolebook-Fetch": "1", "Accept": "application/json"},
            )

        results.append(measure(server, DECISION, decide, _decided))

    results.append(measure(server, ROLE_FORM, get(curator, f"/admin/roles/role/{server.role_pk}/change/"),
                           _status(200)))
    last: dict[str, object] = {}

    def changelist(_i: int, label: dict[str, str]):
        last["response"] = response = curator.request("GET", "/admin/roles/titlealias/", headers=label)
        return response

    result = measure(server, CHANGELIST, changelist, _status(200))
    if last.get("response") is not None:
        result.rows = _table_rows(last["response"].text)
    results.append(result)
    results.append(measure(server, API, get(api, "/api/v1/roles", Authorization=f"Bearer {server.token}"),
                           _status(200)))
    return results


# --------------------------------------------------------------------------------------------
# Report


GOALS: dict[str, list[tuple[str, str, float]]] = {  # page → (what, key, at most)
    TRIVIAL: [("worker + PostgreSQL CPU ≤ 13 ms", "cpu_pg_ms", 13.0)],
    ALIAS_QUEUE: [("worker CPU ≤ 30 ms", "cpu_ms", 30.0)],
    MAPPING_QUEUE: [("worker CPU ≤ 45 ms", "cpu_ms", 45.0)],
    DECISION: [("worker CPU ≤ 15 ms", "cpu_ms", 15.0), ("≤ 12 queries", "queries", 12)],
    ROLE_FORM: [("worker CPU ≤ 120 ms", "cpu_ms", 120.0), ("≤ 150 kB", "bytes", 150_000)],
}


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _goals(result: Result) -> list[tuple[str, bool, float]]:
    """(goal, met, measured median) for the page's goals."""
    for line in result.lines:
        line["cpu_pg_ms"] = line["cpu_ms"] + (line["pg_cpu_ms"] or 0.0)
    verdicts = []
    for what, key, limit in GOALS.get(result.name, []):
        value = result.median(key)
        verdicts.append((what, value is not None and value <= limit, value))
    return verdicts


def report(results: list[Result]) -> list[tuple[str, bool, str]]:
    trivial = next((r for r in results if r.name == TRIVIAL and not r.error), None)
    base = trivial.median("cpu_ms") if trivial else None
    print(f"\nPer request, medians over {REQUESTS} measured requests after {WARMUP} to warm up; one sync worker; "
          "CPU and query times in ms:")
    header = (f"{'page':<34} {'worker CPU (p10–p90)':>22} {'PG CPU':>7} {'query':>7} {'queries':>7} "
              f"{'bytes':>9} {'× trivial':>9} {'wall':>7}  goal")
    print(header)
    goals = []
    for result in results:
        if result.error:
            print(f"{result.name:<34} ERROR: {result.error.splitlines()[0]}")
            goals.append((f"{result.name} answers without error", False, result.error))
            continue
        cpu = result.median("cpu_ms")
        low, high = result.spread("cpu_ms")
        ratio = f"{cpu / base:.1f}×" if base else "–"
        verdicts = _goals(result)
        goal = "; ".join(f"{what}: {'met' if ok else 'NOT MET'}" for what, ok, _ in verdicts) or "–"
        print(f"{result.name:<34} {cpu:>7.1f} ({low:5.1f}–{high:6.1f}) {_fmt(result.median('pg_cpu_ms')):>7} "
              f"{_fmt(result.median('query_ms')):>7} {result.median('queries'):>7.0f} "
              f"{result.median('bytes'):>9,.0f} {ratio:>9} {statistics.median(result.wall_ms):>7.1f}  {goal}")
        for what, ok, value in verdicts:
            shown = f"{value / 1000:.1f} kB" if "kB" in what else f"{value:.0f}" if "queries" in what \
                else f"{value:.1f} ms"
            goals.append((f"{result.name}: {what}", ok, shown))
    print("(worker CPU: the gunicorn worker's process time; PG CPU: the PostgreSQL backend's CPU, from /proc "
          "schedstat; query: the queries' summed wall time in the worker; wall: the client's time)")
    for result in results:
        if result.error:
            continue
        notes = []
        if result.name == TRIVIAL:
            notes.append(f"worker + PostgreSQL CPU {result.median('cpu_pg_ms'):.1f} ms")
        if result.rows:
            notes.append(f"{result.rows} rows: {result.median('cpu_ms') / result.rows:.2f} ms of worker CPU, "
                         f"{result.median('bytes') / result.rows:,.0f} bytes per row")
        queries = sorted({line["queries"] for line in result.lines})
        if len(queries) > 1:
            notes.append(f"queries {queries[0]}–{queries[-1]}")
        if reconnects := sum(line["new_backend"] for line in result.lines):
            notes.append(f"{reconnects} request(s) opened a new database connection")
        pg_total = sum(line["pg_cpu_ms"] or 0.0 for line in result.lines)
        if any(line["pg_cpu_ms"] is not None for line in result.lines):
            notes.append(f"PG CPU mean {pg_total / len(result.lines):.1f} ms")
        if result.tasks_ms is not None:
            notes.append(f"task worker CPU {result.tasks_ms:.1f} ms per request (the round, until idle)")
        print(f"  {result.name}: {', '.join(notes)}")
    return goals


def run() -> None:
    try:
        import psycopg  # noqa: F401
        import requests  # noqa: F401
    except ImportError as exc:
        print(f"bench cost needs {exc.name}: run `make venv`.")
        return
    db_url = database_url()
    if urllib.parse.urlsplit(db_url).path.lstrip("/") == "test":
        raise RuntimeError("bench cost never uses the database `test`")
    failures = []
    with tempfile.TemporaryDirectory(prefix="rolebook-cost-") as tmp:
        workdir = Path(tmp)
        print("Setting up:", flush=True)
        try:
            env, password, role_pk, token = prepare(db_url, workdir)
            server = start(env, password, role_pk, token, workdir)
            try:
                results = run_pages(server)
            finally:
                server.stop()
            goals = report(results)
            server_errors = server.server_log.read_text().count('"level": "ERROR"')
            if server_errors:
                print(f"\nThe server log holds {server_errors} ERROR lines.")
        finally:
            if KEEP:
                print(f"Database {DATABASE_NAME} kept (BENCH_COST_KEEP=1).")
            else:
                _drop_database(db_url)
    print("\nGoals (medians; measured, not enforced):")
    for what, ok, detail in goals:
        print(f"  [{'met' if ok else 'NOT MET'}] {what}: {detail.splitlines()[0] if not ok else detail}")
        if not ok and "answers without error" in what:
            failures.append(f"{what.removesuffix(' answers without error')}: {detail}")
    if failures:
        raise RuntimeError("bench cost: pages answered with errors:\n" + "\n".join(failures))
