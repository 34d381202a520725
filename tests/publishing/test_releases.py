"""The approved release export: only approved items, natural keys, deterministic, loads anywhere."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publishing.files import CHANGES, REVIEWERS, read_manifest
from publishing.formats.csv import CSV_QUERIES
from publishing.formats.fixtures import EXPORT_QUERIES, PARTS, iter_fixture, release_counts
from publishing.formats.skos import SKOS_QUERIES
from publishing.releases import write_release
from review import services
from roles import agreement
from roles.models import ClassificationMapping, Role, RoleSplit, TitleAlias
from taxonomy.models import OccupationCode, TaxonomyNode
from tests.conftest import REFERENCE_FIXTURES
from tests.factories import (
    ClassificationMappingFactory,
    ComponentFactory,
    FamilyFactory,
    LevelFactory,
    RoleFactory,
    SpecializationFactory,
    TitleAliasFactory,
    reviewer,
)

ALIAS_FILE = "06_title_aliases.json"
MAPPING_FILE = "07_classification_mappings.json"


# ---------------------------------------------------------------------------------------------
# Helpers shared with test_release_views.py and test_export_command.py


def make_reviewer(**kwargs):
    """A member of Reviewers holding roles.review_alias and roles.review_mapping."""
    user = reviewer(**kwargs)
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


def build_roles(count: int, *, aliases: int = 3, mappings: int = 2, components: int = 2) -> list[Role]:
    """`count` roles, each under its own family, with pending aliases and mappings to detailed codes."""
    level = LevelFactory(code="P1")
    codes = list(OccupationCode.objects.detailed().order_by("code")[: max(mappings, 1) * 7])
    roles = []
    for i in range(count):
        role = RoleFactory(node=SpecializationFactory(), level=level)
        for _ in range(components):
            ComponentFactory(role=role)
        for _ in range(aliases):
            TitleAliasFactory(role=role)
        for m in range(mappings):
            ClassificationMappingFactory(role=role, occupation=codes[(i + m * 3) % len(codes)])
        roles.append(role)
    return roles


def approve_aliases(actor, aliases) -> None:
    for alias in aliases:
        services.approve_alias(alias=alias, actor=actor)


def approve_mappings(actor, mappings) -> None:
    for mapping in mappings:
        services.approve_mapping(mapping=mapping, actor=actor)


def fixture_objects(directory: Path, name: str) -> list[dict]:
    path = Path(directory) / name
    return list(iter_fixture(path)) if path.exists() else []


def fixture_bytes(directory: Path) -> dict[str, bytes]:
    """The fixture files of a release (manifest.json aside, whose created_at differs)."""
    manifest = read_manifest(directory)
    return {name: (Path(directory) / name).read_bytes() for name in manifest["load_order"]}


def load_release(directory: Path) -> None:
    """Stock loaddata of every fixture file, in the manifest's load order."""
    manifest = read_manifest(directory)
    call_command("loaddata", *[str(Path(directory) / n) for n in manifest["load_order"]], verbosity=0)


# ---------------------------------------------------------------------------------------------
# Content


@pytest.mark.django_db
def test_release_holds_only_approved_items_with_natural_keys_and_no_users(reference_soc, tmp_path):
    actor = make_reviewer()
    role = build_roles(1, aliases=3, mappings=2)[0]
    alias_ok, alias_no, _pending = role.aliases.order_by("pk")
    mapping_ok, mapping_no = role.mappings.order_by("pk")
    services.approve_alias(alias=alias_ok, actor=actor)
    services.reject_alias(alias=alias_no, actor=actor, reason="Not a title anyone uses.")
    services.approve_mapping(mapping=mapping_ok, actor=actor)
    services.reject_mapping(mapping=mapping_no, actor=actor, reason="Wrong family.")

    manifest = write_release(tmp_path)

    aliases = fixture_objects(tmp_path, ALIAS_FILE)
    mappings = fixture_objects(tmp_path, MAPPING_FILE)
    assert [a["fields"]["alias"] for a in aliases] == [alias_ok.alias]
    assert [m["fields"]["code"] for m in mappings] == [mapping_ok.code]
    assert aliases[0]["fields"]["decided_by"] is None
    assert aliases[0]["fields"]["decided_at"].endswith("Z")
    assert mappings[0]["fields"]["decided_by"] is None
    assert mappings[0]["fields"]["decided_at"] is not None
    text = "".join((tmp_path / name).read_text() for name in manifest["load_order"])
    assert '"pk"' not in text
    assert actor.username not in text and "@" not in text
    assert "auth.user" not in text
    assert not (tmp_path / REVIEWERS).exists()


