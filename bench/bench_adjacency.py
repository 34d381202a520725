"""Adjacent roles at 1k and 10k roles: time per role and queries per neighbour list.

Three figures per size:
- one card page's neighbour list (`adjacent_roles`: reads outwards ring by ring, at most
  six queries): per role;
- ranking alone with the whole index already loaded (`AdjacencyIndex.nearest`): per role;
- the mapping queue's `neighbour_mappings` for a page of 50 roles (five queries).
Query counts must stay within those bounds at both sizes.
"""

from __future__ import annotations

import random
import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.common import demo_data, fresh_database
from roles.adjacency import AdjacencyIndex
from roles.models import Role
from roles.selectors import adjacent_roles, neighbour_mappings

SIZES = (1_000, 10_000)
SAMPLE = 30
QUEUE_PAGE = 50
CARD_QUERY_BOUND = 6
QUEUE_QUERIES = 5


def _measure(size: int) -> dict[str, float]:
    demo_data(roles=size, aliases_per_role=1, components_per_role=1)
    total = Role.objects.count()
    rng = random.Random(size)
    pks = list(Role.objects.values_list("pk", flat=True))
    sample = [Role.objects.only("pk").get(pk=pk) for pk in rng.sample(pks, min(SAMPLE, len(pks)))]

    times, queries, found = [], [], []
    for role in sample:
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            nearest = adjacent_roles(role, 10)
            times.append(time.perf_counter() - start)
        queries.append(len(ctx))
        found.append(len(nearest))

    start = time.perf_counter()
    index = AdjacencyIndex.load()
    load_seconds = time.perf_counter() - start
    rank_sample = rng.sample(pks, min(500, len(pks)))
    start = time.perf_counter()
    for pk in rank_sample:
        index.nearest(pk, 10)
    rank_seconds = (time.perf_counter() - start) / len(rank_sample)

    page = [Role(pk=pk) for pk in rng.sample(pks, min(QUEUE_PAGE, len(pks)))]
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        neighbour_mappings(page, k=3)
        queue_seconds = time.perf_counter() - start
    return {
        "roles": total,
        "card_ms": statistics.median(times) * 1000,
        "card_max_ms": max(times) * 1000,
        "card_queries": max(queries),
        "neighbours": min(found),
        "load_ms": load_seconds * 1000,
        "rank_ms": rank_seconds * 1000,
        "queue_ms": queue_seconds * 1000,
        "queue_queries": len(ctx),
        "queue_roles": len(page),
    }


def run() -> None:
    print(f"database: {connection.vendor}", flush=True)
    results = []
    for size in SIZES:
        with fresh_database():
            started = time.perf_counter()
            r = _measure(size)
            print(
                f"{r['roles']:>6,} roles: card neighbour list {r['card_ms']:.1f} ms/role "
                f"(median of {SAMPLE}, max {r['card_max_ms']:.1f} ms), ≤{r['card_queries']} queries, "
                f"≥{r['neighbours']} neighbours | index load {r['load_ms']:.1f} ms, "
                f"ranking alone {r['rank_ms']:.2f} ms/role | "
                f"mapping queue page of {r['queue_roles']}: {r['queue_ms']:.1f} ms, {r['queue_queries']} queries "
                f"(set-up and measure {time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            results.append(r)
    small, big = results
    bounded = all(r["card_queries"] <= CARD_QUERY_BOUND and r["queue_queries"] == QUEUE_QUERIES for r in results)
    print(
        f"10k/1k time ratio: card {big['card_ms'] / small['card_ms']:.1f}×, ranking "
        f"{big['rank_ms'] / small['rank_ms']:.1f}×; queries "
        f"{'within bounds' if bounded else 'OVER THE BOUND'} (card ≤ {CARD_QUERY_BOUND}: "
        f"{small['card_queries']} and {big['card_queries']} at most; queue page = {QUEUE_QUERIES}: "
        f"{small['queue_queries']} and {big['queue_queries']})",
        flush=True,
    )
