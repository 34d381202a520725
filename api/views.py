"""The read-only REST API, version 1: roles, role cards, official codes, releases and the SOC coder.

Every endpoint serves published data only (publishing.published: approved aliases and mappings).
Access, validators, caching headers and error bodies are the same everywhere (api.http).
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime

from django.http import FileResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from publishing.files import FIXTURES, FORMATS, MANIFEST, REVIEWERS, ReleaseError
from publishing.published import published_card
from publishing.releases import files_of_format, zip_files
from publishing.store import published_release, published_releases
from roles.models import Role
from taxonomy.coder import CoderQuery, coder_version, suggest
from taxonomy.models import OccupationCode

from . import serializers
from .filters import OccupationCodeFilter, RoleFilter
from .http import ApiViewMixin, body_etag
from .models import ApiToken
from .pagination import CodeCursorPagination, VersionCursorPagination
from .selectors import (
    attach_published_items,
    occupation_code_detail,
    occupation_code_list,
    role_detail,
    role_for_card,
    role_list,
)
from .throttling import SuggestThrottle

READ, RELEASES = ApiToken.Scope.READ.value, ApiToken.Scope.RELEASES.value
SEED_ROLE = "AIMLAM.GEN.P1"
ROLE_CODE = OpenApiParameter(
    "code",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The role's code, FAMILY.SPECIALIZATION.LEVEL.",
    examples=[OpenApiExample("The reference card's role", value=SEED_ROLE)],
)
DOWNLOAD_FORMATS = ("all", *FORMATS)


class PlainTextRenderer(renderers.BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return data.encode(self.charset) if isinstance(data, str) else bytes(data)


class ZipRenderer(renderers.BaseRenderer):
    """Lets a client that accepts only zip files ask for a download (the view sends the file itself)."""

    media_type = "application/zip"
    format = "zip"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return bytes(data or b"")


class TurtleRenderer(ZipRenderer):
    media_type = "text/turtle"
    format = "ttl"


class ApiViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """A read-only resource of the API."""


# ---------------------------------------------------------------------------------------------
# Roles


class RoleViewSet(ApiViewSet):
    """Published roles, each with its approved aliases and approved mappings."""

    required_scope = READ
    lookup_field = "code"
    filter_backends = [DjangoFilterBackend]
    filterset_class = RoleFilter
    pagination_class = CodeCursorPagination
    serializer_class = serializers.RoleSerializer

    def get_queryset(self):
        return role_list()

    def _role(self, code: str) -> Role:
        try:
            return role_detail(code)
        except Role.DoesNotExist:
            raise NotFound(f"No role has the code {code!r}.") from None

    @extend_schema(
        summary="List roles",
        description="Roles in code order, a page at a time, with their approved aliases and approved mappings.",
    )
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        attach_published_items(page)
        data = serializers.RoleSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(summary="Get a role", parameters=[ROLE_CODE], responses=serializers.RoleDetailSerializer)
    def retrieve(self, request, code: str):
        role = self._role(code)
        response = Response(serializers.RoleDetailSerializer(role, context=self.get_serializer_context()).data)
        successors = [role.replaced_by.code] if role.replaced_by_id else role.split_codes
        if role.deprecated and successors:
            # A deprecated role still answers, and names its successors (RFC 5829): one, or a split's each.
            response["Link"] = ", ".join(
                f'<{serializers.role_url(request, code)}>; rel="successor-version"' for code in successors
            )
        return response

    @extend_schema(
        summary="Get a role's card",
        description=(
            "The role's card as text, in the published card format, holding only approved aliases "
            "and approved mappings."
        ),
        parameters=[ROLE_CODE],
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def card(self, request, code: str):
        try:
            role = role_for_card(code)
        except Role.DoesNotExist:
            raise NotFound(f"No role has the code {code!r}.") from None
        return Response(published_card(role), content_type="text/plain; charset=utf-8")

    def get_renderers(self):
        if self.action == "card":
            return [PlainTextRenderer()]
        return super().get_renderers()


# ---------------------------------------------------------------------------------------------
# Official codes


class OccupationCodeViewSet(ApiViewSet):
    """The official SOC 2018 and O*NET-SOC 2019 codes, with their hierarchy (public reference data)."""

    required_scope = READ
    lookup_field = "code"
    filter_backends = [DjangoFilterBackend]
    filterset_class = OccupationCodeFilter
    pagination_class = CodeCursorPagination
    serializer_class = serializers.OccupationCodeSerializer

    def get_queryset(self):
        return occupation_code_list()

    @extend_schema(summary="List official codes", description="SOC 2018 and O*NET-SOC 2019 codes in code order.")
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        data = serializers.OccupationCodeSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Get an official code",
        parameters=[
            OpenApiParameter(
                "code",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="A SOC 2018 code (15-2051) or an O*NET-SOC 2019 code (15-2051.01).",
                examples=[OpenApiExample("Data Scientists", value="15-2051")],
            )
        ],
        responses=serializers.OccupationCodeDetailSerializer,
    )
    def retrieve(self, request, code: str):
        try:
            occupation = occupation_code_detail(code)
        except OccupationCode.DoesNotExist:
            raise NotFound(f"No official code {code!r}.") from None
        context = self.get_serializer_context()
        return Response(serializers.OccupationCodeDetailSerializer(occupation, context=context).data)


# ---------------------------------------------------------------------------------------------
# Releases

VERSION = OpenApiParameter(
    "version",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="A published release's semantic version, e.g. 1.2.0.",
    examples=[OpenApiExample("The first release", value="1.0.0")],
)


def _created(manifest: dict) -> datetime | None:
    value = manifest.get("created_at")
    return parse_datetime(value) if isinstance(value, str) else None


class ReleaseViewSet(ApiViewSet):
    """Published releases (``export_approved --publish``): their manifests and their files."""

    required_scope = RELEASES
    serializer_class = serializers.ReleaseSerializer
    pagination_class = VersionCursorPagination

    def get_last_modified(self) -> datetime | None:
        releases = published_releases()
        return max((_created(m) for _, m in releases if _created(m)), default=None)

    def _release(self, version: str) -> tuple:
        try:
            return published_release(version)
        except ReleaseError as exc:
            raise NotFound(str(exc)) from None

    def _summary(self, manifest: dict) -> dict:
        version = manifest["version"]
        request = self.request
        formats = manifest.get("formats") or [FIXTURES]
        downloads = {
            fmt: request.build_absolute_uri(reverse("api-v1:release-download", args=[version, fmt]))
            for fmt in ("all", *formats)
        }
        return {
            "version": version,
            "created_at": manifest.get("created_at"),
            "since": manifest.get("since"),
            "format": manifest.get("format"),
            "formats": list(formats),
            "counts": manifest.get("counts") or {},
            "url": request.build_absolute_uri(reverse("api-v1:release-detail", args=[version])),
            "downloads": downloads,
        }

    @extend_schema(summary="List published releases", description="Newest version first.")
    def list(self, request):
        paginator = self.paginator
        page = paginator.paginate(published_releases(), lambda pair: pair[1]["version"], request)
        return paginator.get_paginated_response([self._summary(manifest) for _, manifest in page])

    @extend_schema(
        summary="Get a release's manifest", parameters=[VERSION], responses=serializers.ReleaseDetailSerializer
    )
    def retrieve(self, request, version: str):
        _path, manifest = self._release(version)
        sha256 = {k: v for k, v in (manifest.get("sha256") or {}).items() if k != REVIEWERS}
        data = {
            **self._summary(manifest),
            "files": manifest.get("files") or {},
            "load_order": manifest.get("load_order") or [],
            "loaddata": manifest.get("loaddata", ""),
            "sha256": sha256,
            "with_reviewers": False,
        }
        return Response(data)

    @extend_schema(
        summary="Download a release's files",
        description=(
            "fixtures, csv and all: a zip of the format's files with manifest.json (and CHANGES.md when the "
            "release has one), in a folder rolebook-release-<version>/; skos: the Turtle file itself."
        ),
        parameters=[
            VERSION,
            OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=[*DOWNLOAD_FORMATS]),
        ],
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="A zip archive."),
            (200, "text/turtle"): OpenApiResponse(OpenApiTypes.STR, description="SKOS in Turtle."),
        },
    )
    def download(self, request, version: str, fmt: str):
        path, manifest = self._release(version)
        formats = manifest.get("formats") or [FIXTURES]
        if fmt not in DOWNLOAD_FORMATS:
            raise NotFound(f"No format {fmt!r}: choose from {', '.join(DOWNLOAD_FORMATS)}.")
        if fmt != "all" and fmt not in formats:
            raise NotFound(f"Release {version} holds no {fmt} files.")
        hashes = manifest.get("sha256") or {}
        if fmt == "all":
            names = sorted(name for name in hashes if name != REVIEWERS)
        else:
            names = files_of_format(manifest, fmt)
            if fmt != "skos":
                names += [name for name in sorted(hashes) if name == "CHANGES.md"]
        # The files' hashes are in the manifest: a 304 costs no read of them.
        tag_source = f"{fmt}\n" + "\n".join(f"{name} {hashes.get(name, '')}" for name in names)
        if fmt != "skos":
            tag_source += "\n" + hashlib.sha256((path / MANIFEST).read_bytes()).hexdigest()
        etag = body_etag(tag_source.encode("utf-8"))
        created = _created(manifest)
        cached = self.not_modified(request, etag, created)
        if cached is not None:
            return cached
        if fmt == "skos":
            response = FileResponse(
                open(path / names[0], "rb"),  # noqa: SIM115 - FileResponse closes it
                content_type="text/turtle; charset=utf-8",
                as_attachment=True,
                filename=f"rolebook-{version}.ttl",
            )
        else:
            archive = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - FileResponse closes it
            zip_files(archive, path, [*names, MANIFEST], f"rolebook-release-{version}")
            archive.seek(0)
            suffix = "" if fmt == "all" else f"-{fmt}"
            response = FileResponse(
                archive,
                content_type="application/zip",
                as_attachment=True,
                filename=f"rolebook-release-{version}{suffix}.zip",
            )
        response["ETag"] = etag
        return response

    def get_renderers(self):
        if self.action == "download":
            return [ZipRenderer(), TurtleRenderer()]
        return super().get_renderers()


# ---------------------------------------------------------------------------------------------
# SOC coder


class SuggestView(ApiViewMixin, APIView):
    """The SOC coder: the detailed SOC 2018 codes that best fit a title (and, optionally, more text)."""

    required_scope = READ
    allow_anonymous = False

    def get_throttles(self):
        return [*super().get_throttles(), SuggestThrottle()]

    @extend_schema(
        summary="Suggest SOC codes",
        description=(
            "Ranks the 867 detailed SOC 2018 codes for a title, other titles, component sentences and a story. "
            "Needs credentials even where anonymous reading is open; throttled per user."
        ),
        request=serializers.SuggestRequestSerializer,
        responses=serializers.SuggestResponseSerializer,
        examples=[
            OpenApiExample("A title", value={"title": "Data Engineer", "k": 3}, request_only=True),
        ],
    )
    def post(self, request):
        query = serializers.SuggestRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        found = suggest(
            CoderQuery(
                title=data["title"],
                aliases=tuple(data["aliases"]),
                components=tuple(data["components"]),
                story=data["story"],
            ),
            k=data["k"],
        )
        return Response(
            {
                "coder_version": coder_version(),
                "suggestions": [
                    {"code": s.code, "title": s.title, "score": round(float(s.score), 4), "evidence": list(s.evidence)}
                    for s in found
                ],
            }
        )


# ---------------------------------------------------------------------------------------------
# Anything else under /api/v1/


class NotFoundView(ApiViewMixin, APIView):
    """Every other address under /api/v1/: a 404 problem, whoever asks."""

    schema = None  # not an endpoint: left out of the OpenAPI schema
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []

    def initial(self, request, *args, **kwargs):
        raise NotFound(f"Nothing at {request.path}: see /api/v1/docs for the endpoints.")
