"""import_cards against loaddata of the equivalent fixture, on the O*NET-scale demo data set.

1. Build the demo data set (1,016 roles, ≈55 aliases and ≈40 components each) and render every
   role to a card file with `render_card`.
2. On an empty database (reference SOC rows only), time `import_cards` of the whole folder
   (one transaction, history rows included), then dump the imported roles as a natural-key
   fixture: the rows loaddata must write to reach the same state.
3. On another empty database, time `loaddata` of that fixture (no history rows: loaddata
   saves raw).
Printed: render and import rates in cards/s, queries per card, and the ratio import/loaddata
(target: import at least as fast as loaddata). SQLite by default; PostgreSQL with DATABASE_URL.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.db import connection

from bench.common import demo_data, fresh_database
from framework.audit import get_system_user
from roles.cards.fixture import dump_roles
from roles.cards.renderer import render_card
from roles.models import Component, Role, TitleAlias

DEMO = {"roles": 1016, "aliases_per_role": 55, "components_per_role": 40, "seed": 42, "approve_fraction": 0.5}


class _Counter:
    """Counts queries without Django's debug cursor (which keeps only the last 9,000)."""

    def __init__(self, sink: list) -> None:
        self.sink = sink

    def __call__(self, execute, sql, params, many, context):
        self.sink.append(1)
        return execute(sql, params, many, context)


def _render_all(folder: Path) -> int:
    roles = list(Role.objects.with_related().order_by("code"))
    start = time.perf_counter()
    for role in roles:
        (folder / f"{role.code}.txt").write_bytes(render_card(role).encode("utf-8"))
    seconds = time.perf_counter() - start
    print(f"render: {len(roles):,} cards in {seconds:.2f} s, {len(roles) / seconds:,.0f} cards/s", flush=True)
    return len(roles)


def run() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-cards-"))
    cards_dir = work / "cards"
    cards_dir.mkdir()
    fixture = work / "cards-fixture.json"
    try:
        with fresh_database():
            start = time.perf_counter()
            summary = demo_data(**DEMO)
            print(f"demo data: {summary} in {time.perf_counter() - start:.1f} s", flush=True)
            count = _render_all(cards_dir)

        with fresh_database():
            queries = []
            with connection.execute_wrapper(_Counter(queries)):
                start = time.perf_counter()
                call_command("import_cards", str(cards_dir), verbosity=0, stdout=StringIO())
                import_seconds = time.perf_counter() - start
            rows = Role.objects.count() + Component.objects.count() + TitleAlias.objects.count()
            history = Role.history.count() + Component.history.count() + TitleAlias.history.count()
            codes = list(Role.objects.values_list("code", flat=True))
            fixture.write_text(dump_roles(codes), encoding="utf-8")
            print(
                f"import_cards: {count:,} cards in {import_seconds:.2f} s, {count / import_seconds:,.0f} cards/s, "
                f"{len(queries) / count:.1f} queries/card ({rows:,} rows + {history:,} history rows)",
                flush=True,
            )

        with fresh_database():
            # The fixture names its authors and deciders by natural key; the imports' is the system account.
            get_system_user()
            start = time.perf_counter()
            call_command("loaddata", str(fixture), verbosity=0)
            load_seconds = time.perf_counter() - start
            loaded = Role.objects.count()
            print(
                f"loaddata (equivalent fixture, {fixture.stat().st_size / 1e6:.1f} MB, no history): "
                f"{loaded:,} roles in {load_seconds:.2f} s, {loaded / load_seconds:,.0f} cards/s",
                flush=True,
            )
        ratio = load_seconds / import_seconds
        verdict = "OK" if ratio >= 1 else "SLOWER than loaddata"
        print(f"import_cards is {ratio:.2f}x the speed of loaddata (target >= 1.00x): {verdict}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
