"""Leases ("Review next"): batches nobody else holds, refusals that name the holder, leads who take over."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from roles import workflow
from roles.models import DecisionKind, Lease, TitleAlias
from tests.factories import RoleFactory, TitleAliasFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def aliases(make_user):
    curator = make_user("curator")
    role = RoleFactory()
    return [
        TitleAliasFactory(role=role, alias=f"Alias {i:02}", confidence=Decimal(f"0.{10 + i}"), created_by=curator)
        for i in range(12)
    ]


def queue():
    return TitleAlias.objects.order_by("confidence", "pk")


def test_two_reviewers_get_disjoint_batches_in_the_queues_order(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 5
    rita, rex = make_user("reviewer"), make_user("reviewer")
    first = workflow.take_batch(TitleAlias, queue(), actor=rita)
    second = workflow.take_batch(TitleAlias, queue(), actor=rex)
    assert first == [a.pk for a in aliases[:5]] and second == [a.pk for a in aliases[5:10]]
    assert set(Lease.objects.filter(holder=rita).values_list("alias_id", flat=True)) == set(first)


def test_a_batch_honours_the_queues_filter_and_sort(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 3
    rita = make_user("reviewer")
    wanted = TitleAlias.objects.filter(confidence__gte=Decimal("0.15")).order_by("-confidence", "-pk")
    assert workflow.take_batch(TitleAlias, wanted, actor=rita) == [a.pk for a in reversed(aliases[-3:])]


def test_a_batch_leaves_out_what_four_eyes_forbids_and_what_is_decided(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 50
    rita, rex = make_user("reviewer"), make_user("reviewer")
    own = TitleAliasFactory(role=aliases[0].role, alias="Rita's own", confidence=Decimal("0.01"), created_by=rita)
    workflow.decide(aliases[0], kind=DecisionKind.APPROVE, actor=rex)
    taken = workflow.take_batch(TitleAlias, queue(), actor=rita)
    assert own.pk not in taken and aliases[0].pk not in taken and len(taken) == 11


def test_taking_the_next_batch_gives_back_the_last(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 4
    rita, rex = make_user("reviewer"), make_user("reviewer")
    first = workflow.take_batch(TitleAlias, queue(), actor=rita)
    second = workflow.take_batch(TitleAlias, queue().exclude(pk__in=first), actor=rita)
    assert set(first).isdisjoint(second)
    assert workflow.take_batch(TitleAlias, queue(), actor=rex) == first  # given back, and first in the queue


def test_an_expired_lease_is_free_for_the_next_taker(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 2
    rita, rex = make_user("reviewer"), make_user("reviewer")
    taken = workflow.take_batch(TitleAlias, queue(), actor=rita, minutes=15)
    Lease.objects.filter(holder=rita).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert workflow.take_batch(TitleAlias, queue(), actor=rex) == taken
    assert Lease.objects.filter(alias_id__in=taken).count() == 2  # the expired rows gave way


def test_a_decision_on_an_item_another_reviewer_holds_names_them_and_the_time_left(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 1
    rita, rex = make_user("reviewer", username="rita"), make_user("reviewer")
    (pk,) = workflow.take_batch(TitleAlias, queue(), actor=rita, minutes=15)
    alias = TitleAlias.objects.get(pk=pk)
    with pytest.raises(workflow.HeldByAnother, match=r"held by rita for 15 more minutes \(until \d\d:\d\d\)"):
        workflow.decide(alias, kind=DecisionKind.APPROVE, actor=rex)
    alias.refresh_from_db()
    assert alias.status == TitleAlias.Status.PENDING and not alias.decisions.exists()
    # The holder decides it; the lease ends with the decision.
    workflow.decide(alias, kind=DecisionKind.APPROVE, actor=rita)
    assert not Lease.objects.filter(alias=alias).exists()


def test_a_lead_takes_an_item_over_by_deciding_it(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 1
    rita, lead = make_user("reviewer"), make_user("lead")
    (pk,) = workflow.take_batch(TitleAlias, queue(), actor=rita)
    decided = workflow.decide(TitleAlias.objects.get(pk=pk), kind=DecisionKind.REJECT, actor=lead, reason="dupe")
    assert decided.status == TitleAlias.Status.REJECTED and decided.decided_by == lead
    assert not Lease.objects.exists()


def test_bulk_decisions_skip_what_another_reviewer_holds(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 3
    rita, rex = make_user("reviewer", username="rita"), make_user("reviewer")
    held = workflow.take_batch(TitleAlias, queue(), actor=rita)
    result = workflow.decide_many(TitleAlias, [a.pk for a in aliases[:6]], kind=DecisionKind.APPROVE, actor=rex)
    assert sorted(a.pk for a in result.decided) == [a.pk for a in aliases[3:6]]
    assert {s.item.pk for s in result.skipped} == set(held)
    assert all(s.reason.startswith("held by rita for") for s in result.skipped)
    # The holder's own bulk decision ends their leases.
    workflow.decide_many(TitleAlias, held, kind=DecisionKind.APPROVE, actor=rita)
    assert not Lease.objects.exists()


def test_only_reviewers_take_batches(make_user, aliases):
    with pytest.raises(workflow.ReviewPermissionDenied):
        workflow.take_batch(TitleAlias, queue(), actor=make_user("curator"))
    assert not Lease.objects.exists()


def test_the_database_refuses_a_second_lease_on_one_item(make_user, aliases):
    rita, rex = make_user("reviewer"), make_user("reviewer")
    until = timezone.now() + timedelta(minutes=5)
    Lease.objects.create(alias=aliases[0], holder=rita, expires_at=until)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lease.objects.create(alias=aliases[0], holder=rex, expires_at=until)


def test_giving_a_batch_back_frees_it(make_user, aliases, settings):
    settings.REVIEW_BATCH_SIZE = 4
    rita = make_user("reviewer")
    workflow.take_batch(TitleAlias, queue(), actor=rita)
    assert workflow.release(TitleAlias, actor=rita) == 4 and not Lease.objects.exists()


def test_a_taker_that_chose_rows_another_just_leased_keeps_the_others_lease(make_user, aliases):
    """On PostgreSQL a taker whose SELECT ran before another's commit can choose rows the other now
    holds (READ COMMITTED does not re-check the new lease rows): the insert then skips them, and
    the live lease is never deleted to make way. The race itself: test_concurrency.py."""
    from datetime import timedelta as td

    from roles.workflow.leases import _lease

    rita, rex = make_user("reviewer"), make_user("reviewer")
    now = timezone.now()
    theirs = Lease.objects.create(alias=aliases[0], holder=rex, expires_at=now + td(minutes=15))
    won = _lease(TitleAlias, [aliases[0].pk, aliases[1].pk], actor=rita, now=now, until=now + td(minutes=15))
    assert won == [aliases[1].pk]
    assert Lease.objects.get(alias=aliases[0]).pk == theirs.pk and theirs.holder == rex
    expired = Lease.objects.create(alias=aliases[2], holder=rex, expires_at=now - td(seconds=1))
    assert _lease(TitleAlias, [aliases[2].pk], actor=rita, now=now, until=now + td(minutes=15)) == [aliases[2].pk]
    assert not Lease.objects.filter(pk=expired.pk).exists()
