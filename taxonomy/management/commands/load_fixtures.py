"""Load fixtures for set-up and demos: add what is missing, keep what is there, record history.

Unlike `loaddata`, rows that already exist (matched by natural key) are left alone, so a
second `make run` neither duplicates the seed nor overwrites curators' edits and review
decisions. Every row added gets a history row from the acting user ("+", with the reason
"fixture load: FILE"), which `loaddata`'s raw saves would skip.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from django.core import serializers
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from framework.audit import resolve_user


class Command(BaseCommand):
    help = "Add the objects of fixture files that are not in the database yet, with history."

    def add_arguments(self, parser):
        parser.add_argument("fixtures", nargs="+", help="JSON fixture files, e.g. fixtures/seed.json.")
        parser.add_argument("--as", dest="username", help="Act as this user (default: the system user).")

    def handle(self, *args, fixtures: list[str], username: str | None, **options) -> None:
        try:
            actor = resolve_user(username)
        except Exception as exc:
            raise CommandError(f"--as {username}: no active user with that name.") from exc
        added = kept = 0
        with transaction.atomic():
            for fixture in fixtures:
                new, old = self._load(Path(fixture), actor)
                added += new
                kept += old
        self.stdout.write(f"Fixtures: {added} objects added, {kept} already present and kept as they are.")

    def _load(self, path: Path, actor) -> tuple[int, int]:
        """Save the fixture's new objects and write their history; return (added, kept)."""
        if not path.is_file():
            raise CommandError(f"{path}: no such fixture file.")
        new_by_model: dict[type, list] = defaultdict(list)
        kept = 0
        try:
            with path.open(encoding="utf-8") as stream:
                for item in serializers.deserialize("json", stream):
                    if item.object.pk is not None:
                        kept += 1
                        continue
                    item.save()
                    new_by_model[type(item.object)].append(item.object)
        except serializers.base.DeserializationError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        for model, objs in new_by_model.items():
            if hasattr(model, "history"):
                model.history.bulk_history_create(
                    objs, default_user=actor, default_change_reason=f"fixture load: {path.name}"
                )
        return sum(len(v) for v in new_by_model.values()), kept
