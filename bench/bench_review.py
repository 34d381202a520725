"""Review at O*NET scale: bulk approval against a loop of single approvals, and the alias queue.

On the demo data set (≈56k pending aliases from demo.generator.generate_demo):
- approve 10,000 aliases with `approve_aliases` (five calls of 2,000; constant queries per batch);
- approve aliases one by one with `approve_alias`, timed on a 1,000-alias sample and
  extrapolated per item to 10,000 (stated in the output), and print the ratio (target ≥20×).
  The two run in interleaved rounds so that both see the same load on a shared machine;
- render the alias queue (/review/aliases/, first page, ≈56k pending) as a reviewer:
  query count and render time (median of 5 warm requests).
"""

from __future__ import annotations

import re
import statistics
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import include, path

from bench.common import demo_data, fresh_database

BULK_ITEMS = 10_000
LOOP_SAMPLE = 1_000
TARGET_RATIO = 20
RENDERS = 5
ROUNDS = 5

# The project's URLs plus the review pages, in case framework/urls.py does not include them yet.
from framework.urls import urlpatterns as _project_urls  # noqa: E402

urlpatterns = list(_project_urls)
if not any(getattr(p, "namespace", None) == "review" for p in urlpatterns):
    urlpatterns.append(path("review/", include("review.urls")))


def _reviewer():
    from roles.groups import REVIEWERS, sync_groups

    sync_groups(Group, Permission)
    user = get_user_model().objects.create_user("bench-reviewer", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=REVIEWERS))
    return get_user_model().objects.get(pk=user.pk)


def _result_count(response) -> str:
    match = re.search(r'id="result-count">([^<]*)<', response.content.decode())
    return match.group(1) if match else "no result count"


def _queue(reviewer) -> None:
    from roles.models import TitleAlias

    pending = TitleAlias.objects.pending().count()
    client = Client()
    client.force_login(reviewer)
    with override_settings(ROOT_URLCONF=__name__):
        client.get("/review/aliases/")  # warm-up: templates, permission cache
        timings, queries = [], None
        for _ in range(RENDERS):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get("/review/aliases/")
                timings.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
            queries = len(ctx.captured_queries)
        flagged = client.get("/review/aliases/?flag=near_duplicate")
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            flagged = client.get("/review/aliases/?flag=near_duplicate")
            flag_seconds = time.perf_counter() - start
    print(f"alias queue at {pending:,} pending aliases: {queries} queries, "
          f"render {statistics.median(timings) * 1000:.0f} ms (median of {RENDERS})", flush=True)
    print(f"alias queue filtered by flag=near_duplicate: {len(ctx.captured_queries)} queries, "
          f"render {flag_seconds * 1000:.0f} ms; {_result_count(flagged)}", flush=True)


def _approvals(reviewer) -> None:
    from review.services import approve_alias, approve_aliases
    from roles.models import Decision, TitleAlias

    pks = list(TitleAlias.objects.pending().order_by("pk").values_list("pk", flat=True)[: BULK_ITEMS + LOOP_SAMPLE])
    bulk_pks, loop_pks = pks[:BULK_ITEMS], pks[BULK_ITEMS:]
    # Interleaved rounds (bulk, then loop), so both see the same machine load on a shared host.
    bulk_seconds = loop_seconds = 0.0
    bulk_queries = decided = 0
    for round_no in range(ROUNDS):
        chunk = bulk_pks[round_no::ROUNDS]
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            result = approve_aliases(aliases=TitleAlias.objects.filter(pk__in=chunk), actor=reviewer)
            bulk_seconds += time.perf_counter() - start
        assert result.decided_count == len(chunk), result.summary("approved")
        bulk_queries += len(ctx.captured_queries)
        decided += result.decided_count
        start = time.perf_counter()
        for alias in TitleAlias.objects.filter(pk__in=loop_pks[round_no::ROUNDS]):
            approve_alias(alias=alias, actor=reviewer)
        loop_seconds += time.perf_counter() - start

    print(f"bulk approve_aliases: {decided:,} aliases in {bulk_seconds:.2f} s "
          f"({ROUNDS} calls of {BULK_ITEMS // ROUNDS:,}, {bulk_queries} queries in all, "
          f"{decided / bulk_seconds:,.0f} aliases/s)", flush=True)
    per_item = loop_seconds / len(loop_pks)
    loop_10k = per_item * BULK_ITEMS
    print(f"loop of approve_alias: {len(loop_pks):,} aliases in {loop_seconds:.2f} s "
          f"({per_item * 1000:.2f} ms each); extrapolated per item to {BULK_ITEMS:,}: {loop_10k:.1f} s", flush=True)
    ratio = loop_10k / bulk_seconds
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"ratio loop/bulk for {BULK_ITEMS:,} aliases: {ratio:.1f}× ({verdict} the {TARGET_RATIO}× target)",
          flush=True)
    decisions = Decision.objects.filter(actor=reviewer).count()
    history = TitleAlias.history.filter(history_user=reviewer).count()
    print(f"check: {decisions:,} decisions and {history:,} history rows for {len(pks):,} approvals", flush=True)


def run() -> None:
    with fresh_database():
        start = time.perf_counter()
        summary = demo_data()
        print(f"demo data: {summary.roles:,} roles, {summary.aliases:,} aliases "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
        with connection.cursor() as cursor:
            # A live database has planner statistics (autovacuum); a freshly filled one has none.
            cursor.execute("ANALYZE")
        reviewer = _reviewer()
        _queue(reviewer)
        _approvals(reviewer)
