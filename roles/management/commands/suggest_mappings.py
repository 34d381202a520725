"""`manage.py suggest_mappings [--roles CODES | --all] [--min-score S] [--dry-run] [--as USER]`.

Gives each chosen role that has no detailed SOC mapping a "suggested" mapping to the SOC coder's
best code. Suggested mappings wait in needs_review like any other; the person named by `--as`
(required unless `--dry-run`) is their author, so another person approves them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from framework.commands import ActingCommand
from roles.models import Role
from roles.soc import suggest_mappings


def score(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(value)
    return number


class Command(ActingCommand):
    help = "Create SOC coder suggestions as mappings that need review, for roles without a detailed mapping."

    person_required = True
    as_help = "The person the suggestions are created by (required unless --dry-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--roles", metavar="CODES", help="Comma-separated role codes, e.g. AIMLAM.GEN.P1.")
        which.add_argument("--all", action="store_true", help="Every role without a detailed mapping.")
        parser.add_argument("--min-score", type=score, default=0.0, metavar="S",
                            help="Only suggest when the coder's best score is at least S (0 to 1).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be suggested; write nothing.")

    def handle(self, *args: Any, roles: str | None, all: bool, min_score: float, dry_run: bool,
               username: str | None, **options: Any) -> None:
        actor = self.acting_user(username, dry_run=dry_run)
        if all:
            chosen = list(Role.objects.order_by("code"))
        else:
            codes = [c.strip().upper() for c in roles.split(",") if c.strip()]
            if not codes:
                raise CommandError("--roles: give at least one role code.")
            chosen = list(Role.objects.filter(code__in=codes).order_by("code"))
            unknown = sorted(set(codes) - {r.code for r in chosen})
            if unknown:
                raise CommandError(f"--roles: no role has the code {', '.join(unknown)}.")
        result = suggest_mappings(roles=chosen, actor=actor, min_score=min_score, dry_run=dry_run)
        for mapping in result.created:
            self.stdout.write(f"{mapping.role.code}: {mapping.code} {mapping.title} (score {mapping.suggested_score})")
        if options["verbosity"] >= 2:
            for role, why in result.passed:
                self.stdout.write(f"{role.code}: passed over: {why}")
        verb = "Would suggest" if dry_run else "Suggested"
        self.stdout.write(
            f"{verb} {len(result.created)} mapping(s) for {len(chosen)} role(s); {len(result.passed)} passed over."
        )
