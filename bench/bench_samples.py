"""Double-blind samples at O*NET scale: what the samples cost the queues, the log and the agreement pages.

On the demo data set (≈56k pending aliases from demo.generator.generate_demo), with 8 reviewers
(Reviewers group) and one lead (Lead reviewers):

1. Baseline, before any sample: "Review next" (`workflow.take_batch` on the default alias queue
   order, confidence then pk) for the 8 reviewers, 3 rounds each: p50/p95 and queries per call;
   the alias queue's first page (/review/aliases/), the decision log (/review/decisions/) and the
   agreement page as the reviewer who will have the most open samples, and the disputes page
   (/review/adjudicate/) as the lead: median of 5 warm renders and queries.
2. Samples made through the review core at the production share's scale (5 % of 56k), with
   REVIEW_SAMPLE_SHARE=1.0 so that every decision is drawn: 4 reviewers approve or reject
   ≈2,800 aliases at the front of the queue with `decide_many` (pages of 50, two approvals to
   one rejection), so ≈2,800 samples await a second review; other reviewers give ≈1,400 second
   reviews with single `workflow.decide` calls (half agree, half disagree); the lead settles
   300 disputes with `review.services.adjudicate`. Time per item for each phase. Reviewer 0's
   samples get no second review, so they keep the largest exclusion subquery
   (`roles.workflow.samples.hidden_from_q`): the pages are rendered as them.
3. After: take_batch again (same reviewers and rounds; once before and once after ANALYZE, as
   autovacuum would), with a check that no batch holds an item hidden from its taker; the same
   pages; `roles.agreement.figures()` (median of 5). Ratios after/before.

Goal: take_batch p95 < 50 ms on PostgreSQL with the samples in place. The table at the end
gives every figure with its ratio against the baseline of the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import include, path

from bench.common import demo_data, fresh_database

REVIEWERS = 8
FIRST_REVIEWERS = 4
ROUNDS = 3
RENDERS = 5
DRAWN = 2_800          # 5 % of ≈56k aliases
SECOND_REVIEWS = 1_400
ADJUDICATIONS = 300
PAGE = 50              # decide_many per queue page, as the bulk form does
GOAL_P95_MS = 50.0

# The project's URLs plus the review pages, in case framework/urls.py does not include them yet.
from framework.urls import urlpatterns as _project_urls  # noqa: E402

urlpatterns = list(_project_urls)
if not any(getattr(p, "namespace", None) == "review" for p in urlpatterns):
    urlpatterns.append(path("review/", include("review.urls")))


# ---------------------------------------------------------------------------------------------
# Set-up


def _users():
    from roles import groups

    groups.sync_groups(Group, Permission)
    user_model = get_user_model()
    reviewers_group = Group.objects.get(name=groups.REVIEWERS)
    leads_group = Group.objects.get(name=groups.LEAD_REVIEWERS)
    reviewers = []
    for i in range(REVIEWERS):
        user = user_model.objects.create_user(f"bench-reviewer-{i}", password="pw", is_staff=True)
        user.groups.add(reviewers_group)
        reviewers.append(user_model.objects.get(pk=user.pk))
    lead = user_model.objects.create_user("bench-lead", password="pw", is_staff=True)
    lead.groups.add(leads_group)
    return reviewers, user_model.objects.get(pk=lead.pk)


def _queue():
    from roles.models import TitleAlias

    # The alias queue's default order (review.filters.AliasFilter.SORTS["confidence"]).
    return TitleAlias.objects.pending().order_by("confidence", "pk")


def _analyze() -> None:
    with connection.cursor() as cursor:
        # A live database has planner statistics (autovacuum); a freshly filled one has none.
        cursor.execute("ANALYZE")


def _release_all(reviewers) -> None:
    from roles import workflow
    from roles.models import TitleAlias

    for reviewer in reviewers:
        workflow.release(TitleAlias, actor=reviewer)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---------------------------------------------------------------------------------------------
# Measurements


def _take_batches(reviewers, label: str, hidden: dict[int, set[int]] | None = None) -> dict[str, float]:
    """take_batch for every reviewer, ROUNDS rounds; p50/p95 ms and queries per call. Checks that no
    two reviewers hold the same item, and (with `hidden`) that nobody gets an item hidden from them."""
    from roles import workflow
    from roles.models import TitleAlias

    timings, queries, taken = [], [], 0
    for _round in range(ROUNDS):
        held: dict[int, int] = {}
        for reviewer in reviewers:
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                pks = workflow.take_batch(TitleAlias, _queue(), actor=reviewer)
                timings.append(time.perf_counter() - start)
            queries.append(len(ctx.captured_queries))
            taken += len(pks)
            for pk in pks:
                assert pk not in held, f"alias {pk} handed to two reviewers"
                held[pk] = reviewer.pk
            if hidden is not None:
                wrong = set(pks) & hidden.get(reviewer.pk, set())
                assert not wrong, f"{reviewer} was handed {len(wrong)} aliases hidden from them"
    _release_all(reviewers)
    result = {"p50": statistics.median(timings) * 1000, "p95": _pct(timings, 0.95) * 1000,
              "queries": statistics.median(queries), "calls": len(timings), "taken": taken}
    print(f"take_batch {label}: p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
          f"{result['queries']:.0f} queries per call ({len(timings)} calls, {taken:,} aliases taken)", flush=True)
    return result


def _render(user, url: str) -> dict[str, float]:
    """Median of RENDERS warm renders of `url` as `user`, and its queries."""
    client = Client()
    client.force_login(user)
    with override_settings(ROOT_URLCONF=__name__):
        response = client.get(url)  # warm-up: templates, permission cache
        assert response.status_code == 200, (url, response.status_code)
        timings, queries = [], 0
        for _ in range(RENDERS):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(url)
                timings.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(ctx.captured_queries)
    return {"ms": statistics.median(timings) * 1000, "queries": queries}


def _figures() -> dict[str, float]:
    from roles import agreement

    timings, measured = [], 0
    for _ in range(RENDERS):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            figures = agreement.figures()
            timings.append(time.perf_counter() - start)
        measured = figures.measured
    return {"ms": statistics.median(timings) * 1000, "queries": len(ctx.captured_queries), "measured": measured}


def _pages(heavy, lead, label: str) -> dict[str, dict[str, float]]:
    pages: dict[str, tuple[object, str]] = {
        "alias queue /review/aliases/": (heavy, "/review/aliases/"),
        "decision log /review/decisions/": (heavy, "/review/decisions/"),
        "agreement /review/agreement/": (heavy, "/review/agreement/"),
        "disputes /review/adjudicate/ (lead)": (lead, "/review/adjudicate/"),
    }
    results = {name: _render(user, url) for name, (user, url) in pages.items()}
    results["agreement.figures()"] = _figures()
    for name, found in results.items():
        print(f"{label} {name}: {found['ms']:.0f} ms, {found['queries']} queries", flush=True)
    return results


# ---------------------------------------------------------------------------------------------
# Making the samples through the review core


def _phase(label: str, items: int, work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(f"{label}: {items:,} in {seconds:.1f} s ({seconds / max(items, 1) * 1000:.1f} ms per item)", flush=True)
    return seconds / max(items, 1) * 1000


def _make_samples(reviewers, lead) -> dict[str, float]:
    from review.services import adjudicate
    from roles import workflow
    from roles.models import DecisionKind, Sample, SampleState, TitleAlias

    approve, reject = DecisionKind.APPROVE, DecisionKind.REJECT
    opposite = {approve: reject, reject: approve}
    front = list(_queue().values_list("pk", flat=True)[:DRAWN])
    first_of: dict[int, tuple[int, str]] = {}  # alias pk → (first reviewer's index, verdict)
    per_item: dict[str, float] = {}

    def first_reviews() -> None:
        # Pages of 50 in queue order, round robin over the first reviewers; two approvals to one rejection.
        for k, begin in enumerate(range(0, len(front), PAGE)):
            chunk, who = front[begin : begin + PAGE], k % FIRST_REVIEWERS
            kind = reject if k % 3 == 2 else approve
            result = workflow.decide_many(TitleAlias, chunk, kind=kind, actor=reviewers[who],
                                          reason="bench: first review")
            assert len(result.drawn) == len(chunk), result.summary(kind)
            first_of.update((pk, (who, kind)) for pk in chunk)

    per_item["first reviews (decide_many, drawn)"] = _phase("first reviews with decide_many, all drawn",
                                                            len(front), first_reviews)

    # Reviewer 0's samples get no second review: they keep the largest set of open samples.
    second = [pk for pk in front if first_of[pk][0] != 0][:SECOND_REVIEWS]
    aliases = TitleAlias.objects.in_bulk(second)
    outcomes = {"agreed": 0, "disputed": 0}

    def second_reviews() -> None:
        for j, pk in enumerate(second):
            who, first_kind = first_of[pk]
            # Round robin over the reviewers other than the first (reviewer 0 gives second reviews too).
            others = [i for i in range(REVIEWERS) if i != who]
            actor = reviewers[others[j % len(others)]]
            kind = first_kind if j % 2 == 0 else opposite[first_kind]
            alias = aliases[pk]
            done = workflow.decide(alias, kind=kind, actor=actor, reason="bench: second review",
                                   expected_version=alias.version)
            outcomes["agreed" if done.review_outcome == "agreed" else "disputed"] += 1

    per_item["second reviews (decide)"] = _phase("second reviews with decide", len(second), second_reviews)
    print(f"  {outcomes['agreed']:,} agreed, {outcomes['disputed']:,} disputed", flush=True)

    disputes = list(
        Sample.objects.filter(state=SampleState.DISPUTED).select_related("alias").order_by("drawn_at", "pk")
        [:ADJUDICATIONS]
    )

    def adjudications() -> None:
        for n, sample in enumerate(disputes):
            first_kind = first_of[sample.alias_id][1]
            verdict = first_kind if n % 2 == 0 else opposite[first_kind]
            adjudicate(sample=sample, actor=lead, verdict=verdict, reason="bench: settled by the lead",
                       expected_version=sample.alias.version)

    per_item["adjudications (services.adjudicate)"] = _phase("adjudications by the lead", len(disputes),
                                                             adjudications)
    counts = dict(Sample.objects.order_by().values_list("state").annotate(n=Count("pk")))
    print("samples by state: " + ", ".join(f"{state} {n:,}" for state, n in sorted(counts.items())), flush=True)
    return per_item


def _hidden_sets(reviewers) -> dict[int, set[int]]:
    """Each reviewer's hidden aliases, read independently of the queue's subquery (for the check)."""
    from roles.models import Sample, SampleState

    open_samples = Sample.objects.open().filter(alias__isnull=False).values_list(
        "alias_id", "state", "first_by_id", "second_by_id"
    )
    rows = list(open_samples)
    disputed = {alias for alias, state, _f, _s in rows if state == SampleState.DISPUTED}
    return {
        r.pk: disputed | {alias for alias, _state, first, second in rows if r.pk in (first, second)}
        for r in reviewers
    }


# ---------------------------------------------------------------------------------------------
# Plan of the exclusion subquery (PostgreSQL)


def _explain(heavy) -> None:
    """Print the plan summary of the heaviest reviewer's batch query (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return
    from django.db.models import Q
    from django.utils import timezone

    from roles.models import TitleAlias
    from roles.workflow.rules import four_eyes_q
    from roles.workflow.samples import hidden_from_q

    query = (
        _queue().filter(status=TitleAlias.OPEN).exclude(Q(lease__expires_at__gt=timezone.now()))
        .exclude(four_eyes_q(heavy)).exclude(hidden_from_q(heavy, TitleAlias)).values_list("pk", flat=True)[:25]
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS OFF) {sql}", params)
        plan = [row[0] for row in cursor.fetchall()]
    # The top node, how the exclusion is planned (a hashed SubPlan or an anti join), full scans, the total.
    keys = ("SubPlan", "Anti Join", "Seq Scan", "Execution Time")
    keep = plan[:1] + [line for line in plan[1:] if any(k in line for k in keys)]
    print("plan of the batch query (hidden_from_q of the heaviest reviewer), EXPLAIN ANALYZE:", flush=True)
    for line in keep[:10]:
        print(f"  {line.strip()}", flush=True)