@pytest.mark.django_db
def test_occupation_codes_and_nodes_come_with_their_ancestors(reference_soc, tmp_path):
    actor = make_reviewer()
    superfunction = FamilyFactory(code="SFX", kind=TaxonomyNode.Kind.SUPERFUNCTION)
    function = FamilyFactory(code="FNX", kind=TaxonomyNode.Kind.FUNCTION, parent=superfunction)
    minor_group = OccupationCode.objects.get(scheme="soc2018", code="13-1000")
    family = FamilyFactory(code="FAMX", parent=function, default_soc=minor_group)
    role = RoleFactory(node=SpecializationFactory(parent=family), level=LevelFactory(code="P1"))
    onet = OccupationCode.objects.get(scheme="onet2019", code="15-2051.01")
    approve_mappings(actor, [ClassificationMappingFactory(role=role, occupation=onet)])
    FamilyFactory(code="UNUSED")

    write_release(tmp_path)

    objects = fixture_objects(tmp_path, "02_occupation_codes.json")
    codes = [(o["fields"]["scheme"], o["fields"]["code"]) for o in objects]
    assert codes == sorted(codes)
    assert set(codes) == {
        ("onet2019", "15-2051.01"), ("soc2018", "15-2051"), ("soc2018", "15-2050"),
        ("soc2018", "15-2000"), ("soc2018", "15-0000"), ("soc2018", "13-1000"), ("soc2018", "13-0000"),
    }
    nodes = [o["fields"]["code"] for o in fixture_objects(tmp_path, "03_taxonomy_nodes.json")]
    assert nodes == sorted(["SFX", "FNX", "FAMX", role.node.code])


@pytest.mark.django_db
def test_exporting_twice_gives_byte_identical_fixtures(reference_soc, tmp_path):
    actor = make_reviewer()
    roles = build_roles(3)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[:5])
    approve_mappings(actor, ClassificationMapping.objects.filter(role__in=roles)[:4])

    first = write_release(tmp_path / "a")
    second = write_release(tmp_path / "b")

    assert fixture_bytes(tmp_path / "a") == fixture_bytes(tmp_path / "b")
    assert first["sha256"] == second["sha256"]
    # One object per line between the brackets, keys sorted.
    lines = (tmp_path / "a" / ALIAS_FILE).read_text().splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 5 + 2
    obj = json.loads(lines[1].rstrip(","))
    assert list(obj) == sorted(obj) and list(obj["fields"]) == sorted(obj["fields"])


@pytest.mark.django_db
def test_with_reviewers_writes_a_sidecar_and_leaves_the_fixtures_unchanged(reference_soc, tmp_path):
    actor = make_reviewer(username="rita")
    roles = build_roles(2)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[:2])
    approve_mappings(actor, ClassificationMapping.objects.filter(role__in=roles)[:1])

    plain = write_release(tmp_path / "plain")
    signed = write_release(tmp_path / "signed", with_reviewers=True)

    assert fixture_bytes(tmp_path / "plain") == fixture_bytes(tmp_path / "signed")
    assert REVIEWERS not in signed["load_order"] and REVIEWERS in signed["sha256"]
    assert REVIEWERS not in plain["sha256"]
    rows = list(iter_fixture(tmp_path / "signed" / REVIEWERS))
    assert len(rows) == 3
    assert {r.get("decided_by") or r.get("decided_by") for r in rows} == {"rita"}
    assert all(r["model"] in ("roles.titlealias", "roles.classificationmapping") for r in rows)
    assert "@" not in (tmp_path / "signed" / REVIEWERS).read_text()


