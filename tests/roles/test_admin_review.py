# ruff: noqa: F811 - pytest fixtures imported from tests.review.conftest
"""Admin actions: approve or reject the selected aliases and mappings at the versions the changelist showed."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from roles import services as role_services
from roles.admin_review import ReviewActions
from roles.models import ClassificationMapping, Decision, TitleAlias
from tests.factories import TitleAliasFactory
from tests.review.conftest import alias, curator, detailed_mapping, group_mapping, role  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

ALIAS_CHANGELIST = "admin:roles_titlealias_changelist"
MAPPING_CHANGELIST = "admin:roles_classificationmapping_changelist"


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def shown(*items):
    """What the changelist posts back for the rows it showed: pk:version."""
    return [f"{item.pk}:{item.version}" for item in items]


def test_the_owning_admins_include_the_review_actions():
    assert isinstance(admin.site.get_model_admin(TitleAlias), ReviewActions)
    assert isinstance(admin.site.get_model_admin(ClassificationMapping), ReviewActions)


def test_the_changelist_carries_each_rows_version(make_user, alias):
    html = logged_in(make_user("reviewer")).get(reverse(ALIAS_CHANGELIST)).content.decode()
    assert f'name="_shown" value="{alias.pk}:{alias.version}"' in html


def test_approve_action_skips_a_row_changed_after_the_changelist_was_shown(make_user, alias):
    """A curator edits the alias after the reviewer's page was shown: the action must not approve the new text."""
    reviewer, curator = make_user("reviewer"), make_user("curator")
    seen = shown(alias)
    alias.alias = "Edited after the page was shown"
    role_services.save_alias(alias=alias, actor=curator, reason="edit")
    response = logged_in(reviewer).post(
        reverse(ALIAS_CHANGELIST), {"action": "approve_selected", "_selected_action": [alias.pk], "_shown": seen},
        follow=True,
    )
    assert "changed since you saw it" in response.content.decode()
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


def test_approve_action_skips_rows_the_page_never_showed(make_user, alias):
    """Selected ids posted without a version (select across pages, or crafted) are not approved."""
    response = logged_in(make_user("reviewer")).post(
        reverse(ALIAS_CHANGELIST), {"action": "approve_selected", "_selected_action": [alias.pk]}, follow=True
    )
    assert "changed since you saw it" in response.content.decode()
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


@pytest.mark.parametrize("kind, visible", [("curator", False), ("reviewer", True), ("superuser", True)])
def test_review_actions_need_the_review_permission(make_user, alias, kind, visible):
    html = logged_in(make_user(kind)).get(reverse(ALIAS_CHANGELIST)).content.decode()
    assert ('value="approve_selected"' in html) is visible
    assert ('value="reject_selected"' in html) is visible


def test_curator_cannot_run_the_action_by_posting(make_user, alias):
    client = logged_in(make_user("curator"))
    client.post(reverse(ALIAS_CHANGELIST), {"action": "approve_selected", "_selected_action": [alias.pk],
                                            "_shown": shown(alias)})
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


def test_approve_action_reports_skips(make_user, role):
    reviewer = make_user("reviewer")
    mine = TitleAliasFactory(role=role, alias="Mine", created_by=reviewer)
    other = TitleAliasFactory(role=role, alias="Other")
    response = logged_in(reviewer).post(
        reverse(ALIAS_CHANGELIST),
        {"action": "approve_selected", "_selected_action": [mine.pk, other.pk], "_shown": shown(mine, other)},
        follow=True,
    )
    html = response.content.decode()
    assert "Approved 1 item; skipped 1." in html
    assert "Skipped Mine: four-eyes: you created it" in html
    assert TitleAlias.objects.get(pk=other.pk).decided_by == reviewer


def test_reject_action_asks_for_a_reason(make_user, alias):
    client = logged_in(make_user("reviewer"))
    data = {"action": "reject_selected", "_selected_action": [alias.pk], "_shown": shown(alias)}
    response = client.post(reverse(ALIAS_CHANGELIST), data)
    assert response.status_code == 200 and 'name="reason"' in response.content.decode()
    assert f'name="_shown" value="{alias.pk}:{alias.version}"' in response.content.decode()
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"
    response = client.post(reverse(ALIAS_CHANGELIST), {**data, "post": "yes", "reason": ""})
    assert "Give a reason" in response.content.decode()
    client.post(reverse(ALIAS_CHANGELIST), {**data, "post": "yes", "reason": "not a title"})
    assert TitleAlias.objects.get(pk=alias.pk).status == "rejected"
    assert Decision.objects.get(alias=alias).comment == "not a title"


def test_mapping_actions_skip_group_level_with_the_reason(make_user, group_mapping, detailed_mapping):
    client = logged_in(make_user("reviewer"))
    response = client.post(
        reverse(MAPPING_CHANGELIST),
        {"action": "approve_selected", "_selected_action": [group_mapping.pk, detailed_mapping.pk],
         "_shown": shown(group_mapping, detailed_mapping)},
        follow=True,
    )
    html = response.content.decode()
    assert "Approved 1 item; skipped 1." in html
    assert "is a major group, not a detailed occupation" in html
    detailed_mapping.refresh_from_db()
    assert detailed_mapping.status == "approved"


def test_mapping_reject_action(make_user, detailed_mapping):
    client = logged_in(make_user("reviewer"))
    client.post(reverse(MAPPING_CHANGELIST), {"action": "reject_selected", "_selected_action": [detailed_mapping.pk],
                                              "_shown": shown(detailed_mapping), "post": "yes", "reason": "wrong"})
    detailed_mapping.refresh_from_db()
    assert detailed_mapping.status == "rejected"


def test_review_fields_stay_read_only(make_user, alias):
    model_admin = admin.site.get_model_admin(TitleAlias)
    request = type("R", (), {"user": make_user("superuser")})()
    assert {"status", "decided_by", "decided_at"} <= set(model_admin.get_readonly_fields(request, alias))
