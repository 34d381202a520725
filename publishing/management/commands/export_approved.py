"""export_approved: write (or check, or publish) a release of what reviewers approved.

Fixtures that load with stock loaddata, plus CSV and SKOS (``--format``); ``--publish`` writes it
as a new immutable release under ROLEBOOK_RELEASES_DIR, where the REST API serves it. A killed run
leaves the old release whole; the next run cleans up after it and says so in one line.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from publishing.files import FORMATS, MANIFEST, SEMVER_RE, ReleaseError, is_delta_file
from publishing.releases import check_release, export_release
from publishing.store import publish_release


class Command(BaseCommand):
    help = (
        "Export approved aliases and mappings, with the roles, components and reference rows they "
        "need, as Django fixtures that load with stock loaddata, CSV and SKOS. --check compares instead of "
        "writing; --publish writes a new release for the REST API."
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
        parser.add_argument(
            "--since", help="An earlier release directory: write CHANGES.md and the delta/ folder against it."
        )
        parser.add_argument(
            "--version", dest="release_version", metavar="X.Y.Z",
            help="The release version (default: the next minor after --since, or 1.0.0).",
        )
        parser.add_argument(
            "--format",
            dest="formats",
            default=",".join(FORMATS),
            metavar="FORMATS",
            help=f"Comma-separated formats to write (default: {','.join(FORMATS)}). Fixtures are always written: "
            "counts, CHANGES.md and --check read them.",
        )
        parser.add_argument(
            "--publish",
            action="store_true",
            help="Write a new published release into ROLEBOOK_RELEASES_DIR/<version>/ (the REST API serves it): "
            "CHANGES.md against the latest published release unless --since, the next minor version unless "
            "--version. A published version is never rewritten.",
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
        formats = [f.strip() for f in options["formats"].split(",") if f.strip()]
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown:
            raise CommandError(f"--format {', '.join(unknown)}: choose from {', '.join(FORMATS)}.")
        if options["publish"] and (options["with_reviewers"] or options["check"]):
            raise CommandError(
                "--publish cannot be combined with --with-reviewers (a published release names nobody) or --check."
            )
        started = time.perf_counter()
        try:
            if options["check"]:
                self._check(output, since=since, with_reviewers=options["with_reviewers"])
                return
            if options["publish"]:
                output, manifest = publish_release(
                    version=version, since=since, formats=formats, progress=self._progress, notice=self._notice
                )
            else:
                manifest = export_release(
                    output,
                    version=version,
                    since=since,
                    with_reviewers=options["with_reviewers"],
                    progress=self._progress,
                    formats=formats,
                    notice=self._notice,
                )
        except ReleaseError as exc:
            raise CommandError(str(exc)) from exc
        total = sum(manifest["counts"].values())
        if self.verbosity < 1:
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Release {manifest['version']}: {total:,} objects in {len(manifest['load_order'])} fixture files "
                f"({', '.join(manifest['formats'])}) {'published' if options['publish'] else 'written'} to {output} "
                f"in {time.perf_counter() - started:.1f} s"
                + (f", with CHANGES.md since {manifest['since']}{self._delta(manifest)}"
                   if manifest.get('since') else "")
                + "."
            )
        )

    @staticmethod
    def _delta(manifest: dict) -> str:
        return " and its delta/" if any(is_delta_file(name) for name in manifest.get("files") or {}) else ""

    def _progress(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)

    def _notice(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(self.style.WARNING(message))

    def _check(self, output: Path, *, since: Path | None, with_reviewers: bool) -> None:
        if not (output / MANIFEST).is_file():
            raise CommandError(f"{output} is not a release: it has no {MANIFEST}. Run export_approved first.")
        problems = check_release(output, since=since, with_reviewers=with_reviewers)
        if problems:
            raise CommandError(f"The release in {output} is out of date: {'; '.join(problems)}.")
        if self.verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"The release in {output} is up to date."))
