"""/api/v1/releases: a release's delta files are listed in its manifest with their SHA-256 and served in the zip."""

from __future__ import annotations

import hashlib

import pytest

from publishing.store import publish_release
from review import services
from roles.models import TitleAlias
from tests.api.test_releases_api import unzip

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_releases(published, releases_dir):
    """1.0.0 and 1.1.0 (every format), one more alias approved in between."""
    publish_release()
    services.approve_alias(alias=TitleAlias.objects.pending().order_by("pk").first(), actor=published["actor"])
    publish_release()
    return releases_dir


def test_the_detail_lists_every_delta_file_with_its_sha256(client, two_releases, downloader):
    body = client.get("/api/v1/releases/1.1.0", **downloader).json()
    delta = {name: info for name, info in body["files"].items() if info.get("format") == "delta"}
    assert {"delta/aliases.csv", "delta/aliases.jsonl", "delta/skos-added.ttl", "delta/skos-removed.ttl"} <= set(delta)
    for name, info in delta.items():
        digest = hashlib.sha256((two_releases / "1.1.0" / name).read_bytes()).hexdigest()
        assert info["sha256"] == body["sha256"][name] == digest, name
    assert delta["delta/aliases.csv"]["count"] == 1 and body["since"] == "1.0.0"


def test_a_first_release_lists_no_delta(client, two_releases, downloader):
    body = client.get("/api/v1/releases/1.0.0", **downloader).json()
    assert not any(name.startswith("delta/") for name in body["files"]) and body["since"] is None


def test_the_whole_release_zip_holds_the_delta_folder(client, two_releases, downloader):
    archive = unzip(client.get("/api/v1/releases/1.1.0/download/all", **downloader))
    folder = two_releases / "1.1.0"
    assert archive.read("rolebook-release-1.1.0/delta/aliases.csv") == (folder / "delta" / "aliases.csv").read_bytes()
    csv_only = unzip(client.get("/api/v1/releases/1.1.0/download/csv", **downloader))
    assert not any("/delta/" in name for name in csv_only.namelist())
