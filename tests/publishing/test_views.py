"""The "Export approved release" page and its zip download: who may see it, what it holds."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest
from django.urls import reverse

from publishing.formats.fixtures import release_counts
from publishing.models import ReleaseBuild
from publishing.releases import write_release
from roles.models import TitleAlias
from tests.factories import UserFactory, curator
from tests.publishing.test_releases import approve_aliases, build_roles, fixture_bytes, make_reviewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(reference_soc):
    actor = make_reviewer()
    roles = build_roles(2, aliases=3, mappings=1)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[:4])
    return roles


ANY_BUILD = {"build": uuid.UUID(int=1)}
URLS = [("releases:release", {}), ("releases:request-build", {}), ("releases:build", ANY_BUILD),
        ("releases:build-download", ANY_BUILD)]


@pytest.mark.parametrize(("name", "kwargs"), URLS)
def test_anonymous_users_are_sent_to_the_login_page(client, name, kwargs):
    url = reverse(name, kwargs=kwargs)
    response = client.get(url) if name != "releases:request-build" else client.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert "next=" in response["Location"]


@pytest.mark.parametrize(("name", "kwargs"), URLS)
def test_curators_who_are_not_reviewers_are_refused(client, name, kwargs):
    client.force_login(curator())
    url = reverse(name, kwargs=kwargs)
    assert (client.get(url) if name != "releases:request-build" else client.post(url)).status_code == 403


def test_staff_without_any_group_are_refused(client):
    client.force_login(UserFactory())
    assert client.get(reverse("releases:release")).status_code == 403


def test_reviewers_see_the_counts_that_would_be_exported(client, data):
    client.force_login(make_reviewer())
    response = client.get(reverse("releases:release"))
    assert response.status_code == 200
    counts = release_counts()
    rows = {row["file"]: row["count"] for row in response.context["rows"]}
    assert rows["06_title_aliases.json"] == 4 == counts["roles.titlealias"]
    assert rows["04_roles.json"] == 2
    assert response.context["total"] == sum(counts.values())
    assert b"Export approved release" in response.content


def test_superusers_may_export(client, data):
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(reverse("releases:release")).status_code == 200


@pytest.mark.parametrize("count", [2, 4])
def test_release_page_runs_a_constant_number_of_queries(client, reference_soc, django_assert_num_queries, count):
    actor = make_reviewer()
    roles = build_roles(count, aliases=2, mappings=1)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles))
    client.force_login(actor)
    # 1 session, 2 user, 3 SAVEPOINT (ATOMIC_REQUESTS), 4 user's own permissions and
    # 5 group permissions (has_perm); release_counts(): 6 nodes (id, parent, default SOC),
    # 7 role node ids, 8 occupation (id, parent), 9 approved mapping occupation ids, then counts
    # of 10 levels used, 11 roles, 12 components, 13 approved aliases, 14 approved mappings,
    # 15 role splits; 16 the reviewer's own builds; 17-18 the header's notifications (unread
    # count, latest); 19 RELEASE SAVEPOINT.
    with django_assert_num_queries(19):
        response = client.get(reverse("releases:release"))
    assert response.status_code == 200


def build(client, capture, params) -> zipfile.ZipFile:
    """Ask for a build as the page's form does, follow to its page, and download its zip."""
    with capture(execute=True):  # the job runs after the commit (the immediate backend)
        response = client.post(reverse("releases:request-build"), params)
    assert response.status_code == 302, response.content.decode()
    page = client.get(response["Location"])
    assert page.context["build"].state == "ready"
    assert b"Download rolebook-release-" in page.content
    download = client.get(reverse("releases:build-download", kwargs={"build": page.context["build"].pk}))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(download.content)), download


def test_a_build_is_a_zip_of_the_same_files_as_the_command(client, data, tmp_path,
                                                            django_capture_on_commit_callbacks):
    client.force_login(make_reviewer())
    archive, response = build(client, django_capture_on_commit_callbacks, {"version": "2.0.0"})
    assert 'filename="rolebook-release-2.0.0.zip"' in response["Content-Disposition"]
    names = archive.namelist()
    assert "rolebook-release-2.0.0/manifest.json" in names
    assert not any(n.endswith("reviewers.json") for n in names)

    write_release(tmp_path, version="2.0.0")
    for name, content in fixture_bytes(tmp_path).items():
        assert archive.read(f"rolebook-release-2.0.0/{name}") == content


def test_a_build_with_reviewers_adds_the_sidecar(client, data, django_capture_on_commit_callbacks):
    client.force_login(make_reviewer())
    archive, _ = build(client, django_capture_on_commit_callbacks, {"with_reviewers": "1"})
    assert "rolebook-release-1.0.0/reviewers.json" in archive.namelist()


@pytest.mark.parametrize("version", ["v2", "1.0", "1.0.0-" + "x" * 70])
def test_a_build_refuses_a_version_that_is_not_semantic(client, data, version):
    client.force_login(make_reviewer())
    response = client.post(reverse("releases:request-build"), {"version": version, "format": "csv"})
    assert response.status_code == 400
    assert "Version: " in response.content.decode() and "is not a semantic version" in response.content.decode()
    assert 'name="format" value="csv" checked' in response.content.decode()  # the form keeps what was chosen
    assert not ReleaseBuild.objects.exists()


def test_the_page_offers_the_formats_and_the_zip_holds_only_those_chosen(client, data,
                                                                         django_capture_on_commit_callbacks):
    client.force_login(make_reviewer())
    page = client.get(reverse("releases:release")).content.decode()
    assert 'name="format" value="csv" checked' in page and 'name="format" value="skos" checked' in page
    archive, _ = build(client, django_capture_on_commit_callbacks, {"format": "csv"})
    names = archive.namelist()
    assert "rolebook-release-1.0.0/aliases.csv" in names
    assert "rolebook-release-1.0.0/01_levels.json" in names
    assert not any(n.endswith(".ttl") for n in names)


def test_an_unknown_format_is_refused_by_name(client, data):
    client.force_login(make_reviewer())
    response = client.post(reverse("releases:request-build"), {"format": ["csv", "xlsx"]})
    assert response.status_code == 400
    assert "Unknown release format xlsx" in response.content.decode()
    assert not ReleaseBuild.objects.exists()


def test_the_review_dashboard_links_to_the_release_page_for_reviewers_only(client, groups):
    link = reverse("releases:release").encode()
    client.force_login(make_reviewer())
    assert link in client.get(reverse("review:dashboard")).content
    client.force_login(curator())
    response = client.get(reverse("review:dashboard"))
    assert response.status_code == 200
    assert link not in response.content
