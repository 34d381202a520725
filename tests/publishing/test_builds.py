"""Release builds on the task queue: who may see and download a build, one pending at a time, failures, crashes."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from framework.tasks import requeue_abandoned
from publishing import builds
from publishing.models import ReleaseBuild
from tests.factories import UserFactory
from tests.publishing.test_releases import make_reviewer

pytestmark = pytest.mark.django_db


def ask(user, **kwargs) -> ReleaseBuild:
    return builds.request_build(user=user, version=kwargs.get("version", ""), formats=kwargs.get("formats", ["csv"]),
                                with_reviewers=False)


def test_a_build_waits_as_a_job_row_and_the_worker_part_writes_its_zip(reference_soc, database_backend):
    reviewer = make_reviewer()
    build = ask(reviewer, version="1.4.0")
    job = DBTaskResult.objects.get(task_path=builds.build_release.module_path)
    assert job.args_kwargs["args"] == [str(build.pk)]  # queued in the same transaction, for a worker
    assert build.state == ReleaseBuild.State.WAITING

    assert builds.run_build(str(build.pk)) == ReleaseBuild.State.READY
    build.refresh_from_db()
    assert build.filename == "rolebook-release-1.4.0.zip" and build.finished_at is not None
    names = zipfile.ZipFile(io.BytesIO(bytes(build.archive))).namelist()
    assert "rolebook-release-1.4.0/manifest.json" in names and "rolebook-release-1.4.0/aliases.csv" in names
    # The job again (a worker that died after writing, its job put back): the build stays as it is.
    assert builds.run_build(str(build.pk)) == ReleaseBuild.State.READY


def test_one_pending_build_per_person_so_repeated_requests_do_not_fill_the_queue(reference_soc, database_backend):
    reviewer, other = make_reviewer(), make_reviewer()
    first = ask(reviewer)
    assert ask(reviewer, version="9.9.9").pk == first.pk
    assert ask(other).pk != first.pk
    assert DBTaskResult.objects.filter(task_path=builds.build_release.module_path).count() == 2
    builds.run_build(str(first.pk))
    assert ask(reviewer).pk != first.pk  # once it is done, another may be asked for


def test_a_pending_build_older_than_the_stale_limit_no_longer_blocks(reference_soc, database_backend):
    reviewer = make_reviewer()
    stuck = ask(reviewer)
    ReleaseBuild.objects.filter(pk=stuck.pk).update(requested_at=stuck.requested_at - builds.STALE_AFTER * 2)
    assert ask(reviewer).pk != stuck.pk


def test_each_person_keeps_their_newest_builds(reference_soc, django_capture_on_commit_callbacks):
    reviewer, other = make_reviewer(), make_reviewer()
    with django_capture_on_commit_callbacks(execute=True):
        kept_by_other = ask(other)
    made = []
    for _ in range(builds.KEEP_PER_USER + 2):
        with django_capture_on_commit_callbacks(execute=True):
            made.append(ask(reviewer).pk)
    left = list(ReleaseBuild.objects.filter(requested_by=reviewer).values_list("pk", flat=True))
    assert set(left) == set(made[-builds.KEEP_PER_USER:])
    assert ReleaseBuild.objects.filter(pk=kept_by_other.pk).exists()


def test_a_failed_build_says_why_and_frees_the_person_to_ask_again(reference_soc, database_backend, monkeypatch):
    reviewer = make_reviewer()
    build = ask(reviewer)

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(builds, "write_release_zip", broken)
    assert builds.run_build(str(build.pk)) == ReleaseBuild.State.FAILED
    build.refresh_from_db()
    assert build.error == "OSError: No space left on device" and build.archive is None
    assert ask(reviewer).pk != build.pk


def test_a_build_deleted_before_its_job_runs_is_left_alone(reference_soc, database_backend):
    build = ask(make_reviewer())
    ReleaseBuild.objects.filter(pk=build.pk).delete()
    assert builds.run_build(str(build.pk)) == "gone"


def test_nobody_sees_or_downloads_another_persons_build_except_superusers(client, reference_soc,
                                                                          django_capture_on_commit_callbacks):
    owner, other = make_reviewer(), make_reviewer()
    with django_capture_on_commit_callbacks(execute=True):
        build = ask(owner)
    page = reverse("releases:build", kwargs={"build": build.pk})
    download = reverse("releases:build-download", kwargs={"build": build.pk})
    client.force_login(other)
    assert client.get(page).status_code == 404
    assert client.get(download).status_code == 404
    assert download.encode() not in client.get(reverse("releases:release")).content
    client.force_login(owner)
    assert client.get(page).status_code == 200
    assert download.encode() in client.get(reverse("releases:release")).content
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(download).status_code == 200


def test_a_pending_build_has_no_download_and_its_page_polls(client, reference_soc, database_backend):
    reviewer = make_reviewer()
    build = ask(reviewer)
    client.force_login(reviewer)
    assert client.get(reverse("releases:build-download", kwargs={"build": build.pk})).status_code == 404
    url = reverse("releases:build", kwargs={"build": build.pk})
    page = client.get(url).content.decode()
    assert "Waiting for a worker" in page and f'data-poll="{url}"' in page


def test_asking_for_a_build_takes_a_post_with_the_csrf_token(reference_soc):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_reviewer())
    assert client.get(reverse("releases:request-build")).status_code == 405
    assert client.post(reverse("releases:request-build"), {"format": "csv"}).status_code == 403
    assert not ReleaseBuild.objects.exists()


def test_a_worker_that_starts_again_takes_back_the_jobs_its_last_run_left_running(reference_soc, database_backend):
    build = ask(make_reviewer())
    job = DBTaskResult.objects.get(task_path=builds.build_release.module_path)
    job.claim("host-1")  # then killed: the row says RUNNING for good
    ask(make_reviewer())
    other = DBTaskResult.objects.exclude(pk=job.pk).get()
    other.claim("host-2")  # still running, on another worker
    assert requeue_abandoned("host-1") == 1
    job.refresh_from_db()
    other.refresh_from_db()
    assert job.status == TaskResultStatus.READY and job.started_at is None
    assert other.status == TaskResultStatus.RUNNING
    assert requeue_abandoned("host-1") == 0
    assert builds.run_build(str(build.pk)) == ReleaseBuild.State.READY
