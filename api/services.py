"""Writes on API tokens: create one (the secret is returned once, never stored) and revoke one."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .models import ApiToken, hash_key

logger = logging.getLogger(__name__)
# last_used_at is written at most this often per token, so reads do not each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class TokenError(Exception):
    """A token cannot be created or revoked; the message says why and what to do."""


def create_token(*, user: Any, name: str, scopes: Iterable[str]) -> tuple[ApiToken, str]:
    """Create a token for `user` with `scopes`; return it and its secret, shown once and never stored.

    Raises TokenError for an inactive user, an empty name, no or unknown scopes, or when the user
    already holds ROLEBOOK_API_MAX_TOKENS active tokens.
    """
    name = " ".join((name or "").split())
    wanted = set(scopes)
    known = set(ApiToken.Scope.values)
    if user is None or not user.is_active:
        raise TokenError("Only an active user can hold API tokens.")
    if not name:
        raise TokenError("Give the token a name that says what it is for.")
    if not wanted:
        raise TokenError("Choose at least one scope: read approved data, download releases, or both.")
    if wanted - known:
        raise TokenError(f"Unknown scope {', '.join(sorted(wanted - known))}: use {', '.join(sorted(known))}.")
    with transaction.atomic():
        # Lock the owner's row so two concurrent creations cannot both pass the limit.
        get_user_model()._default_manager.select_for_update().filter(pk=user.pk).exists()
        limit = settings.ROLEBOOK_API_MAX_TOKENS
        if ApiToken.objects.owned_by(user).active().count() >= limit:
            raise TokenError(f"You already hold {limit} active tokens: revoke one you no longer use first.")
        key = ApiToken.KEY_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=key[: ApiToken.SHOWN_CHARACTERS],
            key_hash=hash_key(key),
            scope_read=ApiToken.Scope.READ in wanted,
            scope_releases=ApiToken.Scope.RELEASES in wanted,
        )
    logger.info("API token %s (%s) created for user %s", token.pk, token.prefix, user.pk)
    return token, key


def can_revoke_token(user: Any, token: ApiToken) -> bool:
    """Whether `user` may revoke `token`: its owner, or a superuser."""
    return bool(user and user.is_active and (user.pk == token.user_id or user.is_superuser))


def revoke_token(*, token: ApiToken, actor: Any) -> ApiToken:
    """Revoke `token` at once; revoking a revoked token changes nothing. Returns the token.

    Raises TokenError when `actor` is neither the owner nor a superuser.
    """
    if not can_revoke_token(actor, token):
        raise TokenError("Only the token's owner or a superuser can revoke it.")
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            logger.info("API token %s (%s) revoked by user %s", locked.pk, locked.prefix, actor.pk)
    token.revoked_at = locked.revoked_at
    return token


def record_use(token: ApiToken) -> None:
    """Note that `token` was just used, at most once per LAST_USED_RESOLUTION (one UPDATE, or none)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
