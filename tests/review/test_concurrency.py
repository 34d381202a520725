"""Reviewers racing on the same items: exactly one decision per item, no history row lost.

On PostgreSQL the racers are threads with their own connections, started together at a
barrier, so `select_for_update()` really serializes them. SQLite has no row locks and one
writer at a time: there the same scenarios run one after another (reduced, never skipped).
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from review import services
from roles.models import Decision, TitleAlias
from tests.factories import RoleFactory, TitleAliasFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

CONCURRENT = connection.vendor == "postgresql"


def race(calls):
    """Run every call at once (threads on PostgreSQL, in turn on SQLite); return outcomes in order."""
    outcomes = [None] * len(calls)

    def run(i, call, barrier):
        try:
            if barrier is not None:
                barrier.wait(timeout=30)
            outcomes[i] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[i] = exc
        finally:
            if barrier is not None:
                connection.close()

    if not CONCURRENT:
        for i, call in enumerate(calls):
            run(i, call, None)
        return outcomes
    barrier = threading.Barrier(len(calls))
    threads = [threading.Thread(target=run, args=(i, call, barrier)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer hung (deadlock?)"
    return outcomes


def test_racing_single_decisions_record_exactly_one(make_user):
    reviewers = [make_user("reviewer") for _ in range(6)]
    alias = TitleAliasFactory(role=RoleFactory())
    calls = [
        (lambda r=r: services.approve_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=r))
        if i % 2 == 0
        else (lambda r=r: services.reject_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=r, reason="race"))
        for i, r in enumerate(reviewers)
    ]
    outcomes = race(calls)
    winners = [o for o in outcomes if isinstance(o, TitleAlias)]
    losers = [o for o in outcomes if isinstance(o, services.AlreadyDecided)]
    assert len(winners) == 1 and len(losers) == 5, outcomes
    winner = Decision.objects.get(alias=alias)
    for error in losers:
        assert f"by {winner.actor.username}" in str(error)
    alias.refresh_from_db()
    assert alias.status == winner.to_status
    # The creation row and the one decision: nothing lost, nothing doubled.
    assert alias.history.count() == 2
    assert alias.history.first().history_user == winner.actor


def test_racing_bulk_approvals_decide_each_item_once(make_user):
    reviewers = [make_user("reviewer") for _ in range(4)]
    role = RoleFactory()
    aliases = [TitleAliasFactory(role=role) for _ in range(60)]
    ids = [a.pk for a in aliases]
    calls = [
        (lambda r=r: services.approve_aliases(aliases=TitleAlias.objects.filter(pk__in=ids), actor=r))
        for r in reviewers[:3]
    ] + [lambda: services.reject_aliases(aliases=TitleAlias.objects.filter(pk__in=ids), actor=reviewers[3],
                                         reason="race")]
    outcomes = race(calls)
    assert all(isinstance(o, services.BulkResult) for o in outcomes), outcomes
    assert sum(o.decided_count for o in outcomes) == 60
    assert all(o.decided_count + o.skipped_count == 60 for o in outcomes)
    per_item = Counter(Decision.objects.filter(alias_id__in=ids).values_list("alias_id", flat=True))
    assert set(per_item) == set(ids) and set(per_item.values()) == {1}
    for alias in TitleAlias.objects.filter(pk__in=ids):
        assert alias.history.count() == 2
        assert alias.history.first().status == alias.status


def test_racing_single_and_bulk_on_overlapping_items(make_user):
    a, b = make_user("reviewer"), make_user("reviewer")
    role = RoleFactory()
    aliases = [TitleAliasFactory(role=role) for _ in range(20)]
    ids = [x.pk for x in aliases]
    calls = [lambda: services.approve_aliases(aliases=TitleAlias.objects.filter(pk__in=ids), actor=a)]
    calls += [
        (lambda pk=pk: services.reject_alias(alias=TitleAlias.objects.get(pk=pk), actor=b, reason="race"))
        for pk in ids[::4]
    ]
    race(calls)
    assert Decision.objects.filter(alias_id__in=ids).count() == 20
    assert TitleAlias.objects.filter(pk__in=ids, status="pending").count() == 0
    assert sum(x.history.count() for x in TitleAlias.objects.filter(pk__in=ids)) == 40
