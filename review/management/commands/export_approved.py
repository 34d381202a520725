"""export_approved: write (or check) a release of what reviewers approved, as loaddata fixtures."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from review.releases import MANIFEST, SEMVER_RE, ReleaseError, check_release, export_release


class Command(BaseCommand):
    help = (
        "Export approved aliases and mappings, with the roles, components and reference rows they "
        "need, as Django fixtures that load with stock loaddata. --check compares instead of writing."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        # --version is the release version here, not Django's: let ours replace the built-in.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", default="release", help="The release directory (default: ./release).")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Do not write: exit non-zero when the release in --output is out of date.",
        )
        parser.add_argument("--since", help="An earlier release directory: write CHANGES.md against it.")
        parser.add_argument(
            "--version", dest="release_version", metavar="X.Y.Z",
            help="The release version (default: the next minor after --since, or 1.0.0).",
        )
        parser.add_argument(
            "--with-reviewers",
            action="store_true",
            help="Also write reviewers.json (who approved each item, by username). Not a fixture.",
        )

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        output = Path(options["output"])
        since = Path(options["since"]) if options["since"] else None
        version = options["release_version"]
        if version and not SEMVER_RE.match(version):
            raise CommandError(f"--version {version!r} is not a semantic version such as 1.2.0.")
        if since is not None and not (since / MANIFEST).is_file():
            raise CommandError(f"--since {since} is not a release: it has no {MANIFEST}.")
        started = time.perf_counter()
        try:
            if options["check"]:
                self._check(output, since=since, with_reviewers=options["with_reviewers"])
                return
            manifest = export_release(
                output,
                version=version,
                since=since,
                with_reviewers=options["with_reviewers"],
                progress=self._progress,
            )
        except ReleaseError as exc:
            raise CommandError(str(exc)) from exc
        total = sum(manifest["counts"].values())
        if self.verbosity < 1:
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Release {manifest['version']}: {total:,} objects in {len(manifest['load_order'])} files "
                f"written to {output} in {time.perf_counter() - started:.1f} s"
                + (f", with CHANGES.md since {manifest['since']}" if since else "")
                + "."
            )
        )

    def _progress(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)

    def _check(self, output: Path, *, since: Path | None, with_reviewers: bool) -> None:
        if not (output / MANIFEST).is_file():
            raise CommandError(f"{output} is not a release: it has no {MANIFEST}. Run export_approved first.")
        problems = check_release(output, since=since, with_reviewers=with_reviewers)
        if problems:
            raise CommandError(f"The release in {output} is out of date: {'; '.join(problems)}.")
        if self.verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"The release in {output} is up to date."))
