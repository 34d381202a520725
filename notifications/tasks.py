"""The notifications app's jobs on the task queue (framework/tasks.py)."""

from __future__ import annotations

from django_tasks import task


@task()
def send_event_email(address: str, username: str, event: str, lines: list[list[str]]) -> None:
    """Email one person every item of one batch: `lines` are [title, body, url] (JSON, as jobs are stored)."""
    from . import services

    services.event_email(address, username, event, [services._Line(*line) for line in lines])
