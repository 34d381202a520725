"""The review permissions and the groups that hold them.

Used by the data migration and by tests (groups made by migrations vanish after a
transactional test, so tests call `sync_review_permissions()` after `roles.groups.sync_groups()`).
"""

from __future__ import annotations

from roles.groups import CURATORS, REVIEWERS

REVIEW_ALIAS = "review.review_alias"
REVIEW_MAPPING = "review.review_mapping"

IMPORT_DECISIONS = "review.import_decisions"

# Curators see the queues and the decision log (roles.groups), but decide nothing. Nobody is
# given review.import_decisions by a group: only the command-line system account holds it.
GROUP_PERMISSIONS: dict[str, list[str]] = {
    REVIEWERS: ["review_alias", "review_mapping"],
    CURATORS: [],
}


def sync_review_permissions(group_model, permission_model, permissions: dict[str, list[str]] | None = None) -> None:
    """Create the groups if missing and add the review permissions; raises LookupError for a missing one.

    Migrations pass the `permissions` they were written with; everything else gets today's.
    """
    for group_name, codenames in (permissions or GROUP_PERMISSIONS).items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        permissions = list(
            permission_model.objects.filter(content_type__app_label="review", codename__in=codenames)
        )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise LookupError(f"Permissions review.{', review.'.join(sorted(missing))} do not exist.")
        group.permissions.add(*permissions)
