"""The mapping queue's "Coder confidence" sort: unsure first, then the least confident, roles without an answer last."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from django.urls import reverse

from review import services
from review.filters import MappingFilter
from review.selectors import mapping_queue
from roles.models import ClassificationMapping, Lease, RoleSuggestions
from taxonomy.coder import coder_version
from tests.factories import ClassificationMappingFactory, RoleFactory
from tests.review.conftest import logged_in, soc

pytestmark = pytest.mark.django_db

SORT_LABEL = "Coder confidence (unsure first)"


def answer(mapping: ClassificationMapping, *codes: tuple[str, float], unsure: bool = False,
           confident: bool = False, version: str | None = None) -> ClassificationMapping:
    """Store the coder's answer for the mapping's role as the cache holds it, best code first.

    The content hash matches nothing: the queue shows such a row as it is (a role whose text
    changed since), so a visit never recomputes it and the order stays put.
    """
    stored = [
        {"code": code, "title": code, "score": score, "evidence": [], "chain": [],
         "confident": confident and i == 0, "unsure": unsure and i == 0}
        for i, (code, score) in enumerate(codes)
    ]
    RoleSuggestions.objects.update_or_create(role=mapping.role, defaults={
        "coder_version": version or coder_version(), "content_hash": "changed since", "suggestions": stored,
        "top_codes": f",{','.join(sorted(c for c, _ in codes))}," if codes else "", "top3_lineage": "",
        "confident_code": codes[0][0] if confident and codes else "", "unsure": unsure and bool(codes),
    })
    return mapping


def mapping(code: str, creator) -> ClassificationMapping:
    return ClassificationMappingFactory(role=RoleFactory(), occupation=soc(code), created_by=creator)


@pytest.fixture
def ranked(curator, reference_soc):
    """Mappings in the order the sort must give, each under its own role, with the coder's answer stored."""
    return {
        "unsure_low": answer(mapping("15-2051", curator), ("15-2041", 0.12), ("15-2051", 0.11), unsure=True),
        "unsure_high": answer(mapping("15-1252", curator), ("15-1211", 0.31), ("15-2051", 0.30), unsure=True),
        "low": answer(mapping("15-1211", curator), ("15-1211", 0.40), ("15-1252", 0.10)),
        "tie_first": answer(mapping("15-1221", curator), ("15-2041", 0.55)),
        "tie_second": answer(mapping("15-1241", curator), ("15-1241", 0.55)),
        "confident": answer(mapping("15-2031", curator), ("15-2031", 0.97), confident=True),
        # A current row with no code in it: nothing to order on, so with the roles without an answer.
        "no_code": answer(mapping("15-2011", curator)),
    }


def keyed(filterset: MappingFilter) -> list[int]:
    return list(filterset.qs.values_list("pk", flat=True))


def sorted_queue(**params) -> list[int]:
    filterset = MappingFilter({"status": "", "sort": "coder", **params}, queryset=mapping_queue())
    assert filterset.is_valid(), filterset.errors
    return keyed(filterset)


def walk(client, params: dict) -> tuple[list[list[int]], list[list[int]]]:
    """Every page forward by `after`, then back from the last by `before`: each page's pks."""
    url = reverse("review:mappings")
    page = client.get(url, params).context["page"]
    forward = [[m.pk for m in page]]
    while page.has_next:
        page = client.get(url, dict(parse_qsl(page.next_query))).context["page"]
        forward.append([m.pk for m in page])
    backward = [[m.pk for m in page]]
    while page.has_previous:
        page = client.get(url, dict(parse_qsl(page.previous_query))).context["page"]
        backward.append([m.pk for m in page])
    return forward, backward[::-1]


def test_the_sort_is_offered_with_its_label(reviewer):
    form = logged_in(reviewer).get(reverse("review:mappings")).context["filterset"].form
    assert ("coder", SORT_LABEL) in form.fields["sort"].choices


def test_unsure_first_then_the_lowest_top_score_then_roles_without_an_answer(ranked, curator):
    old_coder = answer(mapping("13-2011", curator), ("13-2011", 0.05), unsure=True, version="an older coder")
    never = mapping("13-1111", curator)  # its role was never shown to the coder
    r = ranked
    expected = [r["unsure_low"].pk, r["unsure_high"].pk, r["low"].pk, r["tie_first"].pk, r["tie_second"].pk,
                r["confident"].pk]
    # No answer of the current coder, whatever the reason: last, in pk order.
    expected += sorted([r["no_code"].pk, old_coder.pk, never.pk])
    assert sorted_queue() == expected


def test_the_queue_shows_the_rows_in_that_order(ranked, reviewer):
    rows = logged_in(reviewer).get(reverse("review:mappings"), {"sort": "coder"}).context["rows"]
    assert [row["item"].pk for row in rows] == sorted_queue(status="needs_review")
    assert [row["coder"].unsure for row in rows][:3] == [True, True, False]