@pytest.mark.django_db
def test_manifest_lists_load_order_counts_and_hashes(reference_soc, tmp_path):
    actor = make_reviewer()
    roles = build_roles(2, aliases=2, mappings=1, components=3)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[:3])

    manifest = write_release(tmp_path, version="2.3.4")

    assert manifest == read_manifest(tmp_path)
    assert manifest["version"] == "2.3.4"
    assert manifest["load_order"] == [p.filename for p in PARTS if manifest["counts"][p.label]]
    assert manifest["counts"]["roles.titlealias"] == 3
    assert manifest["counts"]["roles.classificationmapping"] == 0
    assert manifest["counts"]["roles.component"] == 6
    assert MAPPING_FILE not in manifest["load_order"]  # empty files are left out
    assert manifest["counts"] == release_counts()
    import hashlib

    for name in manifest["load_order"]:
        assert manifest["sha256"][name] == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()


@pytest.mark.django_db
def test_natural_key_paths_match_natural_key(reference_soc):
    """PARTS spells each model's natural_key() as field paths: the two must agree."""
    actor = make_reviewer()
    role = build_roles(1, aliases=1, mappings=1, components=1)[0]
    approve_mappings(actor, role.mappings.all())
    # A split's link (written here directly: only the key paths are under test).
    RoleSplit.objects.create(role=role, successor=build_roles(1, aliases=0, mappings=0, components=0)[0])
    for part in PARTS:
        obj = part.model.objects.order_by("pk").first()
        assert obj is not None, part.label
        paths = part.model.objects.filter(pk=obj.pk).values_list(*part.natural_key).get()
        assert tuple(obj.natural_key()) == paths, part.label


# ---------------------------------------------------------------------------------------------
# No pending or rejected item, whatever the review states (property test)

ALIAS_PATHS = {
    "pending": [],
    "approved": ["approve"],
    "rejected": ["reject"],
    "approved-reopened": ["approve", "reopen"],
    "rejected-reopened": ["reject", "reopen"],
    "reopened-approved": ["reject", "reopen", "approve"],
}


def _drive_alias(alias, actor, steps):
    for step in steps:
        if step == "approve":
            services.approve_alias(alias=alias, actor=actor)
        elif step == "reject":
            services.reject_alias(alias=alias, actor=actor, reason="no")
        else:
            services.reopen_alias(alias=alias, actor=actor, reason="again")


def _drive_mapping(mapping, actor, steps):
    for step in steps:
        if step == "approve":
            services.approve_mapping(mapping=mapping, actor=actor)
        elif step == "reject":
            services.reject_mapping(mapping=mapping, actor=actor, reason="no")
        else:
            services.reopen_mapping(mapping=mapping, actor=actor, reason="again")


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    alias_states=st.lists(st.sampled_from(sorted(ALIAS_PATHS)), min_size=1, max_size=6),
    mapping_states=st.lists(st.sampled_from(sorted(ALIAS_PATHS)), max_size=4),
)
def test_no_pending_or_rejected_item_is_ever_exported(reference_soc, alias_states, mapping_states):
    with transaction.atomic():
        actor = make_reviewer()
        role = build_roles(1, aliases=len(alias_states), mappings=len(mapping_states), components=1)[0]
        for alias, state in zip(role.aliases.order_by("pk"), alias_states, strict=True):
            _drive_alias(alias, actor, ALIAS_PATHS[state])
        for mapping, state in zip(role.mappings.order_by("pk"), mapping_states, strict=True):
            _drive_mapping(mapping, actor, ALIAS_PATHS[state])

        with tempfile.TemporaryDirectory() as tmp:
            write_release(tmp)
            aliases = {(a["fields"]["role"][0], a["fields"]["alias"]) for a in fixture_objects(tmp, ALIAS_FILE)}
            mappings = {(m["fields"]["role"][0], m["fields"]["code"]) for m in fixture_objects(tmp, MAPPING_FILE)}
            statuses = {a["fields"]["status"] for a in fixture_objects(tmp, ALIAS_FILE)}
            statuses |= {m["fields"]["status"] for m in fixture_objects(tmp, MAPPING_FILE)}

        assert statuses <= {"approved"}
        assert aliases == {(role.code, a.alias) for a in role.aliases.filter(status="approved")}
        assert mappings == {(role.code, m.code) for m in role.mappings.filter(status="approved")}
        transaction.set_rollback(True)


# ---------------------------------------------------------------------------------------------
# Round trip through stock loaddata into an empty database


