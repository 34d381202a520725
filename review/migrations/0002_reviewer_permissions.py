from django.contrib.auth.management import create_permissions
from django.db import migrations

from roles.groups import CURATORS, REVIEWERS

# The permissions as this migration granted them (the decision log's moved to roles later).
GROUP_PERMISSIONS = {REVIEWERS: ["review_alias", "review_mapping", "view_decision"], CURATORS: ["view_decision"]}


def sync_review_permissions(group_model, permission_model, permissions: dict[str, list[str]]) -> None:
    for group_name, codenames in permissions.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        found = list(permission_model.objects.filter(content_type__app_label="review", codename__in=codenames))
        missing = set(codenames) - {p.codename for p in found}
        if missing:
            raise LookupError(f"Permissions review.{', review.'.join(sorted(missing))} do not exist.")
        group.permissions.add(*found)


def grant(apps, schema_editor):
    # Permissions are normally made after migrate; this migration needs them now.
    app_config = apps.get_app_config("review")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    sync_review_permissions(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), GROUP_PERMISSIONS)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="review", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0001_initial"),
        ("roles", "0002_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
