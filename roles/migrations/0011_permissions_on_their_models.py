"""The review permissions move onto the models they govern: roles.review_alias (TitleAlias),
roles.review_mapping (ClassificationMapping), roles.import_decisions (Decision).

The permission rows keep their ids, so every group and user that held them still does: only their
content type changes (as review/0003 did when the decision log moved).
"""

from django.db import migrations

MOVES = {"review_alias": "titlealias", "review_mapping": "classificationmapping", "import_decisions": "decision"}


def _move(apps, *, reverse: bool) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for codename, model in MOVES.items():
        if reverse:
            old = ContentType.objects.filter(app_label="roles", model=model).first()
            new, _ = ContentType.objects.get_or_create(app_label="review", model="reviewrights")
        else:
            old = ContentType.objects.filter(app_label="review", model="reviewrights").first()
            new, _ = ContentType.objects.get_or_create(app_label="roles", model=model)
        if old is None:
            continue  # A new database: the permissions are created after migrate.
        if not Permission.objects.filter(content_type=old, codename=codename).exists():
            continue
        # A row made on the target already (by an earlier post_migrate) gives way to the one with the grants.
        Permission.objects.filter(content_type=new, codename=codename).delete()
        Permission.objects.filter(content_type=old, codename=codename).update(content_type=new)


def forwards(apps, schema_editor):
    _move(apps, reverse=False)


def backwards(apps, schema_editor):
    _move(apps, reverse=True)


class Migration(migrations.Migration):

    dependencies = [
        ('roles', '0010_alias_source_queue_idx'),
        ('review', '0003_decision_moves_to_roles'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='classificationmapping',
            options={'ordering': ['role', 'scheme', 'code'], 'permissions': [('review_mapping', 'Can approve, reject, refine, replace and reopen classification mappings')], 'verbose_name': 'classification mapping'},
        ),
        migrations.AlterModelOptions(
            name='decision',
            options={'get_latest_by': 'created_at', 'ordering': ['-created_at', '-pk'], 'permissions': [('import_decisions', 'Can import the review states a file claims (approved, rejected) as decisions')]},
        ),
        migrations.AlterModelOptions(
            name='titlealias',
            options={'ordering': ['role', 'pk'], 'permissions': [('review_alias', 'Can approve, reject and reopen title aliases')], 'verbose_name': 'title alias', 'verbose_name_plural': 'title aliases'},
        ),
        migrations.RunPython(forwards, backwards),
    ]