def _populated_release_data():
    """Roles with approved, rejected and pending items, ancestors and an O*NET refinement."""
    actor = make_reviewer()
    roles = build_roles(4, aliases=3, mappings=2)
    family = roles[0].node.parent
    family.default_soc = OccupationCode.objects.get(scheme="soc2018", code="15-2000")
    family.save()
    aliases = list(TitleAlias.objects.filter(role__in=roles).order_by("pk"))
    approve_aliases(actor, aliases[::2])
    services.reject_alias(alias=aliases[1], actor=actor, reason="Nobody says that.")
    mappings = list(ClassificationMapping.objects.filter(role__in=roles).order_by("pk"))
    approve_mappings(actor, mappings[::2])
    services.reject_mapping(mapping=mappings[1], actor=actor, reason="Wrong.")
    scientist = OccupationCode.objects.get(scheme="soc2018", code="15-2051")
    refined = ClassificationMappingFactory(role=roles[1], occupation=scientist)
    services.refine_mapping(mapping=refined, actor=actor, code="15-2051.01")
    # Texts that sort differently under locale collations, and non-ASCII.
    TitleAliasFactory(role=roles[2], alias="Ärzt*in für _ML_")
    TitleAliasFactory(role=roles[2], alias="a lower-case title")
    approve_aliases(actor, TitleAlias.objects.filter(role=roles[2], status="pending"))
    return roles


@pytest.mark.django_db(transaction=True)
def test_round_trip_through_stock_loaddata_is_byte_identical(tmp_path):
    call_command("loaddata", *REFERENCE_FIXTURES, verbosity=0)
    _populated_release_data()
    first = write_release(tmp_path / "first")

    # An empty database: no users, no reference rows, no content types beyond what flush keeps.
    call_command("flush", interactive=False, verbosity=0)
    assert not OccupationCode.objects.exists() and not get_user_model().objects.exists()
    load_release(tmp_path / "first")
    second = write_release(tmp_path / "second")

    assert fixture_bytes(tmp_path / "first") == fixture_bytes(tmp_path / "second")
    assert first["counts"] == second["counts"]
    assert first["load_order"] == second["load_order"]
    assert not get_user_model().objects.exists()


@pytest.mark.django_db(transaction=True)
def test_stock_loaddata_of_the_files_fills_an_empty_database(tmp_path):
    call_command("loaddata", *REFERENCE_FIXTURES, verbosity=0)
    _populated_release_data()
    manifest = write_release(tmp_path)
    approved_aliases = set(TitleAlias.objects.approved().values_list("role__code", "alias"))

    call_command("flush", interactive=False, verbosity=0)
    # Django's own command, one file at a time in load order, nothing of Rolebook's in between.
    for name in manifest["load_order"]:
        call_command("loaddata", str(tmp_path / name), verbosity=0)

    assert set(TitleAlias.objects.values_list("role__code", "alias")) == approved_aliases
    assert not TitleAlias.objects.exclude(status="approved").exists()
    assert not ClassificationMapping.objects.exclude(status="approved").exists()
    for part in PARTS:
        assert part.model.objects.count() == manifest["counts"][part.label], part.label
    refined = ClassificationMapping.objects.get(code="15-2051.01")
    assert refined.previous_code == "15-2051" and refined.occupation.parent.code == "15-2051"
    # Loading the same release again changes nothing: natural keys find the rows.
    load_release(tmp_path)
    assert TitleAlias.objects.count() == manifest["counts"]["roles.titlealias"]


# ---------------------------------------------------------------------------------------------
# CHANGES.md


