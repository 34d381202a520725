"""Reviewers, curators and imports racing on the same items: one outcome per item, nothing lost.

The racers are threads with their own connections, started together at a barrier. On
PostgreSQL `select_for_update()` serializes them row by row; on SQLite (a file, as `make run`
uses) IMMEDIATE transactions let one writer in at a time, so the loser sees who won instead
of "database is locked". After each race the review invariants are checked: every decided item
has its Decision, and no approved item's content changed while it was approved.
"""

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from review import services
from roles.models import Decision, TitleAlias
from tests.factories import RoleFactory, TitleAliasFactory
from tests.review.invariants import integrity_problems

pytestmark = [pytest.mark.django_db(transaction=True)]


def race(calls):
    """Run every call at once, each in a thread with its own connection; return outcomes in order."""
    outcomes = [None] * len(calls)

    def run(i, call, barrier):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[i] = exc
        finally:
            connection.close()

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



# -- races against content edits and imports --------------------------------------------------

ROUNDS = 6


def test_a_curator_save_racing_an_approval_ends_in_exactly_one_of_them(make_user):
    """The stale side loses cleanly: StaleEdit for the curator, or ItemChanged for the reviewer."""
    from framework.audit import StaleEdit
    from roles.services import save_alias

    curator, reviewer = make_user("curator"), make_user("reviewer")
    role = RoleFactory()
    tally = Counter()
    for _ in range(ROUNDS):
        alias = TitleAliasFactory(role=role, created_by=make_user("curator"))
        seen_by_curator = TitleAlias.objects.get(pk=alias.pk)
        seen_by_reviewer = TitleAlias.objects.get(pk=alias.pk)

        def edit(item=seen_by_curator):
            item.confidence = Decimal("0.91")
            return save_alias(alias=item, actor=curator, reason="more sure")

        def approve(item=seen_by_reviewer):
            return services.approve_alias(alias=item, actor=reviewer, expected_version=item.version)

        edited, approved = race([edit, approve])
        alias.refresh_from_db()
        if isinstance(approved, TitleAlias):
            assert isinstance(edited, StaleEdit), edited
            assert (alias.status, alias.confidence) == ("approved", Decimal("0.70"))
            tally["approval won"] += 1
        else:
            assert isinstance(approved, services.ItemChanged), approved
            assert isinstance(edited, TitleAlias)
            assert (alias.status, alias.confidence) == ("pending", Decimal("0.91"))
            tally["edit won"] += 1
        assert alias.history.count() == 2  # created, then the one change that won
    assert sum(tally.values()) == ROUNDS
    print(f"\nrace curator save × approval, {ROUNDS} rounds: {dict(tally)}")
    assert integrity_problems() == []


def test_a_card_import_racing_an_approval_never_leaves_unreviewed_content_approved(make_user, seed_role):
    from pathlib import Path

    from roles.cards.importer import CardSource, import_cards

    reviewer = make_user("reviewer")
    card = (Path(__file__).parents[2] / "fixtures" / "cards" / "AIMLAM.GEN.P1.txt").read_text("utf-8")
    outcomes = Counter()
    for round_no in range(ROUNDS):
        old, new = (f"0.{70 - round_no:02d}", f"0.{69 - round_no:02d}")
        line = card.split("| Deep Learning I | common | medium")[1][:4]
        card = card.replace(f"| Deep Learning I | common | medium{line}", f"| Deep Learning I | common | medium{new}")
        alias = TitleAlias.objects.get(role=seed_role, alias="Deep Learning I")
        if alias.status != "pending":
            services.reopen_alias(alias=alias, actor=reviewer, reason="next round")
            alias.refresh_from_db()
        shown = alias.version

        def importing(text=card):
            return import_cards([CardSource("race.txt", text.encode())], actor=make_user("curator"))

        def approving(pk=alias.pk, version=shown):
            return services.approve_alias(alias=TitleAlias.objects.get(pk=pk), actor=reviewer,
                                          expected_version=version)

        imported, approved = race([importing, approving])
        assert imported.ok, imported.error_lines()
        alias.refresh_from_db()
        assert str(alias.confidence) == new, (old, new)
        if isinstance(approved, TitleAlias):
            # The approval landed first; the import then changed the content and sent it back.
            assert alias.status == "pending"
            assert alias.decisions.order_by("-created_at", "-pk").first().decision == "returned"
            outcomes["approval first, import returned it"] += 1
        else:
            assert isinstance(approved, services.ItemChanged), approved
            assert alias.status == "pending"
            outcomes["import first, approval refused"] += 1
    assert sum(outcomes.values()) == ROUNDS
    print(f"\nrace card import × approval, {ROUNDS} rounds: {dict(outcomes)}")
    assert integrity_problems() == []


