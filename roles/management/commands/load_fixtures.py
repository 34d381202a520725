"""Load fixtures for set-up and demos: add what is missing, keep what is there, record history.

Unlike `loaddata`, rows that already exist (matched by natural key) are left alone, so a
second `make run` neither duplicates the seed nor overwrites curators' edits and review
decisions. Every row added gets a history row from the acting user ("+", with the reason
"fixture load: FILE"), which `loaddata`'s raw saves would skip.

A reviewable item's review state in a fixture (an approved release loaded back, say) is a
claim, like a card's: it becomes the loader's "imported" decision through the review core when
the acting user was granted roles.import_decisions (the system account is), and is otherwise
ignored (the item comes in open, and the count is reported). The loader is the author of what
it loads, so four-eyes leaves claimed approvals open for a reviewer; rejections are imported.
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
        """Save the fixture's new objects with their history; new aliases and mappings through the review core."""
        if not path.is_file():
            raise CommandError(f"{path}: no such fixture file.")
        reason = f"fixture load: {path.name}"
        new_by_model: dict[type, list] = defaultdict(list)
        reviewables: dict[type, list] = defaultdict(list)
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
                        # Leaves of the data: written after the rest of the file, by the review core.
                        decision = self._claim(obj, actor, reason, may_import)
                        if decision is not None:
                            decisions.append(decision)
                        reviewables[type(obj)].append(obj)
                        continue
                    item.save()
                    new_by_model[type(obj)].append(obj)
            for model, objs in new_by_model.items():
                if hasattr(model, "history"):
                    model.history.bulk_history_create(objs, default_user=actor, default_change_reason=reason)
            workflow.persist(actor=actor, reason=reason, creates=dict(reviewables), decisions=decisions)
        except serializers.base.DeserializationError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        except workflow.ReviewError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        self.added += sum(len(v) for v in new_by_model.values()) + sum(len(v) for v in reviewables.values())

    def _claim(self, obj: Reviewable, actor, reason: str, may_import: bool):
        """Open `obj` as new; return the loader's "imported" Decision of the state the fixture claims, or None."""
        claimed, claimed_at, created_at = obj.status, obj.decided_at, obj.created_at
        workflow.start(obj, actor=actor, at=created_at)
        if claimed == obj.OPEN:
            return None
        if not may_import:
            self.ignored += 1
            return None
        try:
            decision = workflow.claim(obj, claimed, actor=actor, reason=reason, decided_at=claimed_at)
        except workflow.FourEyesViolation:
            self.ignored += 1
            return None
        self.imported += 1
        return decision
