"""`manage.py build_coder [--force]`: build the SOC coder's index unless an up-to-date one exists.

It also loads the official job titles (O*NET alternate, BLS direct match) into the database
when they are missing, or with --force, for the alias queue's "officially filed under" evidence.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from taxonomy.coder import ensure_index, reference_dir, reset_cache
from taxonomy.models import ReferenceTitle
from taxonomy.services import load_reference_titles


class Command(BaseCommand):
    help = "Build the SOC coder index from fixtures/reference/ when it is missing or stale (--force: always)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Rebuild even when the index is current.")

    def handle(self, *args, force: bool = False, **options) -> None:
        try:
            info = ensure_index(force=force)
        except FileNotFoundError as exc:
            raise CommandError(f"SOC coder: reference file missing: {exc.filename}") from exc
        # A later suggest() in this process must read the new file, not a model loaded before.
        reset_cache()
        size = f"{info.size_bytes / 1e6:.1f} MB"
        if info.built:
            self.stdout.write(f"SOC coder index built in {info.seconds:.1f} s: {info.path} ({size}, {info.version}).")
        else:
            self.stdout.write(f"SOC coder index is current: {info.path} ({size}, {info.version}); nothing to do.")
        if force or info.built or not ReferenceTitle.objects.exists():
            count = load_reference_titles(reference_dir())
            self.stdout.write(f"Official job titles loaded: {count:,}.")
