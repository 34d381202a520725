"""framework.paging: keyset pages walk a list exactly as OFFSET pages would, without OFFSET; counts stop at a cap."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from django.http import QueryDict
from django.urls import reverse

from framework.paging import InvalidCursor, KeysetPaginator, capped_count
from roles.models import TitleAlias
from tests.factories import RoleFactory, TitleAliasFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def aliases(make_user):
    curator = make_user("curator")
    role = RoleFactory()
    # Ties on confidence on purpose: the pk breaks them.
    return [
        TitleAliasFactory(role=role, alias=f"Alias {i:02}", confidence=Decimal(f"0.{i % 4}0"), created_by=curator)
        for i in range(23)
    ]


def walk(paginator: KeysetPaginator) -> tuple[list[list[int]], list]:
    pages, params, seen = [], QueryDict(), []
    while True:
        page = paginator.page(params)
        pages.append([a.pk for a in page.object_list])
        seen.append(page)
        if not page.has_next:
            return pages, seen
        params = QueryDict(page.next_query)


@pytest.mark.parametrize("ordering", [("confidence", "pk"), ("-confidence", "-pk"), ("role__code", "confidence", "pk")])
def test_pages_cover_the_list_in_order_without_gaps_or_repeats(aliases, ordering):
    qs = TitleAlias.objects.all()
    expected = list(qs.order_by(*ordering).values_list("pk", flat=True))
    pages, seen = walk(KeysetPaginator(qs, ordering, per_page=5))
    assert [pk for page in pages for pk in page] == expected
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [p.number for p in seen] == [1, 2, 3, 4, 5]
    assert not seen[0].has_previous and seen[-1].has_previous


def test_previous_goes_back_to_the_same_rows(aliases):
    paginator = KeysetPaginator(TitleAlias.objects.all(), ("confidence", "pk"), per_page=5)
    first = paginator.page(QueryDict())
    second = paginator.page(QueryDict(first.next_query))
    third = paginator.page(QueryDict(second.next_query))
    back = paginator.page(QueryDict(third.previous_query))
    assert [a.pk for a in back.object_list] == [a.pk for a in second.object_list]
    assert back.number == 2
    again = paginator.page(QueryDict(back.previous_query))
    assert [a.pk for a in again.object_list] == [a.pk for a in first.object_list]
    assert again.number == 1 and not again.has_previous


@pytest.mark.parametrize("cursor", [
    "not base64!", base64.urlsafe_b64encode(b"[1]").decode(), base64.urlsafe_b64encode(b'["x", 1]').decode(),
    base64.urlsafe_b64encode(b'{"a": 1}').decode(), base64.urlsafe_b64encode(b"[null, 1]").decode(),
])
def test_a_cursor_the_list_did_not_make_is_refused(aliases, cursor):
    paginator = KeysetPaginator(TitleAlias.objects.all(), ("confidence", "pk"), per_page=5)
    with pytest.raises(InvalidCursor):
        paginator.page(QueryDict(f"after={cursor}"))


def test_counts_stop_at_the_cap(aliases):
    assert capped_count(TitleAlias.objects.all(), cap=10) == (10, True)
    assert capped_count(TitleAlias.objects.all(), cap=100) == (23, False)


def test_the_queue_walks_by_cursor_and_says_more_than_past_the_cap(aliases, make_user, settings):
    settings.REVIEW_PAGE_SIZE = 10
    settings.ROLEBOOK_COUNT_CAP = 15
    client = make_user("reviewer")
    from django.test import Client

    browser = Client()
    browser.force_login(client)
    url = reverse("review:aliases")
    first = browser.get(url, {"alias_type": "common"})  # a filter: the count is capped
    assert "more than 15 aliases" in first.content.decode()
    second = browser.get(f"{url}?{first.context['page'].next_query}")
    assert second.context["page"].number == 2
    shown = [r["item"].pk for r in first.context["rows"] + second.context["rows"]]
    assert shown == list(TitleAlias.objects.order_by("confidence", "pk").values_list("pk", flat=True))[:20]
    # Only the status: the exact number, from the role digests.
    assert "23 aliases" in browser.get(url).content.decode()


def test_a_crafted_cursor_in_the_queue_restarts_at_the_first_page(aliases, make_user):
    from django.test import Client

    browser = Client()
    browser.force_login(make_user("reviewer"))
    response = browser.get(reverse("review:aliases"), {"after": "garbage", "p": "7", "family": "X"}, follow=True)
    assert response.redirect_chain[0][1] == 302
    assert "after=" not in response.redirect_chain[0][0] and "family=X" in response.redirect_chain[0][0]
    assert "(after/before) is not a position in this list: back to the first page" in response.content.decode()


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors whose base64 and JSON are well formed but whose values are not a position any list wrote.
DECODED_BAD = {
    "nul in a text key": b'["\\u0000", "0.10", 1]',
    "nul inside a text key": b'["AIMLAM\\u0000.GEN.P1", "0.10", 1]',
    "a huge text key": b'["' + b"x" * 300 + b'", "0.10", 1]',
    "an infinite id": b'["A", "0.10", 1e400]',
    "an id past 64 bits": b'["A", "0.10", 100000000000000000000000000000]',
    "a boolean id": b'["A", "0.10", true]',
    "a fractional id": b'["A", "0.10", 1.5]',
    "a NaN confidence": b'["A", "NaN", 1]',
    "an infinite confidence": b'["A", "Infinity", 1]',
    "a text id": b'["A", "0.10", "1"]',
}


@pytest.mark.parametrize("raw", DECODED_BAD.values(), ids=DECODED_BAD.keys())
def test_a_decoded_cursor_with_a_nul_a_wrong_type_or_an_odd_size_is_refused(aliases, raw):
    paginator = KeysetPaginator(TitleAlias.objects.all(), ("role__code", "confidence", "pk"), per_page=5)
    for name in ("after", "before"):
        with pytest.raises(InvalidCursor):
            paginator.page(QueryDict(f"{name}={_cursor(raw)}"))


@pytest.mark.parametrize("raw", [
    b'["2026-01-01T00:00:00", 1]',  # no offset: cursors carry one
    b'["0001-01-01T00:00:00+05:00", 1]',  # before year 1 in UTC
    b'["2026-01-01T00:00:00\\u0000+00:00", 1]',
])
def test_a_decoded_time_cursor_that_is_no_instant_is_refused(make_user, raw):
    from roles.models import Decision

    paginator = KeysetPaginator(Decision.objects.all(), ("-created_at", "-pk"), per_page=5)
    with pytest.raises(InvalidCursor):
        paginator.page(QueryDict(f"after={_cursor(raw)}"))


def test_an_overlong_cursor_is_refused_before_decoding(aliases):
    paginator = KeysetPaginator(TitleAlias.objects.all(), ("confidence", "pk"), per_page=5)
    with pytest.raises(InvalidCursor):
        paginator.page(QueryDict(f"after={_cursor(b'[0.1, 1]' + b' ' * 5000)}"))


def test_the_cursors_the_list_writes_still_read_back(aliases, make_user):
    """The checks refuse no cursor a page wrote: text, decimal, time and id keys round-trip."""
    from review.services import approve_alias
    from roles.models import Decision

    reviewer = make_user("reviewer")
    for alias in aliases[:12]:
        approve_alias(alias=alias, actor=reviewer)
    pages, _ = walk(KeysetPaginator(TitleAlias.objects.all(), ("role__code", "-confidence", "pk"), per_page=5))
    assert sum(len(p) for p in pages) == 23
    pages, _ = walk(KeysetPaginator(Decision.objects.all(), ("-created_at", "-pk"), per_page=5))
    assert sum(len(p) for p in pages) == Decision.objects.count() >= 12


@pytest.mark.parametrize("sort", ["role", "confidence"])
def test_a_crafted_cursor_holding_a_nul_restarts_the_queue_and_never_fails(aliases, make_user, sort):
    from django.test import Client

    browser = Client()
    browser.force_login(make_user("reviewer"))
    cursor = _cursor(b'["\\u0000", "0.10", 1]' if sort == "role" else b'["0.10\\u0000", 1]')
    for name in ("after", "before"):
        response = browser.get(reverse("review:aliases"), {name: cursor, "sort": sort})
        assert response.status_code == 302, (name, response.status_code)
        assert f"{name}=" not in response["Location"]
