"""HTTP done once for every API view: validators, 304s, caching headers, problem bodies, no transaction.

Every successful GET or HEAD gets:

- ``ETag``: a strong validator, the SHA-256 of the body (release files: of their manifest
  hashes), so equal bodies have equal tags on any server; ``If-None-Match`` with it gives 304.
- ``Last-Modified``: when published data last changed (publishing.published.published_last_modified;
  a release: its creation time). Informative: validation uses the ETag only, since a commit can
  carry an earlier timestamp than one already visible.
- ``Cache-Control``: ``public, max-age=ROLEBOOK_API_CACHE_SECONDS`` for a request without
  credentials on an endpoint that settings open to anonymous use; otherwise ``private, no-cache``
  (a cache keeps it but revalidates each time). Errors: ``no-store``.
- ``Vary: Authorization, Cookie``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date, quote_etag
from rest_framework.response import Response

from publishing.published import published_last_modified

from .problems import MEDIA_TYPE, ProblemJSONRenderer


def body_etag(content: bytes) -> str:
    """A strong ETag for `content`."""
    return quote_etag(hashlib.sha256(content).hexdigest()[:40])


class ApiViewMixin:
    """What every API view shares (see the module docstring); views set `required_scope`."""

    required_scope: str | None = None
    # False: credentials are needed even when settings open the scope to anonymous requests.
    allow_anonymous = True

    @classmethod
    def as_view(cls, *args, **kwargs):
        # Reads need no transaction; under ATOMIC_REQUESTS SQLite would take its write lock for each.
        return transaction.non_atomic_requests(super().as_view(*args, **kwargs))

    def get_last_modified(self) -> datetime | None:
        """When what this view shows last changed (1 query by default)."""
        return published_last_modified()

    def finalize_response(self, request, response, *args, **kwargs):
        is_problem = isinstance(response, Response) and response.status_code >= 400
        if is_problem:
            # Errors are problem details whatever the endpoint renders (a card, a zip).
            request.accepted_renderer = ProblemJSONRenderer()
            request.accepted_media_type = MEDIA_TYPE
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Authorization", "Cookie"))
        if response.status_code == 304:
            return response
        if response.status_code != 200 or request.method not in ("GET", "HEAD"):
            response.headers.setdefault("Cache-Control", "no-store")
            return response
        if not response.has_header("ETag"):
            if response.streaming:
                return response
            if hasattr(response, "render"):
                response.render()
            response["ETag"] = body_etag(response.content)
        if not response.has_header("Last-Modified"):
            last_modified = self.get_last_modified()
            if last_modified is not None:
                response["Last-Modified"] = http_date(last_modified.timestamp())
        response["Cache-Control"] = self.cache_control(request)
        return get_conditional_response(request, etag=response["ETag"], response=response)

    def not_modified(self, request, etag: str, last_modified: datetime | None):
        """A 304 when the client's If-None-Match holds `etag`, else None: check before costly work."""
        probe = HttpResponse()
        probe["ETag"] = etag
        if last_modified is not None:
            probe["Last-Modified"] = http_date(last_modified.timestamp())
        probe["Cache-Control"] = self.cache_control(request)
        answer = get_conditional_response(request, etag=etag, response=probe)
        return answer if answer.status_code == 304 else None

    def cache_control(self, request) -> str:
        """``public`` for an anonymous request that settings allow, else ``private, no-cache``."""
        anonymous = request.auth is None and not request.user.is_authenticated
        if anonymous and self.required_scope in settings.ROLEBOOK_API_ANONYMOUS_SCOPES and self.allow_anonymous:
            return f"public, max-age={settings.ROLEBOOK_API_CACHE_SECONDS}"
        return "private, no-cache"
