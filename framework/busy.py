"""A 503 "busy, retry" instead of a 500 when the database stays locked past its timeout.

SQLite has one writer at a time. A long write (a large card import, the demo generator) makes
every other writer wait `timeout` seconds and then fail with "database is locked": that is not a
fault of the request, and the person should try again, not see an error page.
"""

from __future__ import annotations

import json

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse

RETRY_AFTER_SECONDS = 5
MESSAGE = ("Rolebook is busy with a long write (an import or the demo generator): nothing was changed. "
           "Try again in a few seconds.")


def is_locked(exc: BaseException) -> bool:
    """Whether `exc` is the database saying it is locked by another writer (SQLite)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def busy_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: problem+json for clients that ask for JSON, a short page otherwise."""
    if "json" in request.headers.get("Accept", ""):
        body = json.dumps({"type": "about:blank", "title": "Service busy", "status": 503, "detail": MESSAGE})
        response = HttpResponse(body, status=503, content_type="application/problem+json")
    else:
        response = HttpResponse(f"<!doctype html><html lang=\"en\"><title>Busy</title><p>{MESSAGE}</p></html>",
                                status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class BusyDatabaseMiddleware:
    """Turn "database is locked" into 503 "busy, retry", wherever in the request it is raised."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except OperationalError as exc:
            if is_locked(exc):
                return busy_response(request)
            raise

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return busy_response(request) if is_locked(exception) else None
