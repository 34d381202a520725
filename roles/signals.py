"""Signal receivers that mark derived rows stale after a single-row save or delete (see roles.derived).

Bulk writes send no signals; the code that makes them calls `derived.enqueue` itself.
`_loaded_values` (framework.audit.ChangeTracked) still holds the values the row was loaded with
when post_save runs, so a receiver sees what a save changed.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from taxonomy.signals import reference_titles_loaded

from . import derived
from .models import ClassificationMapping, Role, TitleAlias


def _old(instance, attname: str):
    return (getattr(instance, "_loaded_values", None) or {}).get(attname)


@receiver(post_save, sender=TitleAlias, dispatch_uid="derived_alias_saved")
def alias_saved(sender, instance: TitleAlias, created: bool, **kwargs) -> None:
    old_role, old_text = _old(instance, "role_id"), _old(instance, "alias")
    # A decision changes the counts; a new text or a move also the flags of every alias spelled alike.
    moved = created or old_role != instance.role_id or (old_text or "").lower() != instance.alias.lower()
    derived.enqueue(roles=[instance.role_id, old_role], texts=[instance.alias, old_text] if moved else [])


@receiver(post_delete, sender=TitleAlias, dispatch_uid="derived_alias_deleted")
def alias_deleted(sender, instance: TitleAlias, **kwargs) -> None:
    derived.enqueue(roles=[instance.role_id], texts=[instance.alias])


@receiver(post_save, sender=ClassificationMapping, dispatch_uid="derived_mapping_saved")
@receiver(post_delete, sender=ClassificationMapping, dispatch_uid="derived_mapping_deleted")
def mapping_changed(sender, instance: ClassificationMapping, **kwargs) -> None:
    # The role's counts, and its aliases' "official title of another SOC code" flags.
    derived.enqueue(roles=[instance.role_id, _old(instance, "role_id")])


@receiver(post_save, sender=Role, dispatch_uid="derived_role_saved")
def role_saved(sender, instance: Role, created: bool, **kwargs) -> None:
    old_title = _old(instance, "title")
    relevant = created or any(
        _old(instance, f) != getattr(instance, f) for f in ("code", "title", "level_id", "node_id")
    )
    if relevant:
        # Its digest and its aliases' level flags; aliases spelled like its old or new title.
        derived.enqueue(roles=[instance.pk], texts=[instance.title, old_title] if old_title != instance.title else [])


@receiver(post_delete, sender=Role, dispatch_uid="derived_role_deleted")
def role_deleted(sender, instance: Role, **kwargs) -> None:
    # Aliases spelled like its title lose a flag; its digest row goes.
    derived.enqueue(roles=[instance.pk], texts=[instance.title])


@receiver(reference_titles_loaded, dispatch_uid="derived_reference_titles_loaded")
def reference_titles_changed(sender, **kwargs) -> None:
    # Every alias's "official title of another SOC code" flag reads the reference titles.
    derived.enqueue(roles=Role.objects.values_list("pk", flat=True))
