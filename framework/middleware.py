"""Request guards that hold for every view, ours and the admin's alike."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RejectNulBytesMiddleware:
    """Answer 400 to a request whose path, query or form fields hold a NUL byte.

    PostgreSQL refuses NUL in text ("A string literal cannot contain NUL"), so a `%00` in any
    filter or search would otherwise surface as a 500 from deep inside a query. No field of
    Rolebook's data holds one. Uploaded files are not form fields and are checked by their
    own parsers (a card with a control character is refused with its line).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or self._has_nul(request.GET) or (
            request.method == "POST" and self._has_nul(request.POST)
        ):
            message = "The request holds a NUL character (%00), which no Rolebook field accepts."
            if request.path.startswith("/api/"):
                # The API answers every error as problem details, this one too.
                from api.problems import problem_response

                return problem_response(request, 400, message, code="nul_character")
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _has_nul(data) -> bool:
        return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())
