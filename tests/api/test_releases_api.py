"""/api/v1/releases: published releases, their manifests and the download of each format."""

from __future__ import annotations

import io
import zipfile

import pytest

from publishing.files import REVIEWERS
from publishing.releases import write_release
from publishing.store import publish_release, published_releases, version_key
from review import services
from roles.models import TitleAlias

pytestmark = pytest.mark.django_db


@pytest.fixture
def releases(published, releases_dir):
    """Three published releases, 1.0.0 (fixtures only), 1.1.0 and 1.2.0 (every format)."""
    publish_release(formats=["fixtures"])
    pending = list(TitleAlias.objects.pending().order_by("pk"))
    services.approve_alias(alias=pending[0], actor=published["actor"])
    publish_release()
    services.approve_alias(alias=pending[1], actor=published["actor"])
    publish_release()
    return releases_dir


def unzip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_releases_are_listed_newest_first_with_their_downloads(client, releases, downloader):
    body = client.get("/api/v1/releases", **downloader).json()
    assert [r["version"] for r in body["results"]] == ["1.2.0", "1.1.0", "1.0.0"]
    newest = body["results"][0]
    assert newest["formats"] == ["fixtures", "csv", "skos"] and newest["since"] == "1.1.0"
    assert set(newest["downloads"]) == {"all", "fixtures", "csv", "skos"}
    assert newest["downloads"]["csv"].endswith("/api/v1/releases/1.2.0/download/csv")
    assert set(body["results"][2]["downloads"]) == {"all", "fixtures"}


def test_release_pages_follow_cursors_both_ways(client, releases, downloader):
    first = client.get("/api/v1/releases?page_size=2", **downloader).json()
    assert [r["version"] for r in first["results"]] == ["1.2.0", "1.1.0"] and first["previous"] is None
    second = client.get(first["next"], **downloader).json()
    assert [r["version"] for r in second["results"]] == ["1.0.0"] and second["next"] is None
    back = client.get(second["previous"], **downloader).json()
    assert [r["version"] for r in back["results"]] == ["1.2.0", "1.1.0"]
    assert client.get("/api/v1/releases?cursor=bm9wZQ", **downloader).status_code == 400


def test_the_detail_is_the_manifest(client, releases, downloader):
    body = client.get("/api/v1/releases/1.2.0", **downloader).json()
    manifest = published_releases()[0][1]
    for key in ("counts", "files", "format", "formats", "load_order", "loaddata", "since", "version"):
        assert body[key] == manifest[key], key
    assert body["sha256"] == manifest["sha256"] and body["with_reviewers"] is False


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("fixtures", {"01_levels.json", "04_roles.json", "06_title_aliases.json", "manifest.json", "CHANGES.md"}),
        ("csv", {"roles.csv", "aliases.csv", "mappings.csv", "components.csv", "manifest.json", "CHANGES.md"}),
    ],
)
def test_a_format_downloads_as_a_zip_of_its_files(client, releases, downloader, fmt, expected):
    archive = unzip(client.get(f"/api/v1/releases/1.2.0/download/{fmt}", **downloader))
    names = {name.split("/", 1)[1] for name in archive.namelist()}
    assert expected <= names
    assert all(name.startswith("rolebook-release-1.2.0/") for name in archive.namelist())
    folder = releases / "1.2.0"
    for name in names:
        assert archive.read(f"rolebook-release-1.2.0/{name}") == (folder / name).read_bytes()
    other = {"fixtures": ".csv", "csv": ".json"}[fmt]
    assert not any(n.endswith(other) and not n.endswith("manifest.json") for n in names)


def test_skos_downloads_as_turtle(client, releases, downloader):
    response = client.get("/api/v1/releases/1.2.0/download/skos", **downloader)
    assert response["Content-Type"] == "text/turtle; charset=utf-8"
    assert b"".join(response.streaming_content) == (releases / "1.2.0" / "skos.ttl").read_bytes()
    assert 'filename="rolebook-1.2.0.ttl"' in response["Content-Disposition"]


