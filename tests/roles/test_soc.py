"""SOC suggestions for roles: the query built from the card, and a constant number of queries."""

import pytest

from roles.models import Component, Role, TitleAlias
from roles.soc import role_query, suggest_for_role, suggest_for_roles
from tests.factories import ComponentFactory, RoleFactory, TitleAliasFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("coder_index")]


def test_query_reads_title_live_aliases_components_and_story():
    role = Role(title="Data Engineer", headline="Builds pipelines.", plan=["Model the data.", "Ship it."],
                summary="Keeps data flowing.")
    aliases = [
        TitleAlias(alias="Big Data Engineer", status="approved"),
        TitleAlias(alias="ETL Developer", status="pending"),
        TitleAlias(alias="Plumber", status="rejected"),
    ]
    components = [Component(kind="task", text="Build ETL pipelines."), Component(kind="skill", text="SQL")]
    query = role_query(role, aliases, components)
    assert query.title == "Data Engineer"
    assert query.aliases == ("Big Data Engineer", "ETL Developer")
    assert query.components == ("Build ETL pipelines.", "SQL")
    for part in ("Builds pipelines.", "Model the data.", "Ship it.", "Keeps data flowing."):
        assert part in query.story


def test_seed_role_gets_an_ai_ml_occupation_in_its_top_5(seed_role):
    codes = [s.code for s in suggest_for_role(seed_role, k=5)]
    assert {"15-1221", "15-2051", "15-1299"} & set(codes), codes


def _roles(n: int) -> list[Role]:
    roles = []
    for i in range(n):
        role = RoleFactory(title=["Data Engineer", "Registered Nurse", "Welder"][i % 3])
        ComponentFactory(role=role, kind="task", text=f"Build data pipelines {i}.")
        ComponentFactory(role=role, kind="skill", text="SQL")
        TitleAliasFactory(role=role, alias=f"Pipeline Engineer {i}")
        roles.append(role)
    return roles


@pytest.mark.parametrize("n", [3, 6])
def test_suggest_for_roles_runs_a_constant_number_of_queries(n, django_assert_num_queries):
    roles = _roles(n)
    # 1: the roles' aliases that are not rejected; 2: their work components.
    with django_assert_num_queries(2):
        result = suggest_for_roles(roles, k=3)
    assert set(result) == {r.pk for r in roles}
    assert all(1 <= len(s) <= 3 for s in result.values())


@pytest.mark.parametrize("n", [3, 6])
def test_suggest_for_roles_from_a_queryset_adds_one_query(n, django_assert_num_queries):
    roles = _roles(n)
    # 1: the roles; 2: their aliases; 3: their components.
    with django_assert_num_queries(3):
        result = suggest_for_roles(Role.objects.filter(pk__in=[r.pk for r in roles]))
    assert len(result) == n


def test_suggest_for_roles_of_nothing_is_empty(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert suggest_for_roles([]) == {}


def test_batch_and_single_agree():
    role = _roles(1)[0]
    assert [s.code for s in suggest_for_role(role)] == [s.code for s in suggest_for_roles([role])[role.pk]]
