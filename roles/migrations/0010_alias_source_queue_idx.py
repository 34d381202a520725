"""The alias queue's source filter, an index range scan at any size (measured by `bench scale`).

It compiles to `UPPER(source::text) = UPPER(…)` (iexact), which no index served: for a rare
source the capped count and the page read the pending aliases until enough matched. With
(status, UPPER(source), confidence, id) both are range scans in the queue's order.
PostgreSQL only (an expression index, built CONCURRENTLY); SQLite's tables are small.
"""

from django.db import migrations

from framework.migration_ops import PostgresOnlySQL

INDEXES = [
    ("alias_source_queue_idx", "roles_titlealias", "(status, UPPER(source::text), confidence, id)"),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("roles", "0009_mapping_code_key_idx"),
    ]

    operations = [
        PostgresOnlySQL(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} {expression}",
            reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
        )
        for name, table, expression in INDEXES
    ]
