"""Login protection (django-axes) and the Content-Security-Policy's exceptions.

The client's address: behind N trusted proxies (`ROLEBOOK_NUM_PROXIES`), the N-th address from
the right of `X-Forwarded-For`, the one the outermost trusted proxy saw; with none, the socket's
address. Addresses a client wrote itself further left are never believed, so nobody escapes a
lockout by sending a header. DRF's throttles count by the same rule (NUM_PROXIES).
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def client_ip(request: HttpRequest) -> str | None:
    """The address a lockout counts against (see the module docstring)."""
    proxies = settings.ROLEBOOK_NUM_PROXIES
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The page a locked-out login gets (429): what happened, for how long, and who can unlock it."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "title": "Too many failed logins",
        "site_header": settings.ROLEBOOK_SITE_HEADER,
        "site_title": settings.ROLEBOOK_SITE_HEADER,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": minutes,
    }
    return TemplateResponse(request, "registration/locked_out.html", context, status=429).render()


# Views whose pages are a library's and carry inline styles they need (Redoc's styled-components,
# which also starts a web worker from a blob): style-src relaxed there, scripts still by nonce.
RELAXED_STYLE_VIEWS = {"api-v1:redoc"}


class RolebookCSPMiddleware(CSPMiddleware):
    """django-csp's middleware with the few per-view exceptions of RELAXED_STYLE_VIEWS."""

    def get_policy_parts(self, request: HttpRequest, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = getattr(request, "resolver_match", None)
        if not report_only and match is not None and match.view_name in RELAXED_STYLE_VIEWS:
            parts.replace = {
                **(parts.replace or {}),
                "style-src": ["'self'", "'unsafe-inline'"],
                "worker-src": ["'self'", "blob:"],
            }
        return parts
