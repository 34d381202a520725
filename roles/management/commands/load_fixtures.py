"""Load fixtures for set-up and demos: add what is missing, keep what is there, record history.

Unlike `loaddata`, rows that already exist (matched by natural key) are left alone, so a
second `make run` neither duplicates the seed nor overwrites curators' edits and review
decisions. Every row added gets a history row from the acting user ("+", with the reason
"fixture load: FILE"), which `loaddata`'s raw saves would skip.

A reviewable item's review state in a fixture (an approved release loaded back, say) is a
claim, like a card's: it becomes an "imported" decision through the state machine when the
acting user holds review.import_decisions (the system account does), and is otherwise
ignored (the item comes in open, and the count is reported).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from django.core import serializers
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from framework.audit import resolve_user
from roles import workflow
from roles.models import DecisionKind, Reviewable


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
        self.added = self.kept = self.imported = self.ignored = 0
        with transaction.atomic():
            for fixture in fixtures:
                self._load(Path(fixture), actor)
        line = f"Fixtures: {self.added} objects added, {self.kept} already present and kept as they are."
        if self.imported or self.ignored:
            line += f" Review states: {self.imported} imported as decisions, {self.ignored} ignored (left open)."
        self.stdout.write(line)

    def _load(self, path: Path, actor) -> None:
        """Save the fixture's new objects, their decisions and their history."""
        if not path.is_file():
            raise CommandError(f"{path}: no such fixture file.")
        new_by_model: dict[type, list] = defaultdict(list)
        decisions = []
        may_import = workflow.may_move(actor, Reviewable, DecisionKind.IMPORTED)
        try:
            with path.open(encoding="utf-8") as stream:
                for item in serializers.deserialize("json", stream):
                    obj = item.object
                    if obj.pk is not None:
                        self.kept += 1
                        continue
                    if isinstance(obj, Reviewable):
                        decision = self._claim(obj, actor, path, may_import)
                        if decision is not None:
                            decisions.append(decision)
                    item.save()
                    new_by_model[type(obj)].append(obj)
        except serializers.base.DeserializationError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        except workflow.ReviewError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        for decision in decisions:
            decision.save()
        for model, objs in new_by_model.items():
            if hasattr(model, "history"):
                model.history.bulk_history_create(
                    objs, default_user=actor, default_change_reason=f"fixture load: {path.name}"
                )
        self.added += sum(len(v) for v in new_by_model.values())

    def _claim(self, obj: Reviewable, actor, path: Path, may_import: bool):
        """Open `obj` as new; return the "imported" Decision of the state the fixture claims, or None."""
        claimed, claimed_at, created_at = obj.status, obj.decided_at, obj.created_at
        workflow.start(obj, by=actor, at=created_at)
        if claimed == obj.OPEN:
            return None
        if not may_import:
            self.ignored += 1
            return None
        self.imported += 1
        return workflow.prepare_move(
            obj, claimed, by=actor, kind=DecisionKind.IMPORTED, reason=f"fixture load: {path.name}",
            decided_at=claimed_at,
        )
