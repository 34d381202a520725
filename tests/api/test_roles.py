"""/api/v1/roles and /api/v1/occupation-codes: what they hold, their filters, pages and query counts."""

from __future__ import annotations

import pytest

from review import services
from roles.models import ClassificationMapping, TitleAlias
from taxonomy.models import OccupationCode
from tests.api.conftest import populate
from tests.factories import RoleFactory, SpecializationFactory, TitleAliasFactory

pytestmark = pytest.mark.django_db


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


# ---------------------------------------------------------------------------------------------
# Content


def test_a_role_holds_only_its_approved_aliases_and_mappings(client, published, reader):
    role = published["roles"][0]
    data = client.get(f"/api/v1/roles/{role.code}", **reader).json()
    assert {a["alias"] for a in data["aliases"]} == {f"{role.code} approved", f"{role.code} hidden"}
    assert {m["code"] for m in data["mappings"]} == {"15-2000", "15-2051", "15-2051.01"}
    text = str(data)
    assert "pending" not in text and "rejected" not in text and "13-1111" not in text and "11-1011" not in text
    # Nobody's name, id or e-mail.
    assert published["actor"].username not in text and "@" not in text and "decided_by" not in text


def test_mappings_carry_the_official_title_the_match_and_the_soc_parent_chain(client, published, reader):
    role = published["roles"][0]
    mappings = {m["code"]: m for m in client.get(f"/api/v1/roles/{role.code}", **reader).json()["mappings"]}
    onet = mappings["15-2051.01"]
    assert onet["scheme"] == "onet2019" and onet["match"] == "exact"
    assert onet["official_title"] == OccupationCode.objects.get(code="15-2051.01").title
    assert [p["code"] for p in onet["parents"]] == ["15-2051", "15-2050", "15-2000", "15-0000"]
    assert [p["level"] for p in onet["parents"]] == ["detailed", "broad", "minor", "major"]
    group = mappings["15-2000"]
    assert group["match"] == "broad" and [p["code"] for p in group["parents"]] == ["15-0000"]
    assert group["reviewed_at"].endswith("Z")


def test_the_detail_holds_the_story_the_level_and_the_components_in_card_order(client, seed_role, reader):
    data = client.get(f"/api/v1/roles/{seed_role.code}", **reader).json()
    assert data["title"] == seed_role.title
    assert data["level"]["code"] == "P1" and data["level"]["autonomy"] == seed_role.level.autonomy
    assert data["taxonomy"]["specialization"]["code"] == seed_role.node.code
    assert data["plan"] == seed_role.plan
    kinds = [c["kind"] for c in data["components"]]
    order = ["responsibility", "task", "skill", "knowledge", "competency", "qualification"]
    assert kinds == sorted(kinds, key=order.index)
    assert len(kinds) == seed_role.components.count()


def test_an_unknown_role_is_a_404_problem(client, published, reader):
    response = client.get("/api/v1/roles/NO.SUCH.P1", **reader)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "No role has the code 'NO.SUCH.P1'."


def test_the_card_is_the_published_card_with_approved_items_only(client, published, reader):
    role = published["roles"][0]
    response = client.get(f"/api/v1/roles/{role.code}/card", **reader)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    assert text.startswith(f"{role.title}\n{role.code}\n")
    assert f"| {role.code} approved | common |" in text and f"| {role.code} hidden | hidden |" in text
    assert "pending" not in text and "rejected" not in text
    assert "code=15-2051title=" in text and "13-1111" not in text and "11-1011" not in text
    assert "reviewStatus=needs_review" not in text


def test_the_card_of_an_unknown_role_is_a_problem_not_text(client, published, reader):
    response = client.get("/api/v1/roles/NO.SUCH.P1/card", **reader)
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"


# ---------------------------------------------------------------------------------------------
# Filters


