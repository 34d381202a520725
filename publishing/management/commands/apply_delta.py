"""apply_delta: turn a release's CSV files into the next release's with that release's delta/, byte for byte."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from publishing.delta import apply_delta
from publishing.files import ReleaseError


class Command(BaseCommand):
    help = (
        "Apply a release delta: write release N+1's CSV files, byte for byte, from release N's and "
        "N+1's delta/ folder, into a new directory. Nothing is written when the delta does not fit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("release", help="Release N's directory (its CSV files are read).")
        parser.add_argument("delta", help="The delta/ folder of release N+1.")
        parser.add_argument("output", help="A new or empty directory for release N+1's CSV files.")

    def handle(self, *args, **options) -> None:
        output = Path(options["output"])
        try:
            counts = apply_delta(
                Path(options["release"]), Path(options["delta"]), output,
                notice=lambda message: self.stdout.write(self.style.WARNING(message)),
            )
        except ReleaseError as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"] >= 1:
            for name, count in counts.items():
                self.stdout.write(f"{name}: {count} rows")
            self.stdout.write(self.style.SUCCESS(
                f"Applied {len(counts)} delta files: {sum(counts.values()):,} rows written to {output}."
            ))
