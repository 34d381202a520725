"""Migration operations that behave on both databases: PostgreSQL in production, SQLite embedded.

PostgreSQL builds an index on a large table without blocking writes only CONCURRENTLY, outside
a transaction; SQLite has no such thing and needs none (it is small, and single-writer). Use
these in a migration with `atomic = False`.
"""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations


class _ConcurrentlyOnPostgres:
    """Run the concurrent operation on PostgreSQL; elsewhere, the plain operation `fallback`."""

    fallback: type[migrations.operations.base.Operation]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return self.fallback.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return self.fallback.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndexConcurrentlyOnPostgres(_ConcurrentlyOnPostgres, AddIndexConcurrently):
    """AddIndexConcurrently on PostgreSQL (writes go on meanwhile); a plain AddIndex elsewhere."""

    fallback = migrations.AddIndex


class RemoveIndexConcurrentlyOnPostgres(_ConcurrentlyOnPostgres, RemoveIndexConcurrently):
    """RemoveIndexConcurrently on PostgreSQL; a plain RemoveIndex elsewhere."""

    fallback = migrations.RemoveIndex


class PostgresOnlySQL(migrations.RunSQL):
    """Raw SQL that only PostgreSQL runs (extensions, trigram indexes); a no-op on SQLite."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
