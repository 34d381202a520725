"""The "Export approved release" page and its zip download, for reviewers and superusers.

The zip holds the same files as `manage.py export_approved`, written by the same code
(`publishing.releases.write_release_zip`) in a task worker: the page queues a build and shows
it until it is ready (publishing/builds.py). The pages live at /review/release/, next to the
review desk whose reviewers use them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from roles.models import TitleAlias

from . import builds
from .files import CSV, FORMATS, SKOS, ReleaseError
from .formats.fixtures import PARTS, release_counts

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
        "builds": builds.builds_of(request.user)[: builds.KEEP_PER_USER],
    }
    return render(request, "publishing/release.html", context, status=status)


@require_GET
@exporters_only
def release_page(request: HttpRequest) -> HttpResponse:
    """Show what a release would hold now, with the download form."""
    return _page(request)


@exporters_only  # first: a stranger's GET goes to the login page, as on every other page here
@require_POST
def release_build(request: HttpRequest) -> HttpResponse:
    """Queue a release build (publishing.builds); show its page, or the form again with the error (400)."""
    version = request.POST.get("version", "")
    with_reviewers = request.POST.get("with_reviewers") in ("1", "on", "true")
    asked = request.POST.getlist("format")
    try:
        build = builds.request_build(user=request.user, version=version, formats=asked, with_reviewers=with_reviewers)
    except ReleaseError as exc:
        chosen = tuple(name for name in asked if name in FORMATS)
        return _page(request, version=version.strip(), with_reviewers=with_reviewers, error=str(exc), formats=chosen,
                     status=400)
    return redirect("releases:build", build=build.pk)


@require_GET
@exporters_only
def build_page(request: HttpRequest, build) -> HttpResponse:
    """One of the user's builds: waiting, building (the page looks again every few seconds), ready or failed."""
    found = builds.builds_of(request.user, every=request.user.is_superuser).filter(pk=build).first()
    if found is None:
        raise Http404("No such release build of yours.")
    return render(request, "publishing/build.html", {"build": found})


@require_GET
@exporters_only
def build_download(request: HttpRequest, build) -> HttpResponse:
    """The zip of one of the user's ready builds."""
    found = builds.ready_archive(build, request.user)
    if found is None:
        raise Http404("No such release build of yours is ready.")
    response = HttpResponse(bytes(found.archive), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, found.filename)
    return response
