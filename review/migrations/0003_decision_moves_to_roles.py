"""The decision log moves to the roles app (its table stays); the review permissions get a model of their own.

Only Django's state changes here: the table review_decision is kept as it is and adopted by
roles.Decision in roles/0003. The permissions review.review_alias and review.review_mapping
keep their names and their groups: their rows move to the new ReviewRights content type.
"""

from django.db import migrations, models


def move_permissions(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    old = ContentType.objects.filter(app_label="review", model="decision").first()
    if old is None:
        return  # A new database: the permissions are created after migrate.
    rights, _ = ContentType.objects.get_or_create(app_label="review", model="reviewrights")
    Permission.objects.filter(content_type=old, codename__in=["review_alias", "review_mapping"]).update(
        content_type=rights
    )
    # The rest (view_decision and friends) follow the model to roles.
    if not ContentType.objects.filter(app_label="roles", model="decision").exists():
        ContentType.objects.filter(pk=old.pk).update(app_label="roles")


def restore_permissions(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    decision = ContentType.objects.filter(app_label="roles", model="decision").first()
    rights = ContentType.objects.filter(app_label="review", model="reviewrights").first()
    if decision is None:
        return
    ContentType.objects.filter(pk=decision.pk).update(app_label="review")
    if rights is not None:
        Permission.objects.filter(content_type=rights, codename__in=["review_alias", "review_mapping"]).update(
            content_type=decision
        )


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0002_reviewer_permissions"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReviewRights",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ],
            options={
                "verbose_name": "review rights",
                "verbose_name_plural": "review rights",
                "permissions": [
                    ("review_alias", "Can approve, reject and reopen title aliases"),
                    ("review_mapping", "Can approve, reject, refine and reopen classification mappings"),
                    (
                        "import_decisions",
                        "Can import the review states a card claims (approved, rejected) as decisions",
                    ),
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Decision")]),
        migrations.RunPython(move_permissions, restore_permissions),
    ]
