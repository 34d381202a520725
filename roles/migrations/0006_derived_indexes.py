"""Indexes for pages that stay flat at ten times O*NET scale, built without blocking writes.

On PostgreSQL every index here is built CONCURRENTLY (hence atomic = False): the alias table
keeps taking decisions and edits meanwhile. The trigram indexes (pg_trgm) serve substring
searches (`icontains`, the directory search, four-eyes' "content_editors contains"); SQLite,
small by design, does without them.
"""

from django.db import migrations, models
from django.db.models.functions import Lower

from framework.migration_ops import AddIndexConcurrentlyOnPostgres, PostgresOnlySQL

# (index name, table, indexed expression): Django's icontains compares UPPER(column::text).
TRIGRAM_INDEXES = [
    ("alias_upper_trgm", "roles_titlealias", "(UPPER(alias::text)) gin_trgm_ops"),
    ("component_upper_trgm", "roles_component", "(UPPER(text::text)) gin_trgm_ops"),
    ("alias_editors_trgm", "roles_titlealias", "content_editors gin_trgm_ops"),
    ("mapping_editors_trgm", "roles_classificationmapping", "content_editors gin_trgm_ops"),
    ("roledigest_search_trgm", "roles_roledigest", "search_text gin_trgm_ops"),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("roles", "0005_derived_data"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="role",
            index=models.Index(Lower("title"), name="role_title_lower_idx"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="titlealias",
            index=models.Index(Lower("alias"), name="alias_lower_idx"),
        ),
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS pg_trgm", reverse_sql=migrations.RunSQL.noop),
        *[
            PostgresOnlySQL(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin ({expression})",
                reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
            )
            for name, table, expression in TRIGRAM_INDEXES
        ],
    ]
