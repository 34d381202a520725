"""The REST API and the release formats on the O*NET-scale demo data (`python -m bench api`).

API: latency of GET /api/v1/roles (every page, 50 roles each, walking the cursors) and of
GET /api/v1/roles/<code> (and its card) for a sample of roles, with a token, through Django's
test client in this process (no network, no gunicorn: the figures are the server's own work,
rendering included). Printed: p50, p95 and max per endpoint, the queries per request, and a
304 revalidation. Goal: list p95 < 100 ms.

Formats: the time of each release format at O*NET scale against today's fixtures export, each
written alone in its own transaction, best of three. Goal: each extra format costs less than
the fixtures export.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from bench.common import demo_data, fresh_database

DEMO = {"roles": 1016, "aliases_per_role": 55, "components_per_role": 40, "seed": 42, "approve_fraction": 0.8}
LIST_ROUNDS = 5  # walks of every page of /roles
DETAIL_SAMPLE = 200  # roles fetched one by one
ROUNDS = 3  # exports per format; the best counts


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _timed_get(client: Client, url: str, headers: dict, **extra) -> tuple[float, object]:
    start = time.perf_counter()
    response = client.get(url, **headers, **extra)
    elapsed = time.perf_counter() - start
    if response.status_code not in (200, 304):
        raise AssertionError(f"{url}: {response.status_code} {response.content[:200]!r}")
    return elapsed, response


def _row(label: str, times: list[float], queries: int) -> str:
    ms = [t * 1000 for t in times]
    return (
        f"{label:<34} {len(ms):>5} req  p50 {statistics.median(ms):7.1f} ms  p95 {_percentile(ms, 95):7.1f} ms  "
        f"max {max(ms):7.1f} ms  {queries:>2} queries"
    )


def _api() -> dict[str, float]:
    from api.services import create_token
    from framework.audit import get_system_user
    from roles.models import Role

    _, secret = create_token(user=get_system_user(), name="bench", scopes=["read"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    client = Client()
    client.get("/api/v1/roles", **headers)  # first use: last_used_at, imports, the URL resolver

    pages: list[float] = []
    first_pages: list[float] = []
    list_queries = 0
    aliases_per_page = []
    for _ in range(LIST_ROUNDS):
        url = "/api/v1/roles"
        first = True
        while url:
            with CaptureQueriesContext(connection) as queries:
                elapsed, response = _timed_get(client, url, headers)
            list_queries = max(list_queries, len(queries))
            body = response.json()
            aliases_per_page.append(sum(len(r["aliases"]) for r in body["results"]))
            pages.append(elapsed)
            if first:
                first_pages.append(elapsed)
                first = False
            url = body["next"]

    codes = list(Role.objects.order_by("code").values_list("code", flat=True))
    sample = random.Random(7).sample(codes, min(DETAIL_SAMPLE, len(codes)))
    details, cards = [], []
    detail_queries = card_queries = 0
    for code in sample:
        with CaptureQueriesContext(connection) as queries:
            elapsed, _ = _timed_get(client, f"/api/v1/roles/{code}", headers)
        details.append(elapsed)
        detail_queries = max(detail_queries, len(queries))
        with CaptureQueriesContext(connection) as queries:
            elapsed, _ = _timed_get(client, f"/api/v1/roles/{code}/card", headers)
        cards.append(elapsed)
        card_queries = max(card_queries, len(queries))

    etag = client.get("/api/v1/roles", **headers)["ETag"]
    revalidations = [_timed_get(client, "/api/v1/roles", headers, HTTP_IF_NONE_MATCH=etag)[0] for _ in range(50)]

    print(f"roles list: {len(pages) // LIST_ROUNDS} pages of 50 roles, {statistics.mean(aliases_per_page):.0f} "
          "approved aliases a page on average", flush=True)
    print(_row("GET /roles (every page)", pages, list_queries), flush=True)
    print(_row("GET /roles (first page)", first_pages, list_queries), flush=True)
    print(_row("GET /roles/<code>", details, detail_queries), flush=True)
    print(_row("GET /roles/<code>/card", cards, card_queries), flush=True)
    print(_row("GET /roles, If-None-Match → 304", revalidations, list_queries), flush=True)
    list_p95 = _percentile([t * 1000 for t in pages], 95)
    print(f"target: list p95 < 100 ms: {'met' if list_p95 < 100 else 'NOT met'} ({list_p95:.1f} ms)", flush=True)
    return {"list_p95": list_p95, "detail_p95": _percentile([t * 1000 for t in details], 95)}


def _best(write) -> tuple[float, dict]:
    best, entries = float("inf"), {}
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
            start = time.perf_counter()
            entries = write(Path(tmp))
            best = min(best, time.perf_counter() - start)
    return best, entries


def _formats() -> None:
    from publishing.formats.csv import write_csv_files
    from publishing.formats.skos import write_skos_file
    from publishing.published import published_reference_ids
    from publishing.releases import write_release_files

    def fixtures(tmp: Path) -> dict:
        return write_release_files(tmp, formats=["fixtures"])[2]

    def csv(tmp: Path) -> dict:
        with transaction.atomic():
            return write_csv_files(tmp)

    def skos(tmp: Path) -> dict:
        with transaction.atomic():
            node_ids, occupation_ids = published_reference_ids()
            return write_skos_file(tmp, node_ids=node_ids, occupation_ids=occupation_ids)

    base, base_files = _best(fixtures)
    print(f"fixtures export (baseline): {base:.2f} s, {sum(f['count'] for f in base_files.values()):,} objects",
          flush=True)
    for name, write in (("csv", csv), ("skos", skos)):
        seconds, files = _best(write)
        count = sum(f["count"] for f in files.values())
        unit = "statements" if name == "skos" else "rows"
        verdict = "met" if seconds < base else "NOT met"
        print(
            f"{name:<5} export: {seconds:.2f} s, {count:,} {unit} in {len(files)} file(s): "
            f"{seconds / base:.2f}× the fixtures export [target < 1×: {verdict}]",
            flush=True,
        )


def run() -> None:
    print(f"database: {connection.vendor}", flush=True)
    with fresh_database():
        started = time.perf_counter()
        summary = demo_data(**DEMO)
        print(f"demo data: {summary} in {time.perf_counter() - started:.1f} s", flush=True)
        with override_settings(ROLEBOOK_API_THROTTLE_RATES={"anon": None, "user": None, "suggest": None}):
            _api()
        _formats()
