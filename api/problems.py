"""Error bodies as RFC 9457 problem details (``application/problem+json``), for every API error.

    {"type": "/api/problems/insufficient-scope", "title": "Insufficient scope", "status": 403,
     "detail": "This needs the “releases” scope: …", "instance": "/api/v1/releases", "code": "insufficient_scope"}

``type`` is a URI reference: ``about:blank`` where the status code says it all (404, 405, 406…),
else a page under /api/problems/ that explains the problem. ``code`` is a stable machine-readable
name (DRF's error code); validation problems add ``errors``: {field: [messages]}.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
# Problems with a meaning beyond their status code: code → (slug, title, explanation).
PROBLEM_TYPES = {
    "not_authenticated": (
        "not-authenticated",
        "Credentials required",
        "The endpoint needs a personal API token (Authorization: Bearer rb_…) or a logged-in session. "
        "Make a token on /api/tokens/.",
    ),
    "authentication_failed": (
        "authentication-failed",
        "Invalid credentials",
        "The token sent is unknown, malformed or revoked, or its user is inactive. Make a new token on /api/tokens/.",
    ),
    "insufficient_scope": (
        "insufficient-scope",
        "Insufficient scope",
        "The token does not hold the scope the endpoint needs (read: approved data; releases: release "
        "downloads). Make a token with that scope.",
    ),
    "permission_denied": ("forbidden", "Forbidden", "The request is not allowed for these credentials."),
    "throttled": (
        "throttled",
        "Too many requests",
        "The client made more requests than its rate allows. Wait the number of seconds in Retry-After.",
    ),
    "invalid": (
        "invalid-request",
        "Invalid request",
        "A parameter or a field of the body is not valid; `errors` names each one with what is wrong.",
    ),
    "parse_error": ("malformed-request", "Malformed request", "The request body could not be parsed."),
}


class ProblemJSONRenderer(JSONRenderer):
    """Renders problem details with their own media type."""

    media_type = MEDIA_TYPE
    format = "problem+json"
    charset = None


def problem(status: int, detail: str, *, code: str = "", instance: str = "", errors: dict | None = None) -> dict:
    """Return a problem details object for `status` (see the module docstring)."""
    slug, title, _ = PROBLEM_TYPES.get(code, (None, None, None))
    body = {
        "type": f"/api/problems/{slug}" if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if code:
        body["code"] = code
    if errors is not None:
        body["errors"] = errors
    return body


def _flatten(detail) -> dict[str, list[str]]:
    """DRF's nested error details as {field: [messages]} (dotted paths for nested fields)."""
    if isinstance(detail, dict):
        result: dict[str, list[str]] = {}
        for key, value in detail.items():
            for sub, messages in _flatten(value).items():
                result[f"{key}.{sub}" if sub else str(key)] = messages
        return result
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {"": [str(item) for item in detail]}
        result = {}
        for index, item in enumerate(detail):
            for sub, messages in _flatten(item).items():
                result[f"{index}.{sub}" if sub else str(index)] = messages
        return result
    return {"": [str(detail)]}


def problem_exception_handler(exc, context) -> Response:
    """DRF's EXCEPTION_HANDLER: every error as problem details, unexpected ones as a logged 500.

    Unlike DRF's own handler it marks no transaction for rollback: API views run without one
    (api.http), and the one they would find is a caller's, such as a test's.
    """
    request = context.get("request")
    instance = request.path if request is not None else ""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if not isinstance(exc, exceptions.APIException):
        # A bug: tell the client plainly, log it, and let Django's handlers and the test client see it.
        logger.error("Unhandled API error on %s", instance, exc_info=exc)
        got_request_exception.send(sender=None, request=getattr(request, "_request", None))
        body = problem(500, "The server failed to answer this request; the error is logged.", instance=instance)
        return Response(body, status=500, content_type=MEDIA_TYPE)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        errors = {(k or "non_field_errors"): v for k, v in _flatten(exc.detail).items()}
        detail = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        body = problem(exc.status_code, detail, code="invalid", instance=instance, errors=errors)
    else:
        detail = exc.detail
        code = getattr(detail, "code", "") or exc.default_code
        if isinstance(detail, dict | list):
            detail = "; ".join(" ".join(m) for m in _flatten(detail).values())
        body = problem(exc.status_code, str(detail), code=str(code), instance=instance)
        if code == "insufficient_scope" and request is not None and request.auth is not None:
            scope = getattr(context.get("view"), "required_scope", "")
            headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{scope}"'
    return Response(body, status=exc.status_code, headers=headers, content_type=MEDIA_TYPE)


def problem_response(request: HttpRequest, status: int, detail: str, *, code: str = "") -> HttpResponse:
    """A plain Django response holding problem details, for views outside DRF."""
    import json

    body = problem(status, detail, code=code, instance=request.path)
    return HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=MEDIA_TYPE)


def nul_problem(request: HttpRequest, message: str) -> HttpResponse:
    """The NUL guard's 400 (framework.middleware) as problem details."""
    return problem_response(request, 400, message, code="nul_character")


def describe(slug: str) -> tuple[str, str] | None:
    """Return (title, explanation) of the problem type `slug`, or None when there is no such type."""
    for type_slug, title, explanation in PROBLEM_TYPES.values():
        if type_slug == slug:
            return title, explanation
    return None
