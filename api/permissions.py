"""Who may call an endpoint: each view names the scope it needs; api_scopes() decides."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .selectors import api_scopes


def request_scopes(request, view) -> frozenset[str]:
    """The scopes `request` holds for `view` (see api.selectors.api_scopes)."""
    return api_scopes(request.user, request.auth, allow_anonymous=getattr(view, "allow_anonymous", True))


class HasScope(BasePermission):
    """Allow a request holding the view's `required_scope`; a view that names none is closed to all.

    Without credentials the request is refused with 401; with credentials lacking the scope,
    with 403 and the code "insufficient_scope".
    """

    code = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        scope = getattr(view, "required_scope", None)
        if scope is None:
            self.message = "This endpoint is closed."
            return False
        if scope in request_scopes(request, view):
            return True
        self.message = f"This needs the “{scope}” scope: make a token with it on /api/tokens/."
        return False
