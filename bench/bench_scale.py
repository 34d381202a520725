"""Pages at O*NET scale and at ten times that, on PostgreSQL: is each list page flat in the data?

`python -m bench scale` builds (or reuses) two PostgreSQL databases with `generate_demo` data:

- 1×: 1,016 roles, ≈56k aliases, ≈40k components;
- 10×: 10,160 roles, ≈559k aliases, ≈406k components;

then, in a process per scale (bench/scale_worker.py, a fresh Django pointed at that database),
migrates it (timed: every migration must run in reasonable time on 10× data), and times every
list page and queue for one client with Django's test client, DEBUG off: the review dashboard,
both queues (first page, page 100, each filter, each sort), the decision log, the role directory
with and without a search, a card page, compare, and every admin changelist with and without a
search. It prints p50 and p95 per page at each scale, the ratio 10×/1× of the p95s (the bar:
≤ 1.3, and p95 ≤ 150 ms at 10×), the query count, and the EXPLAIN ANALYZE of each page's
slowest query at 10×.

The databases are kept between runs (`rolebook_bench_scale_1x`, `…_10x`) and rebuilt only when
missing, incomplete or made with other parameters; building 10× takes a few minutes.
Settings (environment):
- BENCH_SCALE_DATABASE_URL: the PostgreSQL server (default: DATABASE_URL when it is PostgreSQL,
  else postgres://postgres@127.0.0.1:5432/postgres);
- BENCH_SCALE_SCALES: which scales, default "1x,10x";
- BENCH_SCALE_REPEAT: timed requests per page, default 15 (fewer for a page slower than 2 s);
- BENCH_SCALE_ONLY: a comma-separated list of label prefixes to time only some pages;
- BENCH_SCALE_EXPLAIN=0 leaves out the EXPLAIN ANALYZE listing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# roles, aliases per role, components per role, seed, approved share: bump VERSION to rebuild.
SCALES = {"1x": 1016, "10x": 10160}
PARAMS = {"aliases_per_role": 55, "components_per_role": 40, "seed": 42, "approve_fraction": 0.1, "version": 1}
GOAL_RATIO = 1.3
GOAL_P95_MS = 150.0


def server_url() -> str:
    url = os.environ.get("BENCH_SCALE_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432/postgres"
    return url


def database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _ensure_database(base: str, name: str, roles: int) -> bool:
    """Create the database `name` when it is missing or holds another data set; True when it must be filled."""
    import psycopg

    wanted = json.dumps({"roles": roles, **PARAMS}, sort_keys=True)
    with psycopg.connect(database_url(base, "postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            try:
                with psycopg.connect(database_url(base, name)) as conn:
                    row = conn.execute("SELECT params FROM bench_scale_marker").fetchone()
                if row and row[0] == wanted:
                    return False
            except psycopg.Error:
                pass
            print(f"{name}: another or an incomplete data set; rebuilding", flush=True)
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return True


def _run_worker(base: str, scale: str, roles: int) -> dict:
    name = f"rolebook_bench_scale_{scale}"
    build = _ensure_database(base, name, roles)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(base, name),
        "DJANGO_SETTINGS_MODULE": "framework.settings.bench",
        "BENCH_SCALE_BUILD": "1" if build else "0",
        "BENCH_SCALE_ROLES": str(roles),
        "BENCH_SCALE_PARAMS": json.dumps({"roles": roles, **PARAMS}, sort_keys=True),
        "BENCH_SCALE_NAME": scale,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench.scale_worker"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench scale: the {scale} worker failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}"


def run() -> None:
    base = server_url()
    scales = [s.strip() for s in os.environ.get("BENCH_SCALE_SCALES", "1x,10x").split(",") if s.strip()]
    results = {}
    for scale in scales:
        if scale not in SCALES:
            raise SystemExit(f"BENCH_SCALE_SCALES: unknown scale {scale!r} (use {', '.join(SCALES)})")
        results[scale] = _run_worker(base, scale, SCALES[scale])
    for scale in scales:
        info = results[scale]["info"]
        built = f" (built in {info['build_s']:.0f} s)" if info.get("build_s") else ""
        print(f"{scale}: {info['roles']:,} roles, {info['aliases']:,} aliases ({info['pending']:,} pending), "
              f"{info['components']:,} components, {info['decisions']:,} decisions; "
              f"migrate {info['migrate_s']:.1f} s{built}", flush=True)
    low, high = (scales + scales)[:2] if len(scales) == 1 else (scales[0], scales[-1])
    rows = results[low]["pages"]
    header = (f"{'page':58} {low + ' p50':>9} {low + ' p95':>9} {high + ' p50':>9} {high + ' p95':>9} "
              f"{'ratio':>6} {'q':>4}  verdict")
    print("\n" + header)
    print("-" * len(header))
    failures = 0
    for label, first in rows.items():
        second = results[high]["pages"].get(label, {})
        ratio = (second["p95"] / first["p95"]) if second.get("p95") and first.get("p95") else None
        ok = (ratio is not None and ratio <= GOAL_RATIO and second["p95"] <= GOAL_P95_MS
              and first.get("status") == second.get("status") == 200)
        failures += not ok
        verdict = "ok" if ok else "MISSES"
        if not ok and first.get("rows") != second.get("rows"):
            verdict += f" (page rows {first.get('rows')} at {low}, {second.get('rows')} at {high})"
        if second.get("error") or first.get("error"):
            verdict = f"ERROR {second.get('error') or first.get('error')}"
        print(f"{label:58} {_fmt(first.get('p50')):>9} {_fmt(first.get('p95')):>9} {_fmt(second.get('p50')):>9} "
              f"{_fmt(second.get('p95')):>9} {(f'{ratio:.2f}' if ratio else '—'):>6} "
              f"{second.get('queries', '—'):>4}  {verdict}", flush=True)
    print(f"\n{len(rows) - failures} of {len(rows)} pages meet the bars (10× p95 ≤ {GOAL_RATIO} × 1× p95 "
          f"and ≤ {GOAL_P95_MS:.0f} ms)", flush=True)
    if os.environ.get("BENCH_SCALE_EXPLAIN", "1") != "0":
        print(f"\nEXPLAIN ANALYZE of each page's slowest query at {high}:", flush=True)
        for label, page in results[high]["pages"].items():
            if page.get("explain"):
                print(f"\n--- {label} ({page['slowest_ms']:.1f} ms)\n{page['slowest_sql'][:600]}\n{page['explain']}",
                      flush=True)