def test_a_threshold_confirm_racing_a_content_edit(make_user):
    """The confirm decides the versions it showed: an alias edited meanwhile is skipped, never approved."""
    from framework.audit import StaleEdit
    from roles.services import save_alias

    curator, reviewer = make_user("curator"), make_user("reviewer")
    role = RoleFactory()
    aliases = [TitleAliasFactory(role=role, confidence=Decimal("0.90"), created_by=curator) for _ in range(30)]
    shown = {a.pk: a.version for a in aliases}
    edited = aliases[::3]

    def confirm():
        return services.approve_aliases(aliases=list(shown), actor=reviewer, versions=shown)

    def edit():
        stale = 0
        for item in edited:
            while True:  # A stale form is refused; the curator reloads and saves again.
                fresh = TitleAlias.objects.get(pk=item.pk)
                fresh.confidence = Decimal("0.95")
                try:
                    save_alias(alias=fresh, actor=curator, reason="more sure")
                    break
                except StaleEdit:
                    stale += 1
        return stale

    result, stale = race([confirm, edit])
    assert isinstance(result, services.BulkResult), result
    assert isinstance(stale, int), stale
    assert result.decided_count + result.skipped_count == len(aliases)
    for item in edited:
        item.refresh_from_db()
        # Edited after the approval: back to pending with a "returned" decision; before: skipped.
        assert item.status == "pending" and item.confidence == Decimal("0.95")
    per_item = Counter(Decision.objects.filter(alias__in=aliases, decision="approve").values_list("alias", flat=True))
    assert set(per_item.values()) <= {1}
    print(f"\nrace threshold confirm × edits: {result.decided_count} approved, {result.skipped_count} skipped as "
          f"changed, {stale} stale saves refused and retried")
    assert integrity_problems() == []


def test_eight_reviewers_taking_batches_at_once_never_share_an_item(make_user, settings):
    """'Review next' from eight reviewers at the same instant: every item is held once, batches are full."""
    from roles import workflow
    from roles.models import Lease

    settings.REVIEW_BATCH_SIZE = 5
    curator = make_user("curator")
    role = RoleFactory()
    for i in range(60):
        TitleAliasFactory(role=role, alias=f"Raced {i:02}", confidence=Decimal("0.50"), created_by=curator)
    reviewers = [make_user("reviewer") for _ in range(8)]
    queue = TitleAlias.objects.order_by("confidence", "pk")
    outcomes = race([lambda r=r: workflow.take_batch(TitleAlias, queue, actor=r) for r in reviewers])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    taken = [pk for batch in outcomes for pk in batch]
    assert len(taken) == 40 and len(set(taken)) == 40, outcomes
    held = list(Lease.objects.values_list("alias_id", flat=True))
    assert len(held) == 40 and set(held) == set(taken)


def test_racing_second_reviews_of_a_sample_count_once(make_user, settings):
    """Six reviewers give the second, blind review of one drawn alias at once: one counts, the rest
    hear that it was decided or waits for a lead; never two second reviews, never a second sample."""
    from roles.models import Sample, SampleState
    from tests.review.invariants import sample_problems

    settings.REVIEW_SAMPLE_SHARE = 1.0
    alias = TitleAliasFactory(role=RoleFactory(), created_by=make_user("curator"))
    services.approve_alias(alias=alias, actor=make_user("reviewer"))
    reviewers = [make_user("reviewer") for _ in range(6)]
    calls = [
        (lambda r=r: services.approve_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=r))
        if i % 2 == 0
        else (lambda r=r: services.reject_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=r, reason="race"))
        for i, r in enumerate(reviewers)
    ]
    outcomes = race(calls)
    counted = [o for o in outcomes if isinstance(o, TitleAlias)]
    refused = [o for o in outcomes if isinstance(o, (services.AlreadyDecided, services.AwaitingLead))]
    assert len(counted) == 1 and len(refused) == 5, outcomes
    sample = Sample.objects.get(alias=alias)
    assert sample.second_by is not None and sample.second_by != sample.first_by
    assert sample.state == {"agreed": SampleState.AGREED, "disputed": SampleState.DISPUTED}[counted[0].review_outcome]
    assert Decision.objects.filter(sample=sample).exclude(verdict="").count() == 2
    assert sample_problems() == [] and integrity_problems() == []
