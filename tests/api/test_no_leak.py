"""No leak, as a property: over random review histories, the API and every release format hold
exactly the approved aliases and mappings, the same set as the fixtures release.

Each example drives aliases and mappings of a few roles through random paths of the review
workflow (approve, reject, reopen, in the services), then reads every place data leaves Rolebook:
the fixtures, CSV and SKOS files, the roles list (every page), each role, each card, and the
alias and SOC filters. Searching for the text of an alias that is not approved finds nothing.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph
from rdflib.namespace import SKOS

from api.services import create_token
from publishing.formats.csv import ALIASES_CSV, MAPPINGS_CSV, read_csv
from publishing.formats.skos import SKOS_FILE
from publishing.releases import write_release
from roles.cards.parser import parse_card
from roles.models import ClassificationMapping, Role, TitleAlias
from tests.api.conftest import bearer
from tests.factories import ClassificationMappingFactory, TitleAliasFactory, UserFactory
from tests.publishing.test_releases import ALIAS_PATHS, _drive_alias, _drive_mapping, build_roles, make_reviewer

pytestmark = pytest.mark.django_db
EXAMPLES = 25
STATES = st.sampled_from(sorted(ALIAS_PATHS))
ROLE = st.tuples(st.lists(STATES, max_size=5), st.lists(STATES, max_size=3))


def approved_sets() -> tuple[set, set]:
    aliases = set(TitleAlias.objects.filter(status="approved").values_list("role__code", "alias"))
    mappings = set(ClassificationMapping.objects.filter(status="approved").values_list("role__code", "code"))
    return aliases, mappings


def fixture_sets(directory: Path) -> tuple[set, set]:
    def objects(name):
        path = directory / name
        return json.loads(path.read_text()) if path.exists() else []

    aliases = {(o["fields"]["role"][0], o["fields"]["alias"]) for o in objects("06_title_aliases.json")}
    mappings = {(o["fields"]["role"][0], o["fields"]["code"]) for o in objects("07_classification_mappings.json")}
    return aliases, mappings


def csv_sets(directory: Path) -> tuple[set, set]:
    aliases = {(r["role_code"], r["alias"]) for r in read_csv(directory / ALIASES_CSV)}
    mappings = {(r["role_code"], r["code"]) for r in read_csv(directory / MAPPINGS_CSV)}
    return aliases, mappings


def skos_sets(directory: Path, titles: dict[str, str]) -> tuple[set, set]:
    graph = Graph().parse(directory / SKOS_FILE, format="turtle")
    prefix = "https://rolebook.example/id/role/"
    aliases, mappings = set(), set()
    for code, title in titles.items():
        role = graph.resource(f"{prefix}{code}").identifier
        labels = set(graph.objects(role, SKOS.altLabel)) | set(graph.objects(role, SKOS.hiddenLabel))
        aliases |= {(code, str(label)) for label in labels}
        # An approved alias spelled as the title is the prefLabel (SKOS keeps labels disjoint).
        if TitleAlias.objects.filter(role__code=code, alias=title, status="approved").exists():
            aliases.add((code, title))
        for target in set(graph.objects(role, SKOS.exactMatch)) | set(graph.objects(role, SKOS.broadMatch)):
            mappings.add((code, str(target).rsplit("/", 1)[1]))
    return aliases, mappings


def api_sets(client: Client, headers: dict) -> tuple[set, set]:
    """The aliases and mappings of every page of /roles, checked against each role's detail and card."""
    aliases, mappings = set(), set()
    url = "/api/v1/roles?page_size=2"
    while url:
        body = client.get(url, **headers).json()
        for role in body["results"]:
            aliases |= {(role["code"], a["alias"]) for a in role["aliases"]}
            mappings |= {(role["code"], m["code"]) for m in role["mappings"]}
            detail = client.get(f"/api/v1/roles/{role['code']}", **headers).json()
            assert detail["aliases"] == role["aliases"] and detail["mappings"] == role["mappings"]
            card = parse_card(client.get(f"/api/v1/roles/{role['code']}/card", **headers).content.decode())
            assert {a.alias for a in card.aliases} == {a["alias"] for a in role["aliases"]}
            assert {m.code for m in card.mappings} == {m["code"] for m in role["mappings"]}
        url = body["next"]
    return aliases, mappings


@pytest.mark.django_db
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(roles=st.lists(ROLE, min_size=1, max_size=3))
def test_api_and_every_format_hold_exactly_the_approved_items(reference_soc, roles):
    cache.clear()
    with transaction.atomic():
        actor = make_reviewer()
        built = build_roles(len(roles), aliases=0, mappings=0, components=1)
        for index, (role, (alias_states, mapping_states)) in enumerate(zip(built, roles, strict=True)):
            # Fixed-width texts: none is a part of another, so a search for one finds only it.
            for i, state in enumerate(alias_states):
                alias = TitleAliasFactory(role=role, alias=f"Leak probe {index}{i:02d}q")
                _drive_alias(alias, actor, ALIAS_PATHS[state])
            for i, state in enumerate(mapping_states):
                mapping = ClassificationMappingFactory(role=role, occupation=_detailed(index * 3 + i))
                _drive_mapping(mapping, actor, ALIAS_PATHS[state])
        expected = approved_sets()
        titles = dict(Role.objects.values_list("code", "title"))

        with tempfile.TemporaryDirectory() as tmp:
            write_release(tmp)
            assert fixture_sets(Path(tmp)) == expected
            assert csv_sets(Path(tmp)) == expected
            assert skos_sets(Path(tmp), titles) == expected

        client = Client()
        headers = bearer(create_token(user=UserFactory(is_staff=False), name="probe", scopes=["read"])[1])
        assert api_sets(client, headers) == expected

        for code, text in TitleAlias.objects.exclude(status="approved").values_list("role__code", "alias"):
            found = client.get("/api/v1/roles", {"alias": text}, **headers).json()["results"]
            assert found == [], f"searching the {text!r} of {code} found {[r['code'] for r in found]}"
        for soc_code in ClassificationMapping.objects.exclude(status="approved").values_list("code", flat=True):
            found = {r["code"] for r in client.get("/api/v1/roles", {"soc": soc_code}, **headers).json()["results"]}
            approved_here = {c for c, s in expected[1] if s == soc_code}
            assert found == approved_here
        transaction.set_rollback(True)


def _detailed(index: int):
    from taxonomy.models import OccupationCode

    codes = list(OccupationCode.objects.detailed().order_by("code").values_list("pk", flat=True)[:20])
    return OccupationCode.objects.get(pk=codes[index % len(codes)])