def test_filters_by_family_specialization_and_level(client, published, reader):
    role = published["roles"][1]
    family = role.node.parent.code
    assert [r["code"] for r in results(client.get(f"/api/v1/roles?family={family.lower()}", **reader))] == [role.code]
    assert [r["code"] for r in results(client.get(f"/api/v1/roles?specialization={role.node.code}", **reader))] == [
        role.code
    ]
    bare = role.node.code.split(".")[1]
    assert role.code in [r["code"] for r in results(client.get(f"/api/v1/roles?specialization={bare}", **reader))]
    assert len(results(client.get("/api/v1/roles?level=p1", **reader))) == 2
    assert results(client.get("/api/v1/roles?level=M9", **reader)) == []


def test_the_soc_filter_finds_roles_by_approved_mappings_under_a_code(client, published, reader):
    first, second = (r.code for r in published["roles"])
    codes = lambda q: [r["code"] for r in results(client.get(f"/api/v1/roles?soc={q}", **reader))]  # noqa: E731
    assert codes("15-2051.01") == [first]
    assert codes("15-2051") == [first, second]
    assert codes("15-0000") == [first, second]  # a group finds everything under it
    assert codes("13-1111") == []  # pending mappings do not count
    assert codes("11-1011") == []  # nor rejected ones


def test_the_alias_filter_searches_approved_aliases_only(client, published, reader):
    first = published["roles"][0].code
    codes = lambda q: [r["code"] for r in results(client.get(f"/api/v1/roles?alias={q}", **reader))]  # noqa: E731
    assert codes(f"{first} APPROVED") == [first]
    assert codes(f"{first} hidden") == [first]
    assert codes(f"{first} pending") == []
    assert codes(f"{first} rejected") == []


@pytest.mark.parametrize(
    "query, field",
    [("soc=15-20", "soc"), ("family=A%20B", "family"), ("level=P%2A", "level"), ("alias=" + "x" * 201, "alias")],
)
def test_an_invalid_filter_is_a_400_problem_naming_it(client, published, reader, query, field):
    response = client.get(f"/api/v1/roles?{query}", **reader)
    assert response.status_code == 400
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert body["code"] == "invalid" and field in body["errors"]


# ---------------------------------------------------------------------------------------------
# Pages


def test_cursor_pages_walk_every_role_once_in_code_point_order(client, reference_soc, reader):
    populate(5)
    # Codes that sort differently by locale than by code point.
    for code in ("ZZ", "Z1", "ZA"):
        RoleFactory(node=SpecializationFactory(code=f"{code}.GEN", parent__code=code))
    seen, url = [], "/api/v1/roles?page_size=3"
    while url:
        body = client.get(url, **reader).json()
        assert len(body["results"]) <= 3
        seen += [r["code"] for r in body["results"]]
        url = body["next"]
    assert seen == sorted(seen)  # Python sorts by code point
    assert len(seen) == len(set(seen)) == 8


def test_a_cursor_keeps_its_place_while_roles_are_added(client, reference_soc, reader):
    populate(4)
    first = client.get("/api/v1/roles?page_size=2", **reader).json()
    RoleFactory(node=SpecializationFactory(code="AAA.GEN", parent__code="AAA"))  # sorts before every page
    second = client.get(first["next"], **reader).json()
    assert [r["code"] for r in second["results"]][0] > first["results"][-1]["code"]
    back = client.get(second["previous"], **reader).json()
    assert [r["code"] for r in back["results"]] == [r["code"] for r in first["results"]]


def test_a_forged_cursor_is_a_400_problem(client, published, reader):
    response = client.get("/api/v1/roles?cursor=not-a-cursor", **reader)
    assert response.status_code == 400 and "cursor" in response.json()["errors"]


def test_page_size_is_capped(client, published, reader, settings):
    settings.ROLEBOOK_API_MAX_PAGE_SIZE = 1
    assert len(results(client.get("/api/v1/roles?page_size=50", **reader))) == 1


# ---------------------------------------------------------------------------------------------
# Query counts: the same at N and 2N rows


def _roles_with_items(count: int) -> None:
    """`count` roles, each with 3 approved aliases and 2 approved mappings (and pending ones)."""
    data = populate(count)
    for role in data["roles"]:
        for i in range(2):
            alias = TitleAliasFactory(role=role, alias=f"{role.code} extra {i}")
            services.approve_alias(alias=alias, actor=data["actor"])


