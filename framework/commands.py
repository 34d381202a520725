"""A base for management commands that write as a person: `--as USER`, parsed and checked once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from framework.audit import resolve_user


class ActingCommand(BaseCommand):
    """A command whose writes are attributed to `--as USER` (default: the system account).

    With `person_required`, a writing run must name the person behind it: what it creates is
    theirs, and four-eyes keeps them from approving it, which it could not do for the system
    account. A `--dry-run` writes nothing, so it needs no one.
    """

    person_required = False
    as_help = "Act as this user (default: the system user)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as", dest="username", metavar="USERNAME", help=self.as_help)

    def acting_user(self, username: str | None, *, dry_run: bool = False) -> Any:
        """Return the active user named by `--as`, or the system user; raises CommandError."""
        if not username and self.person_required and not dry_run:
            raise CommandError(
                "--as USERNAME is required: name the person running this command. What it creates is "
                "theirs, so four-eyes keeps them from approving it."
            )
        try:
            return resolve_user(username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"--as {username}: no active user has that name.") from exc
