"""Release builds on the task queue: asked for on the release page, built by a worker, downloaded once ready.

A release at O*NET scale takes seconds to write, too long to hold a web worker: the page
records a ReleaseBuild and queues `publishing.tasks.build_release`, which writes the same zip
as `manage.py export_approved` (publishing.releases.write_release_zip) into the row. The job
is `build_release`, here beside the service it runs.

- One person has at most one build waiting or running: asking again while one is pending
  returns that one, so a script or a double click cannot fill the queue.
- Each person keeps their KEEP_PER_USER newest builds; older ones are deleted when they ask for
  another.
- A build that is killed halfway stays pending: the worker that takes its job back (framework
  /tasks.py, requeue_abandoned) builds it again. One pending longer than STALE_AFTER no longer
  blocks a new one.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import task

from framework.tasks import enqueue_after_commit

from .files import SEMVER_RE, ReleaseError, release_formats
from .models import ReleaseBuild
from .releases import write_release_zip

logger = logging.getLogger(__name__)

KEEP_PER_USER = 5
VERSION_MAX = ReleaseBuild._meta.get_field("version").max_length
STALE_AFTER = timedelta(hours=1)


def builds_of(user, *, every: bool = False) -> QuerySet[ReleaseBuild]:
    """The user's builds (`every`: everyone's), newest first, without their archives."""
    found = ReleaseBuild.objects.defer("archive")
    return found if every else found.filter(requested_by=user)


def request_build(*, user, version: str, formats: Iterable[str] | None, with_reviewers: bool) -> ReleaseBuild:
    """Record a build for `user` and queue its job; return it (or the user's build still pending).

    Raises ReleaseError, naming the field, for a version that is not semantic or an unknown format.
    """
    version = version.strip()
    if version and (len(version) > VERSION_MAX or not SEMVER_RE.match(version)):
        raise ReleaseError(f"Version: “{version}” is not a semantic version such as 1.2.0.")
    chosen = list(release_formats(formats))
    with transaction.atomic():
        pending = (
            ReleaseBuild.objects.select_for_update()
            .filter(requested_by=user, state__in=(ReleaseBuild.State.WAITING, ReleaseBuild.State.BUILDING),
                    requested_at__gte=timezone.now() - STALE_AFTER)
            .defer("archive")
            .first()
        )
        if pending is not None:
            return pending
        build = ReleaseBuild.objects.create(
            requested_by=user, version=version, formats=chosen, with_reviewers=with_reviewers)
        older = list(
            ReleaseBuild.objects.filter(requested_by=user).exclude(pk=build.pk)
            .order_by("-requested_at").values_list("pk", flat=True)[KEEP_PER_USER - 1:]
        )
        ReleaseBuild.objects.filter(pk__in=older).delete()
        enqueue_after_commit(build_release, str(build.pk))
    return build


@task()
def build_release(build_id: str) -> str:
    """The job: build ReleaseBuild `build_id` (run_build); return its state, kept with the job."""
    return run_build(build_id)


def run_build(build_id: str) -> str:
    """Write the zip of a pending build into its row; return the build's state afterwards.

    The job's part: a build that is ready, failed or deleted is left as it is.
    """
    with transaction.atomic():
        build = ReleaseBuild.objects.select_for_update().defer("archive").filter(pk=build_id).first()
        if build is None or not build.pending:
            return "gone" if build is None else build.state
        build.state = ReleaseBuild.State.BUILDING
        build.save(update_fields=["state"])
    archive = io.BytesIO()
    try:
        # Outside any transaction, so the export reads one snapshot of its own (write_release).
        manifest = write_release_zip(archive, version=build.version or None, with_reviewers=build.with_reviewers,
                                     formats=build.formats)
    except Exception as exc:  # noqa: BLE001 - the build records any failure for the person who asked
        logger.exception("Release build %s failed", build_id)
        build.state = ReleaseBuild.State.FAILED
        build.error = f"{type(exc).__name__}: {exc}"[:1000]
        build.finished_at = timezone.now()
        build.save(update_fields=["state", "error", "finished_at"])
        return build.state
    build.state = ReleaseBuild.State.READY
    build.archive = archive.getvalue()
    build.filename = f"rolebook-release-{manifest['version']}.zip"
    build.finished_at = timezone.now()
    build.save(update_fields=["state", "archive", "filename", "finished_at"])
    return build.state


def ready_archive(build_id, user) -> ReleaseBuild | None:
    """The user's ready build `build_id` with its archive (superusers: anyone's), or None."""
    builds = ReleaseBuild.objects.filter(pk=build_id, state=ReleaseBuild.State.READY)
    if not user.is_superuser:
        builds = builds.filter(requested_by=user)
    return builds.first()
