"""Release deltas: each publish after the first carries delta/, which turns the release before into it exactly."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph

from publishing.delta import DeltaError, apply_delta, read_table, write_csv, write_csv_delta
from publishing.files import DELTA, read_manifest, sha256_file
from publishing.formats.csv import COLUMNS, KEYS, ROLES_CSV
from publishing.formats.skos import SKOS_FILE
from publishing.releases import check_release, write_release
from publishing.store import publish_release
from review import services as review
from roles import services as curation
from roles.models import ClassificationMapping, Component, Role, TitleAlias
from tests.factories import ComponentFactory, RoleFactory, SpecializationFactory, TitleAliasFactory
from tests.publishing.test_releases import approve_aliases, approve_mappings, build_roles, make_reviewer

pytestmark = pytest.mark.django_db

DOCS = Path(django_settings.BASE_DIR) / "docs" / "deltas.md"
DELTA_FILES = {
    *(f"delta/{name}" for name in COLUMNS),
    *(f"delta/{Path(name).stem}.jsonl" for name in COLUMNS),
    "delta/skos-added.ttl",
    "delta/skos-removed.ttl",
}


@pytest.fixture
def releases_dir(settings, tmp_path):
    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "releases"
    return settings.ROLEBOOK_RELEASES_DIR


@pytest.fixture
def actor(reference_soc):
    return make_reviewer(username="rev")


@pytest.fixture
def roles(actor):
    roles = build_roles(3, aliases=3, mappings=2, components=3)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles).order_by("pk")[:5])
    approve_mappings(actor, ClassificationMapping.objects.filter(role__in=roles).order_by("pk")[:2])
    return roles


def edit_everything(actor, step: int) -> None:
    """Through the services: aliases approved and reopened, roles retitled, components moved,
    rewritten and deleted, a mapping approved, and a new role with a component."""
    pending = TitleAlias.objects.pending().order_by("pk").first()
    if pending is not None:
        review.approve_alias(alias=pending, actor=actor)
    approved = TitleAlias.objects.approved().order_by("pk").first()
    review.reopen_alias(alias=approved, actor=actor, reason="Checking it again.")
    role = Role.objects.order_by("code")[step % Role.objects.count()]
    role.title = f"{role.title}, revised {step}"
    curation.save_role(role=role, actor=actor, reason="Clearer title.")
    first, *rest = Component.objects.order_by("pk")
    first.position = 100 + step  # moves it to the end of its kind
    curation.save_component(component=first, actor=actor, reason="Reordered.")
    rest[0].text = f'Reworded, with "quotes" {step}'
    curation.save_component(component=rest[0], actor=actor, reason="Reworded.")
    curation.delete_item(item=rest[1], actor=actor, reason="Duplicate.")
    mapping = ClassificationMapping.objects.needs_review().order_by("pk").first()
    if mapping is not None:
        review.approve_mapping(mapping=mapping, actor=actor)
    new_role = RoleFactory(node=SpecializationFactory(), level=role.level)
    ComponentFactory(role=new_role, text="Line one,\nline two")


def csv_bytes(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in COLUMNS}


def docs_script() -> str:
    """The standalone script printed in docs/deltas.md."""
    blocks = re.findall(r"^```python\n(.*?)^```", DOCS.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


# ---------------------------------------------------------------------------------------------
# Published releases


def test_every_release_after_the_first_reproduces_from_the_one_before_byte_for_byte(actor, roles, releases_dir,
                                                                                     tmp_path):
    first, _ = publish_release()
    assert not (first / "delta").exists()
    published = [first]
    for step in range(2):
        edit_everything(actor, step)
        published.append(publish_release()[0])

    for before, after in zip(published, published[1:], strict=False):
        out = tmp_path / f"applied-{after.name}"
        call_command("apply_delta", str(before), str(after / "delta"), str(out), verbosity=0)
        assert csv_bytes(out) == csv_bytes(after)
        assert sorted(path.name for path in out.iterdir()) == sorted(COLUMNS)


def test_the_script_in_the_docs_reproduces_the_next_release(actor, roles, releases_dir, tmp_path, monkeypatch):
    first, _ = publish_release()
    edit_everything(actor, 0)
    second, _ = publish_release()
    out = tmp_path / "by-script"
    monkeypatch.setattr(sys, "argv", ["apply_delta.py", str(first), str(second / "delta"), str(out)])
    exec(compile(docs_script(), str(DOCS), "exec"), {"__name__": "__main__"})  # noqa: S102 - our own docs
    assert csv_bytes(out) == csv_bytes(second)


def test_the_delta_holds_the_edits_with_their_ops(actor, roles, releases_dir):
    first, _ = publish_release()
    edit_everything(actor, 0)
    second, manifest = publish_release()

    def ops(name):
        return [(row[0], row[2]) for row in read_table(second / "delta" / name).rows]

    retitled = Role.objects.order_by("code")[0]
    assert ("change", retitled.code) in ops("roles.csv")
    assert [op for op, _ in ops("roles.csv")].count("add") == 1
    alias_ops = [op for op, _ in ops("aliases.csv")]
    assert alias_ops.count("add") == 1 and alias_ops.count("remove") == 1
    # A component's text is part of its key: rewording it removes one row and adds another.
    assert sorted(op for op, _ in ops("components.csv")) == ["add", "add", "change", "remove", "remove"]
    assert [op for op, _ in ops("mappings.csv")] == ["add"]

    header = read_table(second / "delta" / "roles.csv").columns
    assert header[:5] == ["op", "row", "code", "old.title", "new.title"]
    change = next(json.loads(line) for line in (second / "delta" / "roles.jsonl").read_text().splitlines()
                  if json.loads(line)["op"] == "change")
    assert change["key"] == {"code": retitled.code}
    assert change["new"] == {"title": retitled.title}
    assert change["old"]["title"] + ", revised 0" == retitled.title


def test_the_manifest_lists_each_delta_file_with_its_sha256(actor, roles, releases_dir):
    publish_release()
    edit_everything(actor, 0)
    second, manifest = publish_release()
    listed = {name: info for name, info in manifest["files"].items() if info.get("format") == DELTA}
    assert set(listed) == DELTA_FILES
    for name, info in listed.items():
        assert info["sha256"] == manifest["sha256"][name] == sha256_file(second / name), name
    assert listed["delta/roles.csv"]["count"] == len(read_table(second / "delta" / "roles.csv").rows)
    assert read_manifest(second)["since"] == "1.0.0"


def test_the_skos_delta_is_the_set_difference_of_the_two_graphs(actor, roles, releases_dir):
    first, _ = publish_release()
    edit_everything(actor, 0)
    second, _ = publish_release()
    old, new = (set(Graph().parse(path / SKOS_FILE, format="turtle")) for path in (first, second))
    added = set(Graph().parse(second / "delta" / "skos-added.ttl", format="turtle"))
    removed = set(Graph().parse(second / "delta" / "skos-removed.ttl", format="turtle"))
    assert added == new - old and removed == old - new and added and removed
    assert (old - removed) | added == new


def test_deltas_are_deterministic_and_checked_like_changes(actor, roles, releases_dir, tmp_path):
    first, _ = publish_release()
    edit_everything(actor, 0)
    second, _ = publish_release()
    again = tmp_path / "again"
    write_release(again, since=first)
    for name in DELTA_FILES:
        assert (again / name).read_bytes() == (second / name).read_bytes(), name
    assert check_release(second, since=first) == []
    assert check_release(second) == []  # without since, the delta is left out like CHANGES.md
    (second / "delta" / "roles.csv").write_bytes(b"op,row,code\r\n")
    assert check_release(second, since=first) == ["delta/roles.csv differs"]


def test_a_release_of_csv_only_has_no_skos_delta_and_a_first_release_none(actor, roles, tmp_path):
    write_release(tmp_path / "a", formats=["csv"])
    assert not (tmp_path / "a" / "delta").exists()
    write_release(tmp_path / "b", formats=["csv"], since=tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "b" / "delta").iterdir()) == sorted(
        [*COLUMNS, *(f"{Path(n).stem}.jsonl" for n in COLUMNS)]
    )
    write_release(tmp_path / "c", formats=["fixtures"], since=tmp_path / "b")
    assert not (tmp_path / "c" / "delta").exists()


def test_every_csv_has_a_natural_key_of_its_own_columns():
    assert set(KEYS) == set(COLUMNS)
    for name, keys in KEYS.items():
        assert set(keys) <= set(COLUMNS[name]), name


# ---------------------------------------------------------------------------------------------
# Random edits between two releases


EDITS = ("approve_alias", "reopen_alias", "retitle_role", "move_component", "reword_component",
         "delete_component", "approve_mapping", "add_role", "add_alias")


def apply_edit(edit: str, pick: int, actor) -> None:
    def nth(queryset):
        items = list(queryset.order_by("pk"))
        return items[pick % len(items)] if items else None

    if edit == "approve_alias" and (alias := nth(TitleAlias.objects.pending())):
        review.approve_alias(alias=alias, actor=actor)
    elif edit == "reopen_alias" and (alias := nth(TitleAlias.objects.approved())):
        review.reopen_alias(alias=alias, actor=actor, reason="Again.")
    elif edit == "retitle_role" and (role := nth(Role.objects.all())):
        role.title = f"{role.title} {pick}"
        curation.save_role(role=role, actor=actor, reason="Retitled.")
    elif edit == "move_component" and (component := nth(Component.objects.all())):
        component.position = pick
        curation.save_component(component=component, actor=actor, reason="Moved.")
    elif edit == "reword_component" and (component := nth(Component.objects.all())):
        component.text = f"{component.text}, reworded {pick}"
        curation.save_component(component=component, actor=actor, reason="Reworded.")
    elif edit == "delete_component" and (component := nth(Component.objects.all())):
        curation.delete_item(item=component, actor=actor, reason="Gone.")
    elif edit == "approve_mapping" and (mapping := nth(ClassificationMapping.objects.needs_review())):
        review.approve_mapping(mapping=mapping, actor=actor)
    elif edit == "add_role":
        role = RoleFactory(node=SpecializationFactory(), level=nth(Role.objects.all()).level)
        ComponentFactory(role=role)
    elif (edit == "add_alias" and (role := nth(Role.objects.all()))
          and not role.aliases.filter(alias=f"Title {pick}, \"quoted\"").exists()):
        review.approve_alias(alias=TitleAliasFactory(role=role, alias=f"Title {pick}, \"quoted\""), actor=actor)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 20)), min_size=1, max_size=8))
def test_random_edits_between_two_releases_reproduce_byte_for_byte(reference_soc, edits):
    with transaction.atomic():
        actor = make_reviewer()
        roles = build_roles(2, aliases=3, mappings=2, components=3)
        approve_aliases(actor, TitleAlias.objects.filter(role__in=roles).order_by("pk")[:3])
        with tempfile.TemporaryDirectory() as tmp:
            before, after, out = Path(tmp) / "before", Path(tmp) / "after", Path(tmp) / "out"
            write_release(before)
            for edit, pick in edits:
                apply_edit(edit, pick, actor)
            write_release(after, since=before)
            apply_delta(before, after / "delta", out)
            assert csv_bytes(out) == csv_bytes(after)
        transaction.set_rollback(True)


# ---------------------------------------------------------------------------------------------
# Synthetic files: deprecated columns, repeated keys, bad deltas


def make_csv(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(path, rows[0], rows[1:])
    return path


def delta_of(tmp_path: Path, old: list[list[str]], new: list[list[str]], keys=("code",)) -> Path:
    old_path = make_csv(tmp_path / "old" / "roles.csv", old)
    new_path = make_csv(tmp_path / "new" / "roles.csv", new)
    (tmp_path / "new" / "delta").mkdir()
    write_csv_delta(old_path, new_path, keys, tmp_path / "new" / "delta", entity="roles")
    return tmp_path / "new" / "delta"


def test_a_deprecated_column_turning_true_is_a_deprecate_and_the_rest_are_changes(tmp_path):
    header = ["code", "title", "deprecated", "replaced_by"]
    old = [header, ["A", "Alpha", "false", ""], ["B", "Beta", "false", ""], ["C", "Gamma", "true", ""],
           ["D", "Delta", "false", ""]]
    new = [header, ["A", "Alpha", "true", "B"], ["B", "Beta 2", "false", ""], ["C", "Gamma", "false", ""],
           ["E", "Epsilon", "false", ""]]
    delta = delta_of(tmp_path, old, new)
    rows = [json.loads(line) for line in (delta / "roles.jsonl").read_text().splitlines()]
    assert [(r["op"], r["key"]["code"], r["row"]) for r in rows] == [
        ("remove", "D", 4), ("deprecate", "A", 1), ("change", "B", 2), ("change", "C", 3), ("add", "E", 4),
    ]
    assert rows[1]["old"] == {"deprecated": "false", "replaced_by": ""}
    assert rows[1]["new"] == {"deprecated": "true", "replaced_by": "B"}
    assert rows[0]["new"] is None and rows[4]["old"] is None
    assert read_table(delta / "roles.csv").columns == [
        "op", "row", "code", "old.title", "new.title", "old.deprecated", "new.deprecated",
        "old.replaced_by", "new.replaced_by",
    ]
    apply_delta(tmp_path / "old", delta, tmp_path / "out")
    assert (tmp_path / "out" / "roles.csv").read_bytes() == (tmp_path / "new" / "roles.csv").read_bytes()


def test_a_column_that_appears_is_carried_and_true_values_count_as_deprecations(tmp_path):
    old = [["code", "title"], ["A", "Alpha"], ["B", "Beta"]]
    new = [["code", "title", "deprecated"], ["A", "Alpha", "True"], ["B", "Beta", "False"]]
    delta = delta_of(tmp_path, old, new)
    assert [(row[0], row[2]) for row in read_table(delta / "roles.csv").rows] == [("deprecate", "A"), ("change", "B")]
    apply_delta(tmp_path / "old", delta, tmp_path / "out")
    assert (tmp_path / "out" / "roles.csv").read_bytes() == (tmp_path / "new" / "roles.csv").read_bytes()


def test_a_key_repeated_in_a_release_file_stops_the_delta_naming_the_file_and_line(tmp_path):
    with pytest.raises(DeltaError, match=r"old/roles\.csv, line 4: the key \(code 'A'\) repeats line 2"):
        delta_of(tmp_path, [["code", "title"], ["A", "x"], ["B", "y"], ["A", "z"]], [["code", "title"], ["A", "x"]])


def test_a_release_file_without_its_key_column_stops_the_delta(tmp_path):
    with pytest.raises(DeltaError, match=r"new/roles\.csv, line 1: no column 'code'"):
        delta_of(tmp_path, [["code", "title"], ["A", "x"]], [["title"], ["x"]])


OLD_ROLES = "code,title\r\nA,Alpha\r\nB,Beta\r\n"
DELTA_HEADER = "op,row,code,old.title,new.title\r\n"


@pytest.mark.parametrize(
    "body, message",
    [
        ("remove,1,Z,Zeta,\r\n", r"line 2: remove \(code 'Z'\), which .*old/roles\.csv does not hold"),
        ("change,1,Z,Zeta,Zed\r\n", r"line 2: change \(code 'Z'\), which .* does not hold"),
        ("change,1,A,Alfa,Alpha 2\r\n", r"line 2: old title 'Alfa' does not match .*old/roles\.csv, line 2: 'Alpha'"),
        ("remove,2,B,Bee,\r\n", r"line 2: old title 'Bee' does not match .*line 3: 'Beta'"),
        ("change,1,A,Alpha\r\n", r"line 2: 4 fields, where the header has 5"),
        ("rename,1,A,Alpha,Alpha 2\r\n", r"line 2: op 'rename' is not one of"),
        ("add,x,C,,Gamma\r\n", r"line 2: row 'x' is not a row number"),
        ("add,1,A,,Alpha\r\n", r"line 2: adds \(code 'A'\), which .* holds on line 2"),
        ("add,9,C,,Gamma\r\n", r"line 2: row 9 cannot be placed: the new file has only 2 rows before it"),
        ("change,1,A,Alpha,Alpha 2\r\nremove,2,A,Alpha,\r\n", r"line 3: the key \(code 'A'\) is already on line 2"),
        ('change,1,A,"Alpha,Alpha 2\r\n', r"line 2: .*(unexpected end of data|EOF)"),
        ("change,1,A,Alpha,Alpha\r\n", r"line 2: change \(code 'A'\) changes nothing"),
    ],
)
def test_a_bad_delta_is_refused_naming_file_and_line_and_nothing_is_written(tmp_path, body, message):
    make_dir = tmp_path / "old"
    make_dir.mkdir()
    (make_dir / "roles.csv").write_bytes(OLD_ROLES.encode())
    (tmp_path / "delta").mkdir()
    (tmp_path / "delta" / "roles.csv").write_bytes((DELTA_HEADER + body).encode())
    out = tmp_path / "out"
    with pytest.raises(CommandError, match=r"delta/roles\.csv, " + message):
        call_command("apply_delta", str(make_dir), str(tmp_path / "delta"), str(out), verbosity=0)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["delta", "old"]  # no staging directory left


def test_a_good_synthetic_delta_applies_and_reports_its_rows(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "roles.csv").write_bytes(OLD_ROLES.encode())
    (tmp_path / "delta").mkdir()
    body = "remove,1,A,Alpha,\r\nchange,1,B,Beta,\"Beta, \"\"2\"\"\"\r\nadd,2,C,,Gamma\r\n"
    (tmp_path / "delta" / "roles.csv").write_bytes((DELTA_HEADER + body).encode())
    call_command("apply_delta", str(tmp_path / "old"), str(tmp_path / "delta"), str(tmp_path / "out"), verbosity=0)
    assert (tmp_path / "out" / "roles.csv").read_bytes() == b'code,title\r\nB,"Beta, ""2"""\r\nC,Gamma\r\n'


def test_apply_delta_refuses_a_directory_that_holds_files(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / ROLES_CSV).write_bytes(OLD_ROLES.encode())
    (tmp_path / "delta").mkdir()
    (tmp_path / "delta" / ROLES_CSV).write_bytes(DELTA_HEADER.encode())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="out exists and is not an empty directory"):
        call_command("apply_delta", str(tmp_path / "old"), str(tmp_path / "delta"), str(tmp_path / "out"))
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_a_delta_applied_to_the_wrong_release_is_refused(actor, roles, releases_dir, tmp_path):
    first, _ = publish_release()
    edit_everything(actor, 0)
    second, _ = publish_release()
    edit_everything(actor, 1)
    third, _ = publish_release()
    with pytest.raises(CommandError, match=r"delta/\w+\.csv"):
        call_command("apply_delta", str(first), str(third / "delta"), str(tmp_path / "out"), verbosity=0)
    assert not (tmp_path / "out").exists()
    # The same delta applied to the release it belongs to works.
    call_command("apply_delta", str(second), str(third / "delta"), str(tmp_path / "out"), verbosity=0)
    assert csv_bytes(tmp_path / "out") == csv_bytes(third)
