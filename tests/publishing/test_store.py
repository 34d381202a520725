"""The release store: only whole releases are listed and served, and nothing broken blocks a publish."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command

from publishing import staging, store
from publishing.files import MANIFEST, ReleaseError, read_manifest
from publishing.releases import write_release
from publishing.store import publish_release, published_release, published_releases, sweep_releases
from roles.models import ClassificationMapping, TitleAlias
from tests.publishing.test_releases import approve_aliases, approve_mappings, build_roles, make_reviewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings, tmp_path):
    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "published"
    return settings.ROLEBOOK_RELEASES_DIR


@pytest.fixture
def data(reference_soc):
    actor = make_reviewer()
    roles = build_roles(2)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[:3])
    approve_mappings(actor, ClassificationMapping.objects.filter(role__in=roles)[:1])
    return roles


def publish(*args: str) -> str:
    out = StringIO()
    call_command("export_approved", "--publish", *args, stdout=out)
    return out.getvalue()


def listed() -> list[str]:
    return [path.name for path, _manifest in published_releases()]


def test_an_empty_version_folder_is_not_a_release_and_the_next_publish_removes_it(data, root):
    (root / "1.0.0").mkdir(parents=True)
    assert listed() == []

    output = publish()

    assert "Cleaned up after an interrupted export: removed the empty 1.0.0." in output
    assert "Release 1.0.0" in output and listed() == ["1.0.0"]


def test_a_release_missing_a_listed_file_is_not_served_and_is_set_aside_whole(data, root):
    publish_release(version="1.0.0")
    (root / "1.0.0" / "roles.csv").unlink()
    kept = {path.name: path.read_bytes() for path in (root / "1.0.0").iterdir()}

    assert listed() == []
    with pytest.raises(ReleaseError, match="No release 1.0.0 is published"):
        published_release("1.0.0")

    output = publish("--version", "1.0.0")

    lines = [line for line in output.splitlines() if line.startswith("Cleaned up")]
    assert len(lines) == 1 and "set 1.0.0 aside as .broken-1.0.0-" in lines[0] and "roles.csv is missing" in lines[0]
    assert listed() == ["1.0.0"]
    (broken,) = root.glob(".broken-1.0.0-*")
    assert {path.name: path.read_bytes() for path in broken.iterdir()} == kept  # nothing of it is deleted


def test_a_release_whose_file_no_longer_matches_its_sha256_is_not_listed(data, root):
    publish_release(version="1.0.0")
    assert listed() == ["1.0.0"]  # hashed once, then remembered by the files' stat
    path = root / "1.0.0" / "04_roles.json"
    data_bytes = path.read_bytes()
    before = path.stat()
    path.write_bytes(data_bytes.replace(b"[", b"(", 1))  # same size, same inode
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))  # what a later rewrite does

    assert listed() == []
    assert sweep_releases()[0].startswith("set 1.0.0 aside as .broken-1.0.0-")


def test_a_manifest_naming_another_version_is_not_a_release_there(data, root):
    write_release(root / "2.0.0", version="2.1.0")
    assert listed() == []
    publish_release(version="2.0.0")
    assert listed() == ["2.0.0"] and read_manifest(root / "2.0.0")["version"] == "2.0.0"


def test_the_sweep_leaves_a_running_publish_alone_and_removes_what_killed_ones_left(data, root):
    root.mkdir()
    dead = root / ".staging-1.1.0-0123456789ab"
    dead.mkdir()
    (dead / MANIFEST).write_text("{")
    legacy = root / ".release-k3x9_a2b"  # a build directory tempfile.mkdtemp named
    legacy.mkdir()
    (root / "notes").mkdir()  # not a version: not Rolebook's to touch
    with staging.staging_directory(root / "1.2.0") as running:
        done = sweep_releases()
        assert running.exists()
    assert sorted(done) == [f"removed {legacy.name}", f"removed {dead.name}"]
    assert sorted(p.name for p in root.iterdir()) == ["notes"]


def test_a_concurrent_publish_of_the_same_version_that_finishes_first_wins(data, root, monkeypatch):
    """The version is claimed by the final rename; the loser's build is removed and it says why."""
    real_write = store.write_release

    def write_then_lose_the_race(directory, **kwargs):
        manifest = real_write(directory, **kwargs)
        monkeypatch.setattr(store, "write_release", real_write)
        publish_release(version="1.0.0")  # the other publish, start to finish, meanwhile
        return manifest

    monkeypatch.setattr(store, "write_release", write_then_lose_the_race)
    with pytest.raises(ReleaseError, match="1.0.0 is already published"):
        publish_release(version="1.0.0")
    assert listed() == ["1.0.0"]
    assert sorted(p.name for p in root.iterdir()) == ["1.0.0"]


def test_listing_releases_does_not_change_the_folder(data, root):
    (root / "3.0.0").mkdir(parents=True)
    before = sorted(os.listdir(root))
    assert listed() == []
    assert sorted(os.listdir(root)) == before
