"""How API requests authenticate: a personal token as ``Authorization: Bearer rb_…``.

A logged-in Rolebook session works too (DRF's SessionAuthentication, CSRF checked on POST).
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from .selectors import token_for_key
from .services import record_use

REALM = "Rolebook API"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` with a personal API token (RFC 6750).

    An unknown, malformed or revoked token, or the token of an inactive user, is refused with 401
    and a reason; a request without the header is anonymous (and may still use a session).
    """

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as “Authorization: Bearer <token>”, one word.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        token = token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("The token is not valid.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("The token was revoked: make a new one on /api/tokens/.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        record_use(token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'

