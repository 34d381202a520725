"""Rate limits through DRF's throttles, with rates read from settings at each request.

ROLEBOOK_API_THROTTLE_RATES sets them ("100/minute"; None turns one off): "anon" per client
address, "user" per user, "suggest" per user for the SOC coder. Counts live in Django's cache:
with several server processes configure a shared cache (CACHES) so they count together.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import throttling


class _SettingsRate:
    def get_rate(self) -> str | None:
        return settings.ROLEBOOK_API_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_SettingsRate, throttling.AnonRateThrottle):
    """Requests without credentials, per client address."""

    scope = "anon"


class UserThrottle(_SettingsRate, throttling.UserRateThrottle):
    """Authenticated requests, per user."""

    scope = "user"


class SuggestThrottle(_SettingsRate, throttling.UserRateThrottle):
    """The SOC coder, per user: each call ranks 867 codes."""

    scope = "suggest"
