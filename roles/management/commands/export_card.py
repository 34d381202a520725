"""`manage.py export_card CODE [--output FILE]`: print a role as its published card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from roles.cards.renderer import render_card
from roles.models import Role


class Command(BaseCommand):
    help = "Render a role as a published card (UTF-8, no trailing newline), the format import_cards reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", metavar="CODE", help="The role code, e.g. AIMLAM.GEN.P1.")
        parser.add_argument("--output", "-o", metavar="FILE", help="Write to FILE instead of standard output.")

    def handle(self, *args: Any, code: str, output: str | None, **options: Any) -> None:
        role = Role.objects.with_related().filter(code=code).first()
        if role is None:
            raise CommandError(f"No role has the code {code!r}.")
        text = render_card(role)
        if output:
            try:
                Path(output).write_bytes(text.encode("utf-8"))
            except OSError as exc:
                raise CommandError(f"{output}: cannot write it ({exc.strerror}).") from exc
            if options["verbosity"] >= 1:
                self.stderr.write(f"Wrote {code} to {output}.")
        else:
            self.stdout.write(text, ending="")
