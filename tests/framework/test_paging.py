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
