from django.contrib.auth.management import create_permissions
from django.db import migrations

from roles.groups import CURATORS, REVIEWERS, sync_groups

# The groups as this migration made them (later migrations change them; the live definition
# is roles.groups.GROUP_PERMISSIONS).
_CURATED = [
    ("roles", f"{action}_{prefix}{model}")
    for model in ("role", "component", "titlealias", "classificationmapping")
    for action in ("add", "change", "view")
    for prefix in (("", "historical") if action == "view" else ("",))
]
_CURATED_VIEW = [p for p in _CURATED if p[1].startswith("view_")]
_REFERENCE_VIEW = [
    ("taxonomy", f"view_{prefix}{model}")
    for model in ("level", "taxonomynode", "occupationcode")
    for prefix in ("", "historical")
]
PERMISSIONS = {CURATORS: _CURATED + _REFERENCE_VIEW, REVIEWERS: _CURATED_VIEW + _REFERENCE_VIEW}


def create_groups(apps, schema_editor):
    # Permissions are normally made after migrate; this migration needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("roles", "0001_initial"),
        ("taxonomy", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
