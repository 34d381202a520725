"""Release builds: a zip of the approved data, asked for on the release page and built by a task worker.

A build is a file for one person to download, not curated data: it keeps no history, and its
archive lives in the row, so a worker on another host can build what the web host serves.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ReleaseBuild(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for a worker"
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    # A random key: the build's URL names no other build.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    version = models.CharField(max_length=64, blank=True, help_text="As asked for; empty means 1.0.0.")
    formats = models.JSONField(default=list, help_text="Formats beside the fixtures, e.g. [\"csv\", \"skos\"].")
    with_reviewers = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    filename = models.CharField(max_length=200, blank=True)
    archive = models.BinaryField(null=True, editable=False)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["requested_by", "-requested_at"], name="releasebuild_by_user")]

    def __str__(self) -> str:
        return f"{self.filename or 'release build'} ({self.get_state_display().lower()})"

    @property
    def pending(self) -> bool:
        return self.state in (self.State.WAITING, self.State.BUILDING)