@pytest.mark.django_db
def test_changes_lists_a_newly_approved_alias_a_rejected_one_and_a_refined_mapping(reference_soc, tmp_path):
    actor = make_reviewer()
    role = build_roles(1, aliases=0, mappings=0)[0]
    other = build_roles(1, aliases=1, mappings=0)[0]
    kept = TitleAliasFactory(role=role, alias="Kept Title")
    dropped = TitleAliasFactory(role=role, alias="Dropped Title")
    newcomer = TitleAliasFactory(role=role, alias="Newly Approved Title")
    never = TitleAliasFactory(role=role, alias="Never Approved Title")
    approve_aliases(actor, [kept, dropped])
    scientist = OccupationCode.objects.get(scheme="soc2018", code="15-2051")
    mapping = ClassificationMappingFactory(role=role, occupation=scientist)
    services.approve_mapping(mapping=mapping, actor=actor)
    write_release(tmp_path / "v1")

    services.approve_alias(alias=newcomer, actor=actor)
    services.reopen_alias(alias=dropped, actor=actor, reason="Too vague.")
    services.reject_alias(alias=dropped, actor=actor, reason="Too vague.")
    services.reject_alias(alias=never, actor=actor, reason="Not a title.")
    services.reopen_mapping(mapping=mapping, actor=actor, reason="Be more specific.")
    services.refine_mapping(mapping=mapping, actor=actor, code="15-2051.01")
    manifest = write_release(tmp_path / "v2", since=tmp_path / "v1")

    changes = (tmp_path / "v2" / CHANGES).read_text()
    assert manifest["version"] == "1.1.0" and manifest["since"] == "1.0.0"
    assert CHANGES in manifest["sha256"] and CHANGES not in manifest["load_order"]
    section = changes.split(f"## {role.code}\n", 1)[1]
    assert '- added "Newly Approved Title"' in section
    assert '- removed "Dropped Title"' in section
    assert "- refined onet_soc 15-2051 → 15-2051.01" in section
    assert "Kept Title" not in changes and "Never Approved Title" not in changes
    assert other.code not in changes
    assert "aliases: 1 added, 1 removed, 0 changed; mappings: 0 added, 0 removed, 1 changed" in changes


@pytest.mark.django_db
def test_changes_against_an_identical_release_says_nothing_changed(reference_soc, tmp_path):
    actor = make_reviewer()
    build_roles(2)
    approve_aliases(actor, TitleAlias.objects.all()[:2])
    write_release(tmp_path / "v1", version="1.4.2")
    manifest = write_release(tmp_path / "v2", since=tmp_path / "v1")
    assert manifest["version"] == "1.5.0"
    assert "No alias or mapping changed." in (tmp_path / "v2" / CHANGES).read_text()


# ---------------------------------------------------------------------------------------------
# Query count


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 6])
def test_export_runs_a_constant_number_of_queries(reference_soc, tmp_path, django_assert_num_queries, count):
    actor = make_reviewer()
    roles = build_roles(count, aliases=4, mappings=2, components=3)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[: count * 3])
    approve_mappings(actor, ClassificationMapping.objects.filter(role__in=roles)[:count])

    # 1 nodes (id, parent, default SOC), 2 role node ids, 3 occupation (id, parent),
    # 4 approved mapping occupation ids, 5 levels used, 6 occupation codes, 7 nodes, 8 roles,
    # 9 components, 10 approved aliases, 11 approved mappings, 12 role splits (see EXPORT_QUERIES);
    # the manifest's review_quality: 13 the reviews of measured samples, 14 samples by state
    # (agreement.QUERIES).
    with django_assert_num_queries(len(EXPORT_QUERIES) + len(agreement.QUERIES)):
        manifest = write_release(tmp_path / "fixtures", with_reviewers=True, formats=["fixtures"])
    assert manifest["counts"]["roles.role"] == count
    assert (len(EXPORT_QUERIES), len(agreement.QUERIES)) == (12, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 6])
def test_every_format_adds_a_constant_number_of_queries(reference_soc, tmp_path, django_assert_num_queries, count):
    actor = make_reviewer()
    roles = build_roles(count, aliases=4, mappings=2, components=3)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[: count * 3])
    approve_mappings(actor, ClassificationMapping.objects.filter(role__in=roles)[:count])

    # The 12 fixture queries (EXPORT_QUERIES); CSV: 13 the roles split roles became, 14 roles with
    # level and taxonomy path, 15 approved aliases, 16 approved mappings with their codes,
    # 17 components (CSV_QUERIES); SKOS: 18 taxonomy nodes, 19 the roles split roles became,
    # 20 roles, 21 approved aliases, 22 approved mappings, 23 occupation codes (SKOS_QUERIES);
    # the manifest's review_quality: 24-25 (agreement.QUERIES).
    expected = len(EXPORT_QUERIES) + len(CSV_QUERIES) + len(SKOS_QUERIES) + len(agreement.QUERIES)
    with django_assert_num_queries(expected):
        manifest = write_release(tmp_path)
    assert manifest["formats"] == ["fixtures", "csv", "skos"]
    assert (len(CSV_QUERIES), len(SKOS_QUERIES)) == (5, 6)
