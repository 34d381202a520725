"""Template context every page gets: the admin's chrome (header, user tools) for the site's own pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    """What the admin's base template reads, for pages that are not the admin's own (no queries).

    The admin's views pass their own values, which take precedence over these.
    """
    user = getattr(request, "user", None)
    return {
        "site_header": settings.ROLEBOOK_SITE_HEADER,
        "site_title": settings.ROLEBOOK_SITE_HEADER,
        "site_url": None,
        "has_permission": bool(user is not None and user.is_active and user.is_staff),
        "is_nav_sidebar_enabled": False,
        "is_popup": False,
    }