def test_pages_neither_skip_nor_repeat_a_row_forward_or_back(ranked, curator, reviewer, settings):
    settings.REVIEW_MAPPING_PAGE_SIZE = 2
    # Another tie on the score and more rows without an answer, so page breaks fall inside both.
    answer(mapping("15-1212", curator), ("15-1212", 0.55))
    answer(mapping("15-2021", curator))
    answer(mapping("15-1243", curator))
    expected = sorted_queue(status="needs_review")
    forward, backward = walk(logged_in(reviewer), {"sort": "coder"})
    assert [len(page) for page in forward] == [2, 2, 2, 2, 2]
    assert [pk for page in forward for pk in page] == expected
    assert backward == forward


def test_the_sort_keeps_the_status_filter(ranked, reviewer, settings):
    settings.REVIEW_MAPPING_PAGE_SIZE = 2
    services.approve_mapping(mapping=ranked["low"], actor=reviewer)
    services.approve_mapping(mapping=ranked["confident"], actor=reviewer)
    client = logged_in(reviewer)
    approved, _ = walk(client, {"sort": "coder", "status": "approved"})
    assert approved == [[ranked["low"].pk, ranked["confident"].pk]]
    waiting, back = walk(client, {"sort": "coder"})
    assert [pk for page in waiting for pk in page] == [
        ranked[k].pk for k in ("unsure_low", "unsure_high", "tie_first", "tie_second", "no_code")
    ]
    assert back == waiting


@pytest.mark.parametrize(("flag", "expected"), [
    ("coder_unsure", ["unsure_low", "unsure_high"]),
    ("coder_confident", ["confident"]),
    # Detailed codes outside the coder's: a row with no code is never said to disagree.
    ("coder_disagrees", ["unsure_high", "tie_first"]),
])
def test_the_sort_orders_what_a_coder_flag_keeps(ranked, reviewer, flag, expected):
    rows = logged_in(reviewer).get(reverse("review:mappings"), {"sort": "coder", "flag": flag}).context["rows"]
    assert [row["item"].pk for row in rows] == [ranked[k].pk for k in expected]
    assert sorted_queue(flag=flag) == [ranked[k].pk for k in expected]


def test_an_unknown_sort_is_a_form_error_as_for_the_other_sorts(ranked, reviewer):
    response = logged_in(reviewer).get(reverse("review:mappings"), {"sort": "confidence"})
    assert response.status_code == 200
    assert "sort" in response.context["filterset"].errors
    assert response.context["page"] is None and response.context["rows"] == []
    assert "Select a valid choice" in response.content.decode()


def test_a_cursor_of_another_sort_restarts_at_the_first_page(ranked, reviewer, settings):
    settings.REVIEW_MAPPING_PAGE_SIZE = 2
    client = logged_in(reviewer)
    by_code = client.get(reverse("review:mappings"), {"sort": "code"}).context["page"]
    after = dict(parse_qsl(by_code.next_query))["after"]
    response = client.get(reverse("review:mappings"), {"sort": "coder", "after": after})
    assert response.status_code == 302 and "after=" not in response["Location"]


def test_review_next_takes_the_batch_in_this_order(ranked, reviewer, settings):
    settings.REVIEW_BATCH_SIZE = 3
    response = logged_in(reviewer).post(reverse("review:mapping-next"), {"sort": "coder"})
    assert response.status_code == 302 and "sort=coder" in response["Location"]
    held = set(Lease.objects.filter(holder=reviewer).values_list("mapping_id", flat=True))
    assert held == {ranked[k].pk for k in ("unsure_low", "unsure_high", "low")}


@pytest.mark.parametrize("n", [5, 10])
def test_the_sorted_queue_queries_are_constant(make_user, curator, reference_soc, n, django_assert_num_queries):
    codes = ["15-2051", "15-2041", "15-1252", "15-1211", "15-0000", "15-1200", "15-2000", "15-1221",
             "15-1241", "15-2031"]
    for i, code in enumerate(codes[:n]):
        made = mapping(code, curator)
        if i % 2:  # half the roles with an answer (one of them unsure), half computed in the request
            answer(made, (code[:7], 0.2 * (i % 5)), unsure=i == 1)
    client = logged_in(make_user("reviewer"))
    # 1 session, 2 user, 3 SAVEPOINT, 4 user permissions, 5 group permissions, 6 the keyset
    # page with role, node, level, occupation and its parent, the lease, ordered on the role's
    # cached suggestions (a join, no query of its own), 7 the exact count from the role digests,
    # 8-11 the nearest roles (levels, the roles' places in the tree, the roles of their families,
    # then of every role), 12 the neighbour roles, 13 their mappings, 14-15 the roles' aliases
    # and components (what the SOC coder reads), 16 their cached suggestions, then for the roles
    # without a row 17 the suggested codes' groups and 18 one upsert; 19-20 the header's
    # notifications; 21 whether another reviewer holds mappings, 22 the assignments past due;
    # last, RELEASE SAVEPOINT. The stale rows' recomputation is queued after the commit: no query here.
    with django_assert_num_queries(23):
        response = client.get(reverse("review:mappings"), {"sort": "coder"})
    assert len(response.context["rows"]) == n
    with django_assert_num_queries(21):  # every role has a row now: no groups, no upsert
        response = client.get(reverse("review:mappings"), {"sort": "coder"})
    assert [row["item"].pk for row in response.context["rows"]] == sorted_queue(status="needs_review")
