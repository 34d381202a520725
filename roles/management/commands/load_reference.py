"""Load the SOC 2018 and O*NET-SOC 2019 reference rows when the database lacks some (a `make serve` step).

Idempotent: with every code present it only says so; otherwise `load_fixtures` adds the
missing rows (with history) and keeps the present ones.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from taxonomy.models import OccupationCode

REFERENCE_FIXTURES = ("fixtures/soc2018.json", "fixtures/onet_soc_2019.json")


class Command(BaseCommand):
    help = "Load the SOC 2018 / O*NET-SOC 2019 reference codes when some are missing."

    def handle(self, *args, **options) -> None:
        paths = [Path(settings.BASE_DIR) / name for name in REFERENCE_FIXTURES]
        try:
            expected = sum(len(json.loads(path.read_text(encoding="utf-8"))) for path in paths)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Reference fixtures unreadable: {exc}") from exc
        present = OccupationCode.objects.count()
        if present >= expected:
            self.stdout.write(f"reference data present ({present:,} codes)")
            return
        self.stdout.write(f"loading reference data ({present:,} of {expected:,} codes present)")
        call_command("load_fixtures", *(str(path) for path in paths), stdout=self.stdout, stderr=self.stderr)
