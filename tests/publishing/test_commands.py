"""manage.py export_approved: writing, --check, --since, --version, --with-reviewers, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from publishing.files import CHANGES, MANIFEST, REVIEWERS, read_manifest
from review import services
from roles.models import ClassificationMapping, TitleAlias
from tests.publishing.test_releases import (
    approve_aliases,
    approve_mappings,
    build_roles,
    fixture_bytes,
    make_reviewer,
)

pytestmark = pytest.mark.django_db


def export(*args: str) -> str:
    out = StringIO()
    call_command("export_approved", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def actor(reference_soc):
    return make_reviewer(username="rev")


@pytest.fixture
def roles(actor):
    roles = build_roles(3)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[:4])
    approve_mappings(actor, ClassificationMapping.objects.filter(role__in=roles)[:2])
    return roles


def test_writes_a_release_with_progress_and_a_one_line_summary(roles, tmp_path):
    output = export("--output", str(tmp_path / "rel"))
    lines = output.strip().splitlines()
    assert "06_title_aliases.json: 4 objects" in lines
    assert lines[-1].startswith("Release 1.0.0: ")
    assert "written to" in lines[-1]
    manifest = read_manifest(tmp_path / "rel")
    assert manifest["counts"]["roles.titlealias"] == 4
    assert manifest["counts"]["roles.classificationmapping"] == 2


def test_re_export_into_the_same_directory_is_byte_identical(roles, tmp_path):
    export("--output", str(tmp_path / "rel"))
    first = fixture_bytes(tmp_path / "rel")
    export("--output", str(tmp_path / "rel"))
    assert fixture_bytes(tmp_path / "rel") == first


def test_check_passes_for_a_current_release(roles, tmp_path):
    export("--output", str(tmp_path / "rel"))
    assert "is up to date" in export("--output", str(tmp_path / "rel"), "--check")


def test_check_detects_a_stale_release(actor, roles, tmp_path):
    export("--output", str(tmp_path / "rel"))
    services.approve_alias(alias=TitleAlias.objects.pending().first(), actor=actor)
    with pytest.raises(CommandError, match="out of date: 06_title_aliases.json differs") as raised:
        export("--output", str(tmp_path / "rel"), "--check")
    assert raised.value.returncode == 1


def test_check_detects_a_tampered_file(roles, tmp_path):
    export("--output", str(tmp_path / "rel"))
    path = tmp_path / "rel" / "04_roles.json"
    path.write_bytes(path.read_bytes().replace(b"\n]", b"\n ]"))
    with pytest.raises(CommandError, match="04_roles.json differs"):
        export("--output", str(tmp_path / "rel"), "--check")


def test_check_ignores_the_creation_time(roles, tmp_path):
    export("--output", str(tmp_path / "rel"))
    manifest_path = tmp_path / "rel" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["created_at"] = "1999-01-01T00:00:00Z"
    manifest_path.write_text(json.dumps(manifest))
    assert "is up to date" in export("--output", str(tmp_path / "rel"), "--check")


def test_check_of_a_directory_without_a_release_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="has no manifest.json"):
        export("--output", str(tmp_path), "--check")


def test_check_exits_non_zero_from_the_shell(tmp_path):
    """CI relies on the exit status: a failed check is exit 1 with the reason on stderr."""
    result = subprocess.run(
        [sys.executable, "manage.py", "export_approved", "--check", "--output", str(tmp_path)],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "framework.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "has no manifest.json" in result.stderr


def test_since_writes_changes_and_bumps_the_minor_version(actor, roles, tmp_path):
    export("--output", str(tmp_path / "v1"), "--version", "1.2.0")
    services.approve_alias(alias=TitleAlias.objects.pending().first(), actor=actor)
    output = export("--output", str(tmp_path / "v2"), "--since", str(tmp_path / "v1"))
    assert "Release 1.3.0" in output and "CHANGES.md since 1.2.0" in output
    assert "1 added" in (tmp_path / "v2" / CHANGES).read_text()


def test_with_reviewers_writes_usernames_in_a_sidecar_only(roles, tmp_path):
    export("--output", str(tmp_path / "plain"))
    export("--output", str(tmp_path / "signed"), "--with-reviewers")
    assert fixture_bytes(tmp_path / "plain") == fixture_bytes(tmp_path / "signed")
    assert '"decided_by": "rev"' in (tmp_path / "signed" / REVIEWERS).read_text()


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.2.3"])
def test_a_version_that_is_not_semantic_is_refused(version, tmp_path):
    with pytest.raises(CommandError, match="not a semantic version"):
        export("--output", str(tmp_path), "--version", version)


def test_since_must_be_a_release(tmp_path):
    with pytest.raises(CommandError, match="is not a release"):
        export("--output", str(tmp_path / "out"), "--since", str(tmp_path))


def test_refuses_to_overwrite_a_directory_that_is_not_a_release(reference_soc, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match="not part of a release"):
        export("--output", str(tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------------------------------------------
# --format and --publish


def test_every_format_is_written_by_default(roles, tmp_path):
    output = export("--output", str(tmp_path / "rel"))
    manifest = read_manifest(tmp_path / "rel")
    assert manifest["formats"] == ["fixtures", "csv", "skos"]
    assert {"roles.csv", "aliases.csv", "mappings.csv", "components.csv", "skos.ttl"} <= set(manifest["sha256"])
    assert "aliases.csv: 4 rows" in output and "(fixtures, csv, skos)" in output


def test_format_chooses_the_formats_and_fixtures_are_always_there(roles, tmp_path):
    export("--output", str(tmp_path / "rel"), "--format", "skos")
    manifest = read_manifest(tmp_path / "rel")
    assert manifest["formats"] == ["fixtures", "skos"]
    assert (tmp_path / "rel" / "skos.ttl").exists() and not (tmp_path / "rel" / "roles.csv").exists()
    assert manifest["load_order"]


def test_an_unknown_format_is_refused(roles, tmp_path):
    with pytest.raises(CommandError, match="--format xml: choose from fixtures, csv, skos"):
        export("--output", str(tmp_path / "rel"), "--format", "csv,xml")


def test_check_compares_every_format_the_release_holds(actor, roles, tmp_path):
    export("--output", str(tmp_path / "rel"), "--format", "csv")
    assert "is up to date" in export("--output", str(tmp_path / "rel"), "--check")
    path = tmp_path / "rel" / "aliases.csv"
    path.write_bytes(path.read_bytes() + b"x\r\n")
    with pytest.raises(CommandError, match="aliases.csv differs"):
        export("--output", str(tmp_path / "rel"), "--check")


def test_a_fixtures_only_release_of_an_older_format_still_checks_clean(roles, tmp_path):
    """A manifest written before CSV and SKOS existed has no "formats": it holds fixtures only."""
    export("--output", str(tmp_path / "rel"), "--format", "fixtures")
    manifest_path = tmp_path / "rel" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    del manifest["formats"]
    manifest_path.write_text(json.dumps(manifest))
    assert "is up to date" in export("--output", str(tmp_path / "rel"), "--check")


def test_publish_writes_numbered_immutable_releases_with_changes(actor, roles, settings, tmp_path):
    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "published"
    first = export("--publish")
    assert "Release 1.0.0" in first and "published to" in first
    services.approve_alias(alias=TitleAlias.objects.pending().first(), actor=actor)
    second = export("--publish")
    assert "Release 1.1.0" in second and "CHANGES.md since 1.0.0" in second
    assert sorted(p.name for p in (tmp_path / "published").iterdir()) == ["1.0.0", "1.1.0"]
    assert "1 added" in (tmp_path / "published" / "1.1.0" / CHANGES).read_text()
    assert read_manifest(tmp_path / "published" / "1.1.0")["formats"] == ["fixtures", "csv", "skos"]
    with pytest.raises(CommandError, match="1.1.0 is already published"):
        export("--publish", "--version", "1.1.0")
    assert read_manifest(tmp_path / "published" / "1.1.0")["version"] == "1.1.0"


def test_publish_never_names_reviewers(roles, settings, tmp_path):
    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "published"
    with pytest.raises(CommandError, match="cannot be combined with --with-reviewers"):
        export("--publish", "--with-reviewers")
    assert not (tmp_path / "published").exists()


def test_re_export_through_a_symlink_writes_where_it_points_and_keeps_the_link(actor, roles, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    export("--output", str(tmp_path / "link"))
    services.approve_alias(alias=TitleAlias.objects.pending().first(), actor=actor)

    export("--output", str(tmp_path / "link"))

    assert (tmp_path / "link").is_symlink()
    assert read_manifest(tmp_path / "real")["counts"]["roles.titlealias"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]