@pytest.mark.parametrize("count", [3, 6])
def test_the_roles_list_runs_a_constant_number_of_queries(client, reference_soc, reader, django_assert_num_queries,
                                                         count):
    _roles_with_items(count)
    client.get("/api/v1/roles", **reader)  # the token's first use writes last_used_at once
    # 1 token (with its user), 2 the page of roles (level and taxonomy path joined),
    # 3 their approved aliases, 4 their approved mappings (official code and ancestors joined),
    # 5 when published data last changed (Last-Modified).
    with django_assert_num_queries(5):
        response = client.get("/api/v1/roles?page_size=100", **reader)
    assert len(results(response)) == count
    assert sum(len(r["aliases"]) for r in results(response)) == count * 4
    assert TitleAlias.objects.approved().count() == count * 4
    assert ClassificationMapping.objects.approved().count() == count * 2 + 1


@pytest.mark.parametrize("count", [3, 6])
def test_the_roles_list_of_a_session_user_runs_a_constant_number_of_queries(
    client, reference_soc, django_assert_num_queries, count
):
    from tests.factories import UserFactory

    _roles_with_items(count)
    client.force_login(UserFactory())
    # 1 session, 2 user, then as with a token: 3 roles, 4 aliases, 5 mappings, 6 Last-Modified.
    with django_assert_num_queries(6):
        assert len(results(client.get("/api/v1/roles?page_size=100"))) == count


@pytest.mark.parametrize("count", [3, 6])
def test_a_role_and_its_card_run_a_constant_number_of_queries(
    client, reference_soc, reader, django_assert_num_queries, count
):
    _roles_with_items(count)
    code = TitleAlias.objects.approved().order_by("pk").first().role.code
    client.get(f"/api/v1/roles/{code}", **reader)  # the token's first use writes last_used_at once
    # 1 token, 2 role (level and taxonomy joined), 3 approved aliases, 4 approved mappings,
    # 5 components, 6 Last-Modified.
    with django_assert_num_queries(6):
        assert client.get(f"/api/v1/roles/{code}", **reader).status_code == 200
    # 1 token, 2 role with its level; the card renderer's 3 components, 4 aliases, 5 mappings;
    # the published rule's 6 approved aliases, 7 approved mappings; 8 Last-Modified.
    with django_assert_num_queries(8):
        assert client.get(f"/api/v1/roles/{code}/card", **reader).status_code == 200


# ---------------------------------------------------------------------------------------------
# Official codes


def test_occupation_codes_list_the_reference_with_its_hierarchy(client, reference_soc, reader):
    body = client.get("/api/v1/occupation-codes?scheme=onet2019&page_size=3", **reader).json()
    assert [r["scheme"] for r in body["results"]] == ["onet2019"] * 3
    first = body["results"][0]
    assert first["parent"] == first["parents"][0]["code"] and len(first["parents"]) == 4
    children = results(client.get("/api/v1/occupation-codes?parent=15-2050", **reader))
    assert [c["code"] for c in children] == ["15-2051"]
    detail = client.get("/api/v1/occupation-codes/15-2050", **reader).json()
    assert [c["code"] for c in detail["children"]] == ["15-2051"]
    assert detail["parents"][-1]["code"] == "15-0000" and detail["level"] == "broad"
    majors = results(client.get("/api/v1/occupation-codes?level=major&page_size=200", **reader))
    assert len(majors) == OccupationCode.objects.filter(level="major").count()
    assert all(m["parent"] is None and m["parents"] == [] for m in majors)


def test_an_unknown_official_code_is_a_404_problem(client, reference_soc, reader):
    response = client.get("/api/v1/occupation-codes/99-9999", **reader)
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("page_size", [10, 20])
def test_the_codes_list_runs_a_constant_number_of_queries(
    client, reference_soc, reader, django_assert_num_queries, page_size
):
    client.get("/api/v1/occupation-codes", **reader)  # the token's first use writes last_used_at once
    # 1 token, 2 the page of codes (four ancestors joined), 3 Last-Modified.
    with django_assert_num_queries(3):
        assert len(results(client.get(f"/api/v1/occupation-codes?page_size={page_size}", **reader))) == page_size
