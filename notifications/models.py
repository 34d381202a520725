"""What Rolebook tells people: notifications (in the header's bell and by email) and each person's choices.

Not curated data: no history. Written only by notifications.services, read through
notifications.selectors.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Event(models.TextChoices):
    """What a notification is about."""

    REJECTED = "rejected", "Your alias or mapping was rejected"
    APPROVED = "approved", "Your alias or mapping was approved"
    DIGEST = "digest", "Daily review digest"
    SETTLED = "settled", "A double-blind sample you reviewed was settled"
    SUGGESTED = "suggested", "SOC suggestions you asked for are ready"


class Notification(models.Model):
    """One event for one person: shown in the bell until read. Its text is written once, when it happens."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=20, choices=Event.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    # A path on this site (the item's page); never an absolute or foreign address.
    url = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The bell: a person's unread count and their newest few.
            models.Index(fields=["recipient", "read_at"], name="notification_unread_idx"),
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} for {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """Which notifications a person gets, and how. Someone without a row gets the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="notification_preference"
    )
    rejected_in_app = models.BooleanField("rejections of my items, in the bell", default=True)
    rejected_email = models.BooleanField("rejections of my items, by email", default=True)
    approved_in_app = models.BooleanField("approvals of my items, in the bell", default=True)
    approved_email = models.BooleanField("approvals of my items, by email", default=False)
    settled_in_app = models.BooleanField(
        "the outcome of double-blind samples I reviewed, in the bell", default=True
    )
    daily_digest = models.BooleanField(
        "a daily digest of the work waiting for review (reviewers), by email and in the bell", default=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification preferences of {self.user_id}"

    def wants(self, event: str, channel: str) -> bool:
        """Whether this person gets `event` ("rejected", "approved") by `channel` ("in_app", "email")."""
        return bool(getattr(self, f"{event}_{channel}", False))


class DigestSent(models.Model):
    """That a person's digest for a day went out: at most one per person per day."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digest_once_per_day")]

    def __str__(self) -> str:
        return f"digest for {self.user_id} on {self.day}"
