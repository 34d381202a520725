"""The Curators and Reviewers groups and the permissions each holds.

Used by the data migration and by tests (rows made by migrations vanish after a
transactional test, so tests call `sync_groups()` themselves).
"""

from __future__ import annotations

CURATED_MODELS = {"roles": ["role", "component", "titlealias", "classificationmapping"]}
REFERENCE_MODELS = {"taxonomy": ["level", "taxonomynode", "occupationcode"]}

CURATORS = "Curators"
REVIEWERS = "Reviewers"
LEAD_REVIEWERS = "Lead reviewers"


def _codenames(models: dict[str, list[str]], actions: list[str]) -> list[tuple[str, str]]:
    return [
        (app_label, f"{action}_{prefix}{model}")
        for app_label, names in models.items()
        for model in names
        for action in actions
        # The audit history is readable wherever the data is.
        for prefix in (("", "historical") if action == "view" else ("",))
    ]


# The decision log is readable by both groups; only roles.workflow writes it.
DECISION_LOG = [("roles", "view_decision")]
# Reviewers decide aliases and mappings (TitleAlias/ClassificationMapping.REVIEW_PERMISSION). Nobody
# gets roles.import_decisions from a group: the command-line system account holds it.
REVIEW = [("roles", "review_alias"), ("roles", "review_mapping"), ("roles", "review_deprecation")]
# Curators propose deprecations (roles.workflow.deprecation); reviewers decide them; everyone reads them.
DEPRECATIONS = {"roles": ["deprecation"]}

GROUP_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    CURATORS: _codenames(CURATED_MODELS, ["add", "change", "view"]) + _codenames(REFERENCE_MODELS, ["view"])
    + DECISION_LOG + _codenames(DEPRECATIONS, ["add", "view"]),
    REVIEWERS: _codenames(CURATED_MODELS, ["view"]) + _codenames(REFERENCE_MODELS, ["view"]) + DECISION_LOG + REVIEW
    + _codenames(DEPRECATIONS, ["view"]),
    # Leads review, and may decide what another reviewer holds (roles.models.LEAD_REVIEW).
    LEAD_REVIEWERS: _codenames(CURATED_MODELS, ["view"]) + _codenames(REFERENCE_MODELS, ["view"]) + DECISION_LOG
    + _codenames(DEPRECATIONS, ["view"]) + REVIEW + [("roles", "lead_review")]
    + _codenames({"roles": ["assignment"]}, ["add", "change", "delete", "view"]),
}


def sync_groups(group_model, permission_model, permissions: dict[str, list[tuple[str, str]]] | None = None) -> None:
    """Create the groups if missing and add their permissions; raises LookupError for a missing one.

    Migrations pass the `permissions` they were written with; everything else gets today's.
    """
    for group_name, codenames in (permissions or GROUP_PERMISSIONS).items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        permissions = []
        for app_label, codename in codenames:
            try:
                permissions.append(
                    permission_model.objects.get(content_type__app_label=app_label, codename=codename)
                )
            except permission_model.DoesNotExist as exc:
                raise LookupError(f"Permission {app_label}.{codename} does not exist.") from exc
        group.permissions.add(*permissions)