def test_all_downloads_every_file_and_equals_a_fresh_export(client, releases, downloader, tmp_path):
    archive = unzip(client.get("/api/v1/releases/1.2.0/download/all", **downloader))
    names = {name.split("/", 1)[1] for name in archive.namelist()}
    folder = releases / "1.2.0"  # its files, delta/ included
    assert names == {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
    write_release(tmp_path, version="1.2.0")
    for name in ("06_title_aliases.json", "aliases.csv", "skos.ttl"):
        assert archive.read(f"rolebook-release-1.2.0/{name}") == (tmp_path / name).read_bytes()


def test_downloads_answer_304_to_their_etag_before_building_anything(client, releases, downloader, monkeypatch):
    etag = client.get("/api/v1/releases/1.2.0/download/csv", **downloader)["ETag"]
    assert client.get("/api/v1/releases/1.2.0/download/fixtures", **downloader)["ETag"] != etag
    from api import views

    monkeypatch.setattr(views, "zip_files", lambda *a, **k: pytest.fail("the zip was built for a 304"))
    again = client.get("/api/v1/releases/1.2.0/download/csv", HTTP_IF_NONE_MATCH=etag, **downloader)
    assert again.status_code == 304 and again["ETag"] == etag


def test_zips_of_the_same_files_are_byte_identical(client, releases, downloader):
    one = b"".join(client.get("/api/v1/releases/1.1.0/download/all", **downloader).streaming_content)
    two = b"".join(client.get("/api/v1/releases/1.1.0/download/all", **downloader).streaming_content)
    assert one == two


@pytest.mark.parametrize(
    "path, detail",
    [
        ("/api/v1/releases/9.9.9", "No release 9.9.9 is published."),
        ("/api/v1/releases/latest", "'latest' is not a semantic version such as 1.2.0."),
        ("/api/v1/releases/1.0.0/download/csv", "Release 1.0.0 holds no csv files."),
        ("/api/v1/releases/1.2.0/download/xml", "No format 'xml': choose from all, fixtures, csv, skos."),
    ],
)
def test_missing_releases_and_formats_are_404_problems(client, releases, downloader, path, detail):
    response = client.get(path, **downloader)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == detail


def test_the_api_never_serves_reviewers_json(client, published, releases_dir, downloader):
    """A release folder copied in by hand with the reviewers sidecar: the API leaves it out."""
    write_release(releases_dir / "2.0.0", version="2.0.0", with_reviewers=True)
    assert (releases_dir / "2.0.0" / REVIEWERS).exists()
    archive = unzip(client.get("/api/v1/releases/2.0.0/download/all", **downloader))
    assert not any(n.endswith(REVIEWERS) for n in archive.namelist())
    body = client.get("/api/v1/releases/2.0.0", **downloader).json()
    assert REVIEWERS not in body["sha256"] and body["with_reviewers"] is False
    assert published["actor"].username not in str(body)


def test_folders_that_are_not_releases_are_not_listed(client, releases, downloader):
    (releases / "notes").mkdir()
    (releases / "3.0.0").mkdir()  # no manifest
    write_release(releases / "4.0.0", version="4.1.0")  # the manifest names another version
    assert [r["version"] for r in client.get("/api/v1/releases", **downloader).json()["results"]] == [
        "1.2.0", "1.1.0", "1.0.0"
    ]


def test_semantic_versions_sort_by_number_and_prereleases_first():
    versions = ["1.10.0", "1.9.0", "1.0.0-rc.1", "1.0.0", "2.0.0"]
    assert sorted(versions, key=version_key) == ["1.0.0-rc.1", "1.0.0", "1.9.0", "1.10.0", "2.0.0"]


@pytest.mark.parametrize("count", [2, 4])
def test_the_releases_list_runs_one_query(client, published, releases_dir, downloader, django_assert_num_queries,
                                          count):
    for _ in range(count):
        publish_release(formats=["fixtures"])
    client.get("/api/v1/releases", **downloader)  # the token's first use writes last_used_at once
    # 1 token; the releases are files.
    with django_assert_num_queries(1):
        response = client.get("/api/v1/releases", **downloader)
    assert len(response.json()["results"]) == count


def test_a_release_whose_files_do_not_match_its_manifest_is_neither_listed_nor_served(client, releases, downloader):
    (releases / "1.1.0" / "aliases.csv").write_bytes(b"role_code,alias\r\n")
    body = client.get("/api/v1/releases", **downloader).json()
    assert [r["version"] for r in body["results"]] == ["1.2.0", "1.0.0"]
    assert client.get("/api/v1/releases/1.1.0", **downloader).status_code == 404
    assert client.get("/api/v1/releases/1.1.0/download/csv", **downloader).status_code == 404