# ---------------------------------------------------------------------------------------------


def _ratio(after: float, before: float) -> str:
    return f"{after / before:.2f}×" if before else "–"


def run() -> None:
    from roles.models import Sample, TitleAlias

    with fresh_database():
        start = time.perf_counter()
        summary = demo_data()
        print(f"demo data: {summary.roles:,} roles, {summary.aliases:,} aliases "
              f"({time.perf_counter() - start:.1f} s) on {connection.vendor}", flush=True)
        _analyze()
        reviewers, lead = _users()
        heavy = reviewers[0]

        print(f"-- before any sample ({TitleAlias.objects.pending().count():,} pending aliases)", flush=True)
        batch_before = _take_batches(reviewers, "before")
        pages_before = _pages(heavy, lead, "before")

        print(f"-- making samples (REVIEW_SAMPLE_SHARE=1.0, {DRAWN:,} drawn)", flush=True)
        with override_settings(REVIEW_SAMPLE_SHARE=1.0):
            per_item = _make_samples(reviewers, lead)

        hidden = _hidden_sets(reviewers)
        print(f"-- after ({TitleAlias.objects.pending().count():,} pending aliases; {heavy.username} is hidden "
              f"{len(hidden[heavy.pk]):,} of them, the others {min(len(hidden[r.pk]) for r in reviewers[1:]):,} "
              f"to {max(len(hidden[r.pk]) for r in reviewers[1:]):,})", flush=True)
        batch_stale = _take_batches(reviewers, "after, before ANALYZE", hidden)
        _analyze()
        batch_after = _take_batches(reviewers, "after", hidden)
        _explain(heavy)
        pages_after = _pages(heavy, lead, "after")
        measured = Sample.objects.measured().count()

        print(f"\nsummary ({connection.vendor}; {measured:,} measured samples, "
              f"{Sample.objects.open().count():,} open):", flush=True)
        rows = [
            ("take_batch p50 (ms)", batch_before["p50"], batch_after["p50"]),
            ("take_batch p95 (ms)", batch_before["p95"], batch_after["p95"]),
            ("take_batch p95 before ANALYZE (ms)", batch_before["p95"], batch_stale["p95"]),
            ("take_batch queries per call", batch_before["queries"], batch_after["queries"]),
        ]
        for name in pages_before:
            rows.append((f"{name} (ms)", pages_before[name]["ms"], pages_after[name]["ms"]))
            rows.append((f"{name} queries", pages_before[name]["queries"], pages_after[name]["queries"]))
        width = max(len(r[0]) for r in rows)
        print(f"  {'':{width}}  {'before':>8}  {'after':>8}  ratio", flush=True)
        for name, before, after in rows:
            print(f"  {name:{width}}  {before:8.1f}  {after:8.1f}  {_ratio(after, before)}", flush=True)
        for name, ms in per_item.items():
            print(f"  {name}: {ms:.1f} ms per item", flush=True)
        met = batch_after["p95"] < GOAL_P95_MS
        print(f"take_batch p95 with samples: {batch_after['p95']:.1f} ms "
              f"({'meets' if met else 'MISSES'} the {GOAL_P95_MS:.0f} ms goal"
              f"{'' if connection.vendor == 'postgresql' else ', which is set for PostgreSQL'})", flush=True)
