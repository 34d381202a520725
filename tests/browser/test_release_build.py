"""A release build's page in a real Chromium: it looks again by itself until the worker is done."""

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from publishing import builds
from publishing.models import ReleaseBuild
from roles.groups import REVIEWERS, sync_groups
from tests.browser.conftest import login
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_a_waiting_build_shows_its_download_once_the_worker_has_built_it(page, live_server, reference_soc):
    sync_groups(Group, Permission)  # the live server's database was flushed
    rita = UserFactory(username="rita", groups=[REVIEWERS])
    build = ReleaseBuild.objects.create(requested_by=rita, version="2.1.0", formats=["csv"])
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/review/release/build/{build.pk}/")
    status = page.locator("[role=status]")
    expect(status).to_contain_text("Waiting for a worker")
    assert builds.run_build(str(build.pk)) == ReleaseBuild.State.READY  # the worker, meanwhile
    link = status.locator("a", has_text="Download rolebook-release-2.1.0.zip")
    expect(link).to_be_visible()  # without a reload: the page looked again
    assert page.url.endswith(f"/review/release/build/{build.pk}/")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "rolebook-release-2.1.0.zip"
