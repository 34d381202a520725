from django.apps import AppConfig


class RolesConfig(AppConfig):
    name = "roles"
    verbose_name = "Roles"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks, signals  # noqa: F401 - registers the state machine's checks; connects the receivers
        from .derived import rebuild_after_migrate

        post_migrate.connect(rebuild_after_migrate, sender=self, dispatch_uid="roles_derived_rebuild")
