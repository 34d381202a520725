# ruff: noqa: F811 - pytest fixtures imported from tests.review.conftest
"""Every release format carries a deprecation: fixtures, CSV, SKOS (and its SHACL shape)."""

from decimal import Decimal

import pytest

from review import services as review_services
from roles import services
from roles.models import DecisionKind
from tests.factories import TitleAliasFactory
from tests.review.conftest import curator, reviewer, role  # noqa: F401

pytestmark = pytest.mark.django_db


def test_every_release_format_carries_the_deprecation(deprecated_role, tmp_path, curator, reviewer):
    from pyshacl import validate
    from rdflib import Graph, Literal, URIRef
    from rdflib.namespace import DCTERMS, OWL

    from publishing.formats.csv import read_csv
    from publishing.formats.skos import SHAPES
    from publishing.releases import write_release_files

    alias = TitleAliasFactory(role=deprecated_role.replaced_by, alias="Old Name", confidence=Decimal("0.9"),
                              created_by=curator)
    review_services.approve_alias(alias=alias, actor=reviewer)
    proposal = services.propose_deprecation(item=alias, actor=curator, reason="no longer said")
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=reviewer)
    write_release_files(tmp_path, formats=["fixtures", "csv", "skos"])
    roles = {r["code"]: r for r in read_csv(tmp_path / "roles.csv")}
    successor = deprecated_role.replaced_by.code
    assert (roles[deprecated_role.code]["deprecated"], roles[deprecated_role.code]["replaced_by"]) == (
        "true", successor)
    assert (roles[successor]["deprecated"], roles[successor]["replaced_by"]) == ("false", "")
    (row,) = read_csv(tmp_path / "aliases.csv")
    assert (row["alias"], row["deprecated"]) == ("Old Name", "true")
    fixture = __import__("json").loads((tmp_path / "04_roles.json").read_text("utf-8"))
    fields = {o["fields"]["code"]: o["fields"] for o in fixture}
    assert fields[deprecated_role.code]["deprecated"] is True
    assert fields[deprecated_role.code]["replaced_by"] == [successor]
    graph = Graph().parse(tmp_path / "skos.ttl")
    concept = next(s for s in graph.subjects(OWL.deprecated, Literal(True)))
    assert str(concept).endswith(f"role/{deprecated_role.code}")
    assert str(graph.value(concept, DCTERMS.isReplacedBy)).endswith(f"role/{successor}")
    conforms, _graph, text = validate(graph, shacl_graph=Graph().parse(SHAPES), inference="none", advanced=True)
    assert conforms, text
    # The shape refuses a successor without the deprecation.
    graph.remove((concept, OWL.deprecated, Literal(True)))
    assert not validate(graph, shacl_graph=Graph().parse(SHAPES), inference="none", advanced=True)[0]
    assert isinstance(concept, URIRef)


def test_every_release_format_names_a_split_roles_successors_in_order(split_role, tmp_path):
    import json

    from pyshacl import validate
    from rdflib import Graph, URIRef
    from rdflib.namespace import DCTERMS

    from publishing.formats.csv import read_csv
    from publishing.formats.skos import SHAPES
    from publishing.releases import write_release_files

    successors = [r.code for r in split_role.split_successors]
    assert len(successors) == 2
    write_release_files(tmp_path, formats=["fixtures", "csv", "skos"])
    roles = {r["code"]: r for r in read_csv(tmp_path / "roles.csv")}
    row = roles[split_role.code]
    assert (row["deprecated"], row["replaced_by"], row["split_into"]) == ("true", "", " ".join(successors))
    assert all(roles[code]["split_into"] == "" for code in successors)
    links = json.loads((tmp_path / "08_role_splits.json").read_text("utf-8"))
    # In natural-key order, like every fixture file; the split's own order is `position`.
    rows = sorted((o["fields"]["position"], o["fields"]["role"], o["fields"]["successor"]) for o in links)
    assert rows == [(n, [split_role.code], [code]) for n, code in enumerate(successors)]
    graph = Graph().parse(tmp_path / "skos.ttl")
    concept = next(s for s in graph.subjects() if isinstance(s, URIRef) and str(s).endswith(f"role/{split_role.code}"))
    assert sorted(str(o).rsplit("/", 1)[1] for o in graph.objects(concept, DCTERMS.isReplacedBy)) == sorted(successors)
    conforms, _graph, text = validate(graph, shacl_graph=Graph().parse(SHAPES), inference="none", advanced=True)
    assert conforms, text


def test_a_release_with_a_split_loads_into_an_empty_database(split_role, tmp_path):
    from django.core.management import call_command

    from publishing.releases import write_release_files
    from roles.models import Role, RoleSplit

    successors = [r.code for r in split_role.split_successors]
    load_order = write_release_files(tmp_path, formats=["fixtures"])[0]
    assert load_order[-1] == "08_role_splits.json"
    RoleSplit.objects.all().delete()
    Role.objects.all().delete()
    call_command("loaddata", *[str(tmp_path / name) for name in load_order], verbosity=0)
    loaded = Role.objects.get(code=split_role.code)
    assert loaded.deprecated and [r.code for r in loaded.split_successors] == successors
