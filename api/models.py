"""Personal API tokens: created and revoked by their owner, stored as a SHA-256 hash only."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def hash_key(key: str) -> str:
    """The stored form of a token's secret: its SHA-256, hex (the secret is 256 random bits)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        """Return tokens that are not revoked."""
        return self.filter(revoked_at__isnull=True)

    def owned_by(self, user) -> ApiTokenQuerySet:
        """Return `user`'s own tokens."""
        return self.filter(user=user)

    def with_related(self) -> ApiTokenQuerySet:
        """Join the owner: what authentication and the admin list read."""
        return self.select_related("user")


class ApiToken(models.Model):
    """A personal token for the REST API: whose it is, what it may do, and whether it still works."""

    class Scope(models.TextChoices):
        READ = "read", "Read approved data (roles, cards, occupation codes, the SOC coder)"
        RELEASES = "releases", "Download releases"

    # The prefix every secret starts with, so scanners and people recognise a Rolebook token.
    KEY_PREFIX = "rb_"
    # Characters of the secret kept in clear to tell tokens apart ("rb_Xq3…").
    SHOWN_CHARACTERS = 10

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “search indexer”.")
    prefix = models.CharField(max_length=16, editable=False, help_text="The secret's first characters.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scope_read = models.BooleanField("read approved data", default=True)
    scope_releases = models.BooleanField("download releases", default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(condition=Q(scope_read=True) | Q(scope_releases=True), name="api_token_has_scope"),
        ]
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_token_owner_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes this token grants (none once revoked)."""
        if self.revoked_at is not None:
            return frozenset()
        granted = {self.Scope.READ: self.scope_read, self.Scope.RELEASES: self.scope_releases}
        return frozenset(str(scope) for scope, on in granted.items() if on)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
