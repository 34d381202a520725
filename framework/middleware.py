"""Request guards that hold for every view, ours and the admin's alike."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

NUL_MESSAGE = "The request holds a NUL character (%00), which no Rolebook field accepts."
# (path prefix, responder): an app that answers errors in its own format registers here.
_nul_responders: list[tuple[str, Callable[[HttpRequest, str], HttpResponse]]] = []


def respond_to_nul_bytes(prefix: str, responder: Callable[[HttpRequest, str], HttpResponse]) -> None:
    """Answer the 400 for NUL bytes under `prefix` with `responder(request, message)` (from an AppConfig.ready)."""
    if (prefix, responder) not in _nul_responders:
        _nul_responders.append((prefix, responder))


class RejectNulBytesMiddleware:
    """Answer 400 to a request whose path, query or form fields hold a NUL byte.

    PostgreSQL refuses NUL in text ("A string literal cannot contain NUL"), so a `%00` in any
    filter or search would otherwise surface as a 500 from deep inside a query. No field of
    Rolebook's data holds one. Uploaded files are not form fields and are checked by their
    own parsers (a card with a control character is refused with its line). Values that decode
    to a NUL (cursors) are checked where they are decoded. The answer is plain text, or the
    format an app registered for its paths with `respond_to_nul_bytes`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or self._has_nul(request.GET) or (
            request.method == "POST" and self._has_nul(request.POST)
        ):
            for prefix, responder in _nul_responders:
                if request.path.startswith(prefix):
                    return responder(request, NUL_MESSAGE)
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _has_nul(data) -> bool:
        return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())
