"""The "Export approved release" page and its zip download, for reviewers and superusers.

The zip holds the same files as `manage.py export_approved`, written by the same code
(`publishing.releases.write_release_zip`). The pages live at /review/release/, next to the
review desk whose reviewers use them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from roles.models import TitleAlias

from .files import CSV, FORMATS, SEMVER_RE, SKOS, ReleaseError, release_formats
from .formats.fixtures import PARTS, release_counts
from .releases import write_release_zip

FORMAT_LABELS = {CSV: "CSV (roles, aliases, mappings, components)", SKOS: "SKOS (Turtle)"}
# Exporting is part of reviewing: whoever may decide on aliases may export what was approved.
EXPORT_PERMISSION = TitleAlias.REVIEW_PERMISSION


def can_export_release(user) -> bool:
    """Return True for reviewers (permission roles.review_alias) and superusers."""
    return bool(user and user.is_active and (user.is_superuser or user.has_perm(EXPORT_PERMISSION)))


def exporters_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send anonymous users to the login page; refuse users who are not reviewers (403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_export_release(request.user):
            raise PermissionDenied("Exporting a release needs the review permission (roles.review_alias).")
        return view(request, *args, **kwargs)

    return wrapped


def _page(request: HttpRequest, *, version: str = "", with_reviewers: bool = False, error: str = "",
          formats: tuple[str, ...] = FORMATS, status: int = 200) -> HttpResponse:
    counts = release_counts()
    rows = [
        {
            "name": part.model._meta.verbose_name_plural,
            "file": part.filename,
            "count": counts[part.label],
            "filtered": part.label in ("roles.titlealias", "roles.classificationmapping"),
        }
        for part in PARTS
    ]
    context = {
        "rows": rows,
        "total": sum(counts.values()),
        "version": version,
        "with_reviewers": with_reviewers,
        "error": error,
        "format_choices": [(name, label, name in formats) for name, label in FORMAT_LABELS.items()],
    }
    return render(request, "publishing/release.html", context, status=status)


@require_GET
@exporters_only
def release_page(request: HttpRequest) -> HttpResponse:
    """Show what a release would hold now, with the download form."""
    return _page(request)


# The export is outermost in its own transaction, so on PostgreSQL it reads one snapshot.
@transaction.non_atomic_requests
@require_GET
@exporters_only
def release_download(request: HttpRequest) -> HttpResponse:
    """Return the release as a zip; an invalid version re-shows the page with the error (400)."""
    version = request.GET.get("version", "").strip()
    with_reviewers = request.GET.get("with_reviewers") in ("1", "on", "true")
    # Fixtures are always written; without a `format` parameter (an old link) the zip holds every format.
    asked = request.GET.getlist("format")
    try:
        formats = release_formats(asked or None)
    except ReleaseError as exc:
        return _page(request, version=version, with_reviewers=with_reviewers, error=str(exc), status=400)
    if version and not SEMVER_RE.match(version):
        error = f"“{version}” is not a semantic version such as 1.2.0."
        return _page(request, version=version, with_reviewers=with_reviewers, error=error, formats=formats,
                     status=400)
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once sent
    manifest = write_release_zip(archive, version=version or None, with_reviewers=with_reviewers, formats=formats)
    archive.seek(0)
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"rolebook-release-{manifest['version']}.zip",
        content_type="application/zip",
    )
