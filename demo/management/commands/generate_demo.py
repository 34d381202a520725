"""Build the demo data set at O*NET scale: `manage.py generate_demo --roles 1016 --seed 42`.

The same seed on the same starting database gives the same data. A database holds one demo
data set: a second run stops with an error and writes nothing (flush the database first).
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.generator import DemoError, generate_demo
from framework.audit import resolve_user


class Command(BaseCommand):
    help = (
        "Generate a realistic, reproducible demo data set (roles, components, aliases, mappings "
        "with history) for benchmarks and demos."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--roles", type=int, default=1016, help="Number of roles (default 1,016).")
        parser.add_argument(
            "--aliases-per-role", type=int, default=55, help="Title aliases per role (default 55)."
        )
        parser.add_argument(
            "--components-per-role", type=int, default=40, help="Components per role (default 40)."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--approve-fraction",
            type=float,
            default=0.0,
            help="Share of aliases and mappings approved by demo-reviewer, 0 to 1 (default 0).",
        )
        parser.add_argument(
            "--as", dest="username", default=None, help="Act as this user (default: the system user)."
        )

    def handle(
        self,
        *args,
        roles: int,
        aliases_per_role: int,
        components_per_role: int,
        seed: int,
        approve_fraction: float,
        username: str | None,
        **options,
    ) -> None:
        for flag, value in (
            ("--roles", roles),
            ("--aliases-per-role", aliases_per_role),
            ("--components-per-role", components_per_role),
        ):
            if value < 0:
                raise CommandError(f"{flag} must be 0 or more (got {value}).")
        if not 0.0 <= approve_fraction <= 1.0:
            raise CommandError(f"--approve-fraction must be between 0 and 1 (got {approve_fraction}).")
        try:
            actor = resolve_user(username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"--as: no active user named {username!r}.") from exc

        started = time.perf_counter()
        try:
            summary = generate_demo(
                roles=roles,
                aliases_per_role=aliases_per_role,
                components_per_role=components_per_role,
                seed=seed,
                actor=actor,
                approve_fraction=approve_fraction,
                stdout=self.stdout,
            )
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write(f"Generated {summary} as {actor.get_username()} in {elapsed:.1f} s.")
