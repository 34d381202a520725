"""generate_demo at O*NET scale (1,016 roles × 55 aliases × 40 components) on a fresh database.

Baseline: the same kind of rows written one save() at a time (what a factory or a naive
script does), each with its history row, measured on a sample and compared per row.
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.db import transaction

from bench.common import demo_data, fresh_database
from framework.audit import acting_as, get_system_user

BUDGET_SECONDS = 60.0
SAMPLE = 2000


def _one_save_per_row(actor) -> float:
    """Seconds per alias when each is saved alone (a tracked save: the row plus its history)."""
    from roles.models import Role, TitleAlias

    role = Role.objects.order_by("code").first()
    with transaction.atomic(), acting_as(actor, "bench baseline"):
        start = time.perf_counter()
        for i in range(SAMPLE):
            TitleAlias(role=role, alias=f"Baseline alias {i}", confidence=Decimal("0.50")).save()
        seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    return seconds / SAMPLE


def run() -> None:
    with fresh_database():
        actor = get_system_user()
        start, cpu_start = time.perf_counter(), time.process_time()
        summary = demo_data(actor=actor)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        rows = summary.rows
        rate = rows / seconds
        print(f"generate_demo: {summary}")
        print(
            f"  {rows:,} rows (+ {rows:,} history rows) in {seconds:.1f} s: {rate:,.0f} rows/s; "
            f"{seconds / BUDGET_SECONDS:.0%} of the {BUDGET_SECONDS:.0f} s budget "
            f"(this process's CPU: {cpu:.1f} s; the rest is the database or other processes)"
        )
        per_row = _one_save_per_row(actor)
        print(
            f"  baseline, one save() per row: {1 / per_row:,.0f} rows/s "
            f"(would take {per_row * rows:.0f} s); bulk is {rate * per_row:.1f}× faster"
        )
