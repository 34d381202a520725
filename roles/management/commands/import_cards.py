"""`manage.py import_cards PATH [PATH ...] [--dry-run] [--as USERNAME]`: load published role cards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from framework.audit import resolve_user
from roles.cards.importer import CardPlan, CardSource, import_cards


def collect_sources(paths: list[str]) -> list[CardSource]:
    """Read each file, and each folder's *.txt files in name order; raises CommandError if unreadable."""
    sources: list[CardSource] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.glob("*.txt") if p.is_file())
            if not files:
                raise CommandError(f"{raw}: the folder has no *.txt card files.")
        elif path.is_file():
            files = [path]
        else:
            raise CommandError(f"{raw}: no such file or folder.")
        for file in files:
            try:
                sources.append(CardSource(filename=str(file), data=file.read_bytes()))
            except OSError as exc:
                raise CommandError(f"{file}: cannot read it ({exc.strerror}).") from exc
    return sources


class Command(BaseCommand):
    help = (
        "Create or update roles from published role cards (files, or folders of *.txt). "
        "The whole run is one transaction: if any card has a problem, nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="A card file or a folder of *.txt cards.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; write nothing.")
        parser.add_argument(
            "--overwrite-edits",
            action="store_true",
            help="Take the cards' values even for fields changed in Rolebook since the last import.",
        )
        parser.add_argument(
            "--no-decisions",
            dest="import_decisions",
            action="store_false",
            help="Import the items only, open for review, ignoring the review states the cards claim "
            "(by default they become decisions when the acting user holds roles.import_decisions).",
        )
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="The user the history records as acting (default: the system user).",
        )

    def handle(
        self,
        *args: Any,
        paths: list[str],
        dry_run: bool,
        username: str | None,
        overwrite_edits: bool,
        import_decisions: bool,
        **options: Any,
    ) -> None:
        try:
            actor = resolve_user(username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"--as {username}: no active user has that name.") from exc
        sources = collect_sources(paths)
        verbosity = options["verbosity"]

        def progress(index: int, total: int, plan: CardPlan) -> None:
            if verbosity >= 1 and not plan.problems:
                self.stdout.write(f"[{index}/{total}] {plan.filename}: {plan.code} {plan.action} ({plan.counts()})")
            if verbosity >= 2:
                for title, items in (
                    ("added", plan.added),
                    ("changed", plan.changed),
                    ("suppressed", plan.suppressed),
                    ("missing", plan.missing),
                    ("claim", plan.claims_imported),
                ):
                    for item in items:
                        self.stdout.write(f"    {title}: {item}")

        result = import_cards(
            sources,
            actor=actor,
            dry_run=dry_run,
            import_decisions=import_decisions,
            overwrite_edits=overwrite_edits,
            progress=progress,
        )
        if not result.ok:
            for line in result.error_lines():
                self.stderr.write(line)
            files = len({filename for filename, _ in result.problems})
            raise CommandError(
                f"{len(result.problems)} problem(s) in {files} of {len(sources)} file(s): nothing was imported."
            )
        for plan in result.plans:
            if verbosity >= 1:
                for title, items in (
                    ("suppressed", plan.suppressed),
                    ("missing", plan.missing),
                    ("Rolebook edit", plan.edits_kept + plan.edits_overwritten),
                    ("review claim ignored", plan.claims_ignored),
                ):
                    for item in items:
                        self.stdout.write(f"{plan.code}: {title}: {item}")
        self.stdout.write(result.summary() + (" (dry run: nothing written)" if dry_run else ""))
