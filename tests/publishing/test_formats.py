"""The release's CSV and SKOS files: what they hold, their round trips, and the SKOS shape."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, SKOS

from publishing.files import read_manifest
from publishing.formats.csv import ALIASES_CSV, COLUMNS, COMPONENTS_CSV, MAPPINGS_CSV, ROLES_CSV, read_csv
from publishing.formats.skos import SHAPES, SKOS_FILE, SkosUris, skos_graph
from publishing.published import published_reference_ids
from publishing.releases import files_of_format, write_release
from review import services
from roles.models import ClassificationMapping, Component, Role, TitleAlias
from taxonomy.models import TaxonomyNode
from tests.api.conftest import populate
from tests.conftest import REFERENCE_FIXTURES
from tests.factories import ComponentFactory, FamilyFactory, TitleAliasFactory
from tests.publishing.test_releases import fixture_bytes, load_release, make_reviewer

pytestmark = pytest.mark.django_db

BASE = "https://rolebook.example/id/"


def release_bytes(directory: Path) -> dict[str, bytes]:
    """Every data file of a release (manifest.json aside, whose created_at differs)."""
    manifest = read_manifest(directory)
    return {name: (directory / name).read_bytes() for name in manifest["files"]}


def skos_shape_report(graph: Graph) -> tuple[bool, str]:
    conforms, _report_graph, text = validate(
        graph, shacl_graph=Graph().parse(SHAPES), inference="none", advanced=True, allow_warnings=False
    )
    return conforms, text


@pytest.fixture
def data(reference_soc):
    result = populate(3)
    roles = result["roles"]
    # A text a CSV must quote (comma, quote, line break) and a non-ASCII one.
    TitleAliasFactory(role=roles[1], alias='Ärzt*in, "Lead" für ML')
    services.approve_alias(alias=TitleAlias.objects.get(alias__startswith="Ärzt"), actor=result["actor"])
    ComponentFactory(role=roles[0], kind=Component.Kind.TASK, text="Line one,\nline two", position=2)
    ComponentFactory(role=roles[0], kind=Component.Kind.RESPONSIBILITY, text="Own the backlog", position=1)
    # A taxonomy above the families, so the SKOS tree has every level.
    superfunction = FamilyFactory(code="SFX", kind=TaxonomyNode.Kind.SUPERFUNCTION, name="Technology")
    function = FamilyFactory(code="FNX", kind=TaxonomyNode.Kind.FUNCTION, parent=superfunction, name="Data")
    family = roles[0].node.parent
    family.parent = function
    family.save()
    return result


# ---------------------------------------------------------------------------------------------
# CSV


def test_csv_files_hold_the_approved_rows_of_the_database(data, tmp_path):
    manifest = write_release(tmp_path)

    aliases = read_csv(tmp_path / ALIASES_CSV)
    expected = set(TitleAlias.objects.approved().values_list("role__code", "alias"))
    assert {(row["role_code"], row["alias"]) for row in aliases} == expected
    for row in aliases:
        alias = TitleAlias.objects.get(role__code=row["role_code"], alias=row["alias"])
        assert row["type"] == alias.alias_type
        assert row["confidence"] == f"{alias.confidence:.2f}"
        assert row["approved_at"] == alias.decided_at.isoformat().replace("+00:00", "Z")

    mappings = read_csv(tmp_path / MAPPINGS_CSV)
    expected = set(ClassificationMapping.objects.approved().values_list("role__code", "code"))
    assert {(row["role_code"], row["code"]) for row in mappings} == expected
    by_code = {(row["role_code"], row["code"]): row for row in mappings}
    first = data["roles"][0].code
    assert by_code[(first, "15-2051")]["match_type"] == "exact"
    assert by_code[(first, "15-2051")]["official_title"] == "Data Scientists"
    assert by_code[(first, "15-2000")]["match_type"] == "broad"
    assert by_code[(first, "15-2051.01")]["scheme"] == "onet2019"
    assert by_code[(first, "15-2051")]["scheme"] == "soc2018"

    roles = read_csv(tmp_path / ROLES_CSV)
    assert [row["code"] for row in roles] == sorted(Role.objects.values_list("code", flat=True))
    assert roles[0]["family"] == data["roles"][0].node.parent.code
    assert roles[0]["function"] == "FNX" and roles[0]["superfunction"] == "SFX"

    components = read_csv(tmp_path / COMPONENTS_CSV)
    assert len(components) == Component.objects.count()
    mine = [row for row in components if row["role_code"] == first]
    assert [row["kind"] for row in mine] == ["responsibility", "task"]  # card order, not alphabetical
    assert mine[1]["text"] == "Line one,\nline two"

    for name, columns in COLUMNS.items():
        entry = manifest["files"][name]
        assert entry["format"] == "csv" and entry["columns"] == list(columns)
        assert entry["count"] == len(read_csv(tmp_path / name))


def test_csv_is_utf8_rfc4180_with_a_header_and_crlf_line_ends(data, tmp_path):
    write_release(tmp_path, formats=["csv"])
    raw = (tmp_path / ALIASES_CSV).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # no byte-order mark
    assert raw.startswith(b"role_code,alias,type,confidence,approved_at,deprecated,replaced_by_role_code,"
                          b"replaced_by_alias\r\n")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert '"Ärzt*in, ""Lead"" für ML"'.encode() in raw  # quoted, quotes doubled
    text = (tmp_path / COMPONENTS_CSV).read_bytes()
    assert b'"Line one,\nline two"' in text  # a line break inside a quoted field
    # Python's csv reads it back field for field.
    with open(tmp_path / ALIASES_CSV, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(COLUMNS[ALIASES_CSV])
    assert all(len(row) == 8 for row in rows)


def test_a_release_without_the_csv_format_has_no_csv_files(data, tmp_path):
    manifest = write_release(tmp_path, formats=["fixtures"])
    assert manifest["formats"] == ["fixtures"]
    assert not list(tmp_path.glob("*.csv")) and not (tmp_path / SKOS_FILE).exists()
    assert files_of_format(manifest, "csv") == []


# ---------------------------------------------------------------------------------------------
# SKOS


def test_skos_describes_roles_aliases_tree_and_mappings(data, tmp_path):
    write_release(tmp_path, formats=["skos"])
    graph = Graph().parse(tmp_path / SKOS_FILE, format="turtle")
    first = data["roles"][0]
    role = URIRef(f"{BASE}role/{first.code}")

    assert (role, RDF.type, SKOS.Concept) in graph
    assert (role, SKOS.inScheme, URIRef(f"{BASE}scheme")) in graph
    assert set(graph.objects(role, SKOS.prefLabel)) == {Literal(first.title, lang="en")}
    assert set(graph.objects(role, SKOS.altLabel)) == {Literal(f"{first.code} approved", lang="en")}
    assert set(graph.objects(role, SKOS.hiddenLabel)) == {Literal(f"{first.code} hidden", lang="en")}
    assert set(graph.objects(role, SKOS.exactMatch)) == {
        URIRef(f"{BASE}soc2018/15-2051"),
        URIRef(f"{BASE}onet2019/15-2051.01"),
    }
    assert set(graph.objects(role, SKOS.broadMatch)) == {URIRef(f"{BASE}soc2018/15-2000")}
    specialization = URIRef(f"{BASE}node/{first.node.code}")
    assert (role, SKOS.broader, specialization) in graph
    assert (specialization, SKOS.narrower, role) in graph
    assert (URIRef(f"{BASE}node/SFX"), SKOS.topConceptOf, URIRef(f"{BASE}scheme")) in graph
    # Official codes: their own schemes, their hierarchy, and O*NET-SOC under its SOC code by broadMatch.
    onet = URIRef(f"{BASE}onet2019/15-2051.01")
    assert (onet, SKOS.inScheme, URIRef(f"{BASE}onet2019")) in graph
    assert (onet, SKOS.broadMatch, URIRef(f"{BASE}soc2018/15-2051")) in graph
    assert (URIRef(f"{BASE}soc2018/15-2051"), SKOS.broader, URIRef(f"{BASE}soc2018/15-2050")) in graph
    # Pending and rejected items are nowhere.
    text = (tmp_path / SKOS_FILE).read_text()
    assert "pending" not in text and "rejected" not in text and "13-1111" not in text and "11-1011" not in text


def test_skos_parses_back_to_the_same_graph_and_re_exports_byte_identical(data, tmp_path):
    write_release(tmp_path / "a", formats=["skos"])
    write_release(tmp_path / "b", formats=["skos"])
    assert (tmp_path / "a" / SKOS_FILE).read_bytes() == (tmp_path / "b" / SKOS_FILE).read_bytes()

    parsed = Graph().parse(tmp_path / "a" / SKOS_FILE, format="turtle")
    node_ids, occupation_ids = published_reference_ids()
    built = skos_graph(node_ids, occupation_ids)
    assert len(parsed) == len(built) == read_manifest(tmp_path / "a")["files"][SKOS_FILE]["count"]
    assert isomorphic(parsed, built)


def test_skos_conforms_to_the_shape(data, tmp_path):
    write_release(tmp_path, formats=["skos"])
    conforms, text = skos_shape_report(Graph().parse(tmp_path / SKOS_FILE, format="turtle"))
    assert conforms, text


def test_an_alias_spelled_as_the_title_is_the_preflabel_only(data, tmp_path):
    role = data["roles"][1]
    same = TitleAliasFactory(role=role, alias=role.title)
    services.approve_alias(alias=same, actor=data["actor"])
    write_release(tmp_path, formats=["skos"])
    graph = Graph().parse(tmp_path / SKOS_FILE, format="turtle")
    subject = URIRef(f"{BASE}role/{role.code}")
    assert Literal(role.title, lang="en") not in set(graph.objects(subject, SKOS.altLabel))
    assert skos_shape_report(graph)[0]


@pytest.mark.parametrize(
    "damage, message",
    [
        ("alt_equals_pref", "disjoint"),
        ("two_preflabels", "uniqueLang"),
        ("broader_without_narrower", "equals"),
        ("exact_and_broad", "disjoint"),
        ("mapping_inside_scheme", "same scheme"),
    ],
)
def test_the_shape_catches_what_it_promises(data, tmp_path, damage, message):
    """A positive control for the shape: each broken graph fails with the rule that names it."""
    write_release(tmp_path, formats=["skos"])
    graph = Graph().parse(tmp_path / SKOS_FILE, format="turtle")
    role = URIRef(f"{BASE}role/{data['roles'][0].code}")
    other = URIRef(f"{BASE}role/{data['roles'][1].code}")
    title = next(graph.objects(role, SKOS.prefLabel))
    if damage == "alt_equals_pref":
        graph.add((role, SKOS.altLabel, title))
    elif damage == "two_preflabels":
        graph.add((role, SKOS.prefLabel, Literal("Another title", lang="en")))
    elif damage == "broader_without_narrower":
        graph.add((role, SKOS.broader, other))
        graph.remove((role, SKOS.broader, URIRef(f"{BASE}node/{data['roles'][0].node.code}")))
    elif damage == "exact_and_broad":
        graph.add((role, SKOS.broadMatch, URIRef(f"{BASE}soc2018/15-2051")))
    else:
        graph.add((role, SKOS.exactMatch, other))
    conforms, text = skos_shape_report(graph)
    assert conforms is False
    assert message.lower() in text.lower(), text


def test_skos_uris_follow_the_settings(data, tmp_path, settings):
    settings.ROLEBOOK_SKOS_BASE_URI = "https://kg.example.org/rolebook/"
    settings.ROLEBOOK_SKOS_CODE_URIS = {
        "soc2018": "https://kg.example.org/soc/{code}",
        "onet2019": "https://kg.example.org/onet/{code}",
    }
    write_release(tmp_path, formats=["skos"])
    graph = Graph().parse(tmp_path / SKOS_FILE, format="turtle")
    role = URIRef(f"https://kg.example.org/rolebook/role/{data['roles'][0].code}")
    assert URIRef("https://kg.example.org/soc/15-2051") in set(graph.objects(role, SKOS.exactMatch))
    assert SkosUris.from_settings().scheme == URIRef("https://kg.example.org/rolebook/scheme")
    assert skos_shape_report(graph)[0]


# ---------------------------------------------------------------------------------------------
# Every format: deterministic, and the same after a round trip through stock loaddata


def test_every_format_is_byte_identical_on_re_export(data, tmp_path):
    first = write_release(tmp_path / "a")
    second = write_release(tmp_path / "b")
    assert release_bytes(tmp_path / "a") == release_bytes(tmp_path / "b")
    assert first["sha256"] == second["sha256"]
    assert set(first["files"]) == {*first["load_order"], *COLUMNS, SKOS_FILE}


@pytest.mark.django_db(transaction=True)
def test_every_format_survives_a_round_trip_through_loaddata(tmp_path):
    call_command("loaddata", *REFERENCE_FIXTURES, verbosity=0)
    populate(2)
    write_release(tmp_path / "first")

    call_command("flush", interactive=False, verbosity=0)
    load_release(tmp_path / "first")
    write_release(tmp_path / "second")

    assert release_bytes(tmp_path / "first") == release_bytes(tmp_path / "second")
    assert fixture_bytes(tmp_path / "first") == fixture_bytes(tmp_path / "second")


def test_the_manifest_lists_every_file_with_its_hash(data, tmp_path):
    import hashlib

    manifest = write_release(tmp_path, since=None)
    for name, entry in manifest["files"].items():
        digest = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        assert entry["sha256"] == manifest["sha256"][name] == digest, name
    assert files_of_format(manifest, "csv") == sorted(COLUMNS)
    assert files_of_format(manifest, "skos") == [SKOS_FILE]
    make_reviewer()  # the release names nobody
    assert "user" not in (tmp_path / ALIASES_CSV).read_text()
