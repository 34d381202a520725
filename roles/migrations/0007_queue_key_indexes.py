"""The alias queue's order with the pk in the index: a keyset page is then an index range, even
where thousands of aliases share one confidence (a sort of all of them before).

Built CONCURRENTLY on PostgreSQL (atomic = False), so decisions and edits go on meanwhile; the
old (status, confidence) index, a prefix of the new one, goes after the new one exists. Trigram
indexes (pg_trgm, PostgreSQL only) serve the admin's searches of roles and decisions.
"""

from django.db import migrations, models

from framework.migration_ops import AddIndexConcurrentlyOnPostgres, PostgresOnlySQL, RemoveIndexConcurrentlyOnPostgres

# Trigram indexes for the admin's searches (Django's icontains compares UPPER(column::text)).
TRIGRAM_INDEXES = [
    ("role_code_upper_trgm", "roles_role", "(UPPER(code::text)) gin_trgm_ops"),
    ("role_title_upper_trgm", "roles_role", "(UPPER(title::text)) gin_trgm_ops"),
    ("decision_comment_upper_trgm", "review_decision", "(UPPER(comment::text)) gin_trgm_ops"),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("roles", "0006_derived_indexes"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="titlealias",
            index=models.Index(fields=["status", "confidence", "id"], name="alias_queue_key_idx"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="titlealias",
            index=models.Index(fields=["confidence", "id"], name="alias_confidence_idx"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="titlealias", name="alias_queue_idx"),
        *[
            PostgresOnlySQL(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin ({expression})",
                reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
            )
            for name, table, expression in TRIGRAM_INDEXES
        ],
    ]
