"""One log line per request, and a request id that follows it through the logs and back to the client.

A proxy's `X-Request-ID` is kept when it looks like an id (1–64 letters, digits, `-`, `_`,
`.`, `:`); anything else (too long, spaces, control characters that could forge log lines)
is replaced by a new random id. The id is returned in the response's `X-Request-ID` header.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.http import HttpRequest, HttpResponse

from .logging import request_id_var

logger = logging.getLogger("rolebook.request")

REQUEST_ID_HEADER = "X-Request-ID"
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(request: HttpRequest) -> str:
    """The incoming id when it is well-formed, else a new one (32 hex digits)."""
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    if VALID_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Give each request an id, log one JSON line when it ends, and return the id in `X-Request-ID`.

    The line holds method, path, status, duration in ms, user id (None when anonymous) and the
    request id. First in MIDDLEWARE, so redirects and refusals by later middleware are logged too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        start = time.perf_counter()
        response = None
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            duration_ms = round((time.perf_counter() - start) * 1000, 1)
            user = getattr(request, "user", None)
            user_id = user.pk if user is not None and user.is_authenticated else None
            status = response.status_code if response is not None else 500
            level = logging.ERROR if status >= 500 else logging.INFO
            logger.log(
                level,
                "%s %s %s %.1fms",
                request.method,
                request.path,
                status,
                duration_ms,
                extra={
                    "request_id": request_id,
                    "user_id": user_id,
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
            request_id_var.reset(id_token)

