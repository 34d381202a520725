"""Following a `next` address: only to a path on this site, else to the view's own default.

`redirect(value)` looks a bare string up as a URL name first ("-1" is a NoReverseMatch, a 500)
and follows any absolute URL (an open redirect). A `next` is followed here only when it is a
local path: one leading "/", no scheme or host, no control character (browsers drop tabs and
newlines, so "/\\t/evil.example" would become "//evil.example"), of a sane length, and accepted by
Django's `url_has_allowed_host_and_scheme()`.
"""

from __future__ import annotations

import unicodedata

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

MAX_NEXT_LENGTH = 2048


def is_local_path(url: object, request: HttpRequest | None = None) -> bool:
    """Whether `url` is a path on this site that a redirect may follow (see the module docstring)."""
    if not isinstance(url, str) or not url or len(url) > MAX_NEXT_LENGTH:
        return False
    if not url.startswith("/") or url.startswith(("//", "/\\")):
        return False
    if any(unicodedata.category(char)[0] == "C" for char in url):
        return False
    hosts = {request.get_host()} if request is not None else None
    secure = request.is_secure() if request is not None else False
    return url_has_allowed_host_and_scheme(url, allowed_hosts=hosts, require_https=secure)


def safe_next(request: HttpRequest | None, url: object, default: str) -> str:
    """`url` when it is a local path, else `default` (a URL, never a URL name)."""
    return url if is_local_path(url, request) else default  # type: ignore[return-value]


def redirect_next(request: HttpRequest, default: str, *, field: str = "next") -> HttpResponseRedirect:
    """Redirect to the POSTed `field` when it is a local path, else to `default` (a URL)."""
    return HttpResponseRedirect(safe_next(request, request.POST.get(field), default))
