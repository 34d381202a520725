"""The mapping queue's "code" sort reads an index in order instead of sorting every pending mapping."""

from django.db import migrations, models

from framework.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("roles", "0008_review_tallies"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="classificationmapping",
            index=models.Index(fields=["status", "code", "id"], name="mapping_code_key_idx"),
        ),
    ]
