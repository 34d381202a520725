"""Signal receivers that mark derived rows stale after a single-row save or delete (see roles.derived).

One receiver per model the derived rows read: aliases, mappings and roles here, and the taxonomy's
nodes, levels, occupation codes and reference titles, whose app knows nothing of roles (it only
sends the signals). Bulk writes send no signals; the code that makes them calls `derived.enqueue`
itself. `_loaded_values` (framework.audit.ChangeTracked) still holds the values the row was loaded
with when post_save runs, so a receiver sees what a save changed.

Nodes, levels and occupation codes need no delete receiver: roles and mappings protect the rows
they point to, so a deleted one had nothing derived from it.
"""

from __future__ import annotations

import operator
from functools import reduce

from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from taxonomy.models import Level, OccupationCode, TaxonomyNode
from taxonomy.signals import reference_titles_loaded

from . import derived
from .models import ClassificationMapping, Role, TitleAlias


def _old(instance, attname: str):
    return (getattr(instance, "_loaded_values", None) or {}).get(attname)


def _changed(instance, attnames: tuple[str, ...]) -> bool:
    """Whether a save changed any of `attnames` (True for a row not loaded from the database)."""
    loaded = getattr(instance, "_loaded_values", None)
    if loaded is None:
        return True
    return any(name not in loaded or loaded[name] != getattr(instance, name) for name in attnames)


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
        texts = [instance.title, old_title] if old_title != instance.title else []
        if not created and _old(instance, "code") != instance.code:
            # The flags of other roles' aliases name this role by its code ("used by another role",
            # "another role's title"): those spelled like its aliases or its title.
            texts += [instance.title, *instance.aliases.values_list("alias", flat=True)]
        derived.enqueue(roles=[instance.pk], texts=texts)


@receiver(post_delete, sender=Role, dispatch_uid="derived_role_deleted")
def role_deleted(sender, instance: Role, **kwargs) -> None:
    # Aliases spelled like its title lose a flag; its digest row goes.
    derived.enqueue(roles=[instance.pk], texts=[instance.title])


@receiver(post_save, sender=TaxonomyNode, dispatch_uid="derived_node_saved")
def node_saved(sender, instance: TaxonomyNode, created: bool, **kwargs) -> None:
    # A digest is tallied under its specialization's parent's code: a new code moves the counts of
    # the roles one level down (a family's), a new parent those of the roles at the node (a
    # specialization's). Nothing derived reads a node's name, kind or default SOC code, nor
    # anything two levels up; a new node has no roles.
    if created:
        return
    reached = [Q(node__parent=instance)] if _changed(instance, ("code",)) else []
    reached += [Q(node=instance)] if _changed(instance, ("parent_id",)) else []
    if reached:
        derived.enqueue_selected(Role.objects.filter(reduce(operator.or_, reached)))


@receiver(post_save, sender=Level, dispatch_uid="derived_level_saved")
def level_saved(sender, instance: Level, created: bool, **kwargs) -> None:
    # Digests are tallied under the level's code; the "level" flag compares an alias's words with
    # the level's rank (settings.REVIEW_LEVEL_WORDS, covered by derived.fingerprint()).
    if not created and _changed(instance, ("code", "rank")):
        derived.enqueue_selected(Role.objects.filter(level=instance))


@receiver(post_save, sender=OccupationCode, dispatch_uid="derived_occupation_saved")
def occupation_saved(sender, instance: OccupationCode, created: bool, **kwargs) -> None:
    # "Official title of another SOC code" counts only approved mappings to a detailed occupation.
    if not created and _changed(instance, ("level",)):
        derived.enqueue_selected(Role.objects.filter(mappings__occupation=instance).distinct())


@receiver(reference_titles_loaded, dispatch_uid="derived_reference_titles_loaded")
def reference_titles_changed(sender, **kwargs) -> None:
    # Every alias's "official title of another SOC code" flag reads the reference titles.
    derived.enqueue_selected(Role.objects.all())


@receiver(pre_delete, sender=Role, dispatch_uid="published_role_kept")
@receiver(pre_delete, sender=TitleAlias, dispatch_uid="published_alias_kept")
@receiver(pre_delete, sender=ClassificationMapping, dispatch_uid="published_mapping_kept")
def published_item_kept(sender, instance, **kwargs) -> None:
    """Whatever deletes it (a cascade from its role, the shell, a bulk delete), a published item stays."""
    from .services import guard_published

    guard_published([instance])
