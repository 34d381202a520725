# ruff: noqa: F811 - pytest fixtures imported from tests.review.conftest
""""Restore this version" from the admin's history: a preview, a reason, then an ordinary content change.

Version N is the N-th row of the object's history, oldest first. A restore goes through the save
services, so a decided alias or mapping goes back to review and the restorer becomes an author.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from framework.audit import MissingReason
from review import services as review_services
from roles import services, workflow
from roles.groups import REVIEWERS
from roles.models import ClassificationMapping, Component, Decision, DecisionKind, Role, TitleAlias
from tests.factories import ComponentFactory, RoleFactory, SpecializationFactory, TitleAliasFactory
from tests.review.conftest import alias, curator, detailed_mapping, reviewer, role, soc  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def version(obj, number: int):
    """History row `number` of `obj` (1 = its first version)."""
    return obj.history.order_by("history_date", "history_id")[number - 1]


def restore_url(obj, number: int | None = None, *, history_id=None) -> str:
    info = f"admin:{obj._meta.app_label}_{obj._meta.model_name}_restore"
    return reverse(info, args=[obj.pk, history_id if history_id is not None else version(obj, number).history_id])


def restore(client, obj, number: int, reason: str = "the edit was wrong", **data):
    """POST the restore form as the preview would, at the object's current version."""
    fresh = type(obj).objects.get(pk=obj.pk)
    return client.post(restore_url(obj, number), {"reason": reason, "version": fresh.version, **data})


def snapshot() -> tuple:
    """Every curated row, its history and the decision log: what a refused restore must leave as it was."""
    return tuple(
        list(model.objects.order_by("pk").values_list())
        for model in (Role, Component, TitleAlias, ClassificationMapping, Decision, TitleAlias.history.model,
                      Role.history.model, ClassificationMapping.history.model, Component.history.model)
    )


@pytest.fixture
def decided_alias(alias, curator, reviewer):
    """ "Data Wrangler" (version 1), renamed by a curator (2), then approved (3)."""
    alias.alias = "Data Wrangler II"
    services.save_alias(alias=alias, actor=curator, reason="rename")
    review_services.approve_alias(alias=alias, actor=reviewer)
    return TitleAlias.objects.get(pk=alias.pk)


@pytest.fixture
def restorer(make_user):
    """A curator who also reviews: may restore, and would approve if four-eyes let them."""
    user = make_user("curator")
    user.groups.add(Group.objects.get(name=REVIEWERS))
    return type(user).objects.get(pk=user.pk)


# ---------------------------------------------------------------------------------------------
# Restores that are made


def test_restoring_a_decided_alias_sends_it_back_to_review(decided_alias, restorer):
    assert decided_alias.status == "approved"
    response = restore(logged_in(restorer), decided_alias, 1, reason="the old title was right")
    assert response.status_code == 302
    assert response.url == reverse("admin:roles_titlealias_history", args=[decided_alias.pk])
    alias = TitleAlias.objects.get(pk=decided_alias.pk)
    assert (alias.alias, alias.status, alias.decided_by, alias.decided_at) == ("Data Wrangler", "pending", None, None)
    returned = Decision.objects.for_item(alias).first()
    assert (returned.decision, returned.actor, returned.from_status, returned.to_status) == (
        DecisionKind.RETURNED, restorer, "approved", "pending")
    assert returned.comment == "restore of version 1: the old title was right"
    record = alias.history.latest()
    assert (record.history_user, record.history_change_reason) == (
        restorer, "restore of version 1: the old title was right")
    assert record.history_type == "~"


def test_the_restorer_becomes_an_author_and_cannot_approve_the_restore(decided_alias, restorer, make_user):
    restore(logged_in(restorer), decided_alias, 1)
    alias = TitleAlias.objects.get(pk=decided_alias.pk)
    assert restorer.pk in alias.author_ids()
    with pytest.raises(workflow.FourEyesViolation, match="cannot approve"):
        review_services.approve_alias(alias=alias, actor=restorer)
    review_services.approve_alias(alias=alias, actor=make_user("reviewer"))
    assert TitleAlias.objects.get(pk=alias.pk).status == "approved"


def test_the_success_message_says_the_item_went_back_to_review(decided_alias, restorer):
    page = logged_in(restorer).post(
        restore_url(decided_alias, 1), {"reason": "undo", "version": decided_alias.version}, follow=True
    ).content.decode()
    assert "Restored version 1 of Data Wrangler (alias)." in page
    assert "went back to review" in page


def test_a_role_is_restored_field_by_field(curator):
    role = RoleFactory(title="Data Engineer", headline="Builds pipelines.")
    role.title, role.headline, role.plan = "Data Plumber", "Fixes pipes.", ["One step."]
    services.save_role(role=role, actor=curator, reason="rewrite")
    response = restore(logged_in(curator), role, 1, reason="the rewrite went too far")
    assert response.status_code == 302
    role.refresh_from_db()
    assert (role.title, role.headline, role.plan) == (
        "Data Engineer", "Builds pipelines.", ["Assess the needs.", "Build the thing.", "Measure it."])
    record = role.history.latest()
    assert (record.history_user, record.history_change_reason) == (
        curator, "restore of version 1: the rewrite went too far")


def test_a_component_is_restored(curator):
    component = ComponentFactory(text="Writes SQL", prevalence="common")
    component.text, component.prevalence = "Writes SQL and Python", "rare"
    services.save_component(component=component, actor=curator, reason="broaden")
    assert restore(logged_in(curator), component, 1).status_code == 302
    component.refresh_from_db()
    assert (component.text, component.prevalence) == ("Writes SQL", "common")
    assert component.history.latest().history_change_reason == "restore of version 1: the edit was wrong"


def test_restoring_a_mapping_code_relinks_the_official_occupation(detailed_mapping, curator, reviewer):
    mapping = detailed_mapping
    mapping.code = "15-1221"
    services.save_mapping(mapping=mapping, actor=curator, reason="recode")
    review_services.approve_mapping(mapping=mapping, actor=reviewer)
    restore(logged_in(curator), mapping, 1)
    mapping = ClassificationMapping.objects.get(pk=mapping.pk)
    assert (mapping.code, mapping.occupation, mapping.status) == ("15-2051", soc("15-2051"), "needs_review")
    assert Decision.objects.for_item(mapping).first().decision == DecisionKind.RETURNED


def test_restore_writes_only_content_never_review_state(decided_alias, curator):
    """Version 1 was pending and undecided: the restore takes its text, not its review state."""
    restore(logged_in(curator), decided_alias, 2)  # version 2: the rename, still pending then
    alias = TitleAlias.objects.get(pk=decided_alias.pk)
    assert alias.alias == "Data Wrangler II"
    assert services.restorable_fields(TitleAlias) == ("role", "alias", "alias_type", "confidence", "source")
    assert "occupation" not in services.restorable_fields(ClassificationMapping)
    assert "version" not in services.restorable_fields(Role)


# ---------------------------------------------------------------------------------------------
# The preview and the history page


def test_the_preview_lists_only_the_differing_content_fields(decided_alias, curator):
    before = snapshot()
    response = logged_in(curator).get(restore_url(decided_alias, 1))
    assert response.status_code == 200
    plan = response.context["plan"]
    # Status, decided_by, decided_at and the version differ too, but they are review state.
    assert [(c.name, c.current, c.restored) for c in plan.changes] == [("alias", "Data Wrangler II", "Data Wrangler")]
    assert plan.number == 1
    page = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    assert f'name="version" value="{decided_alias.version}"' in page
    assert snapshot() == before  # GET writes nothing


def test_the_preview_shows_related_rows_and_choices_by_name(alias, curator):
    other = RoleFactory(title="Statistician")
    alias.role, alias.alias_type = other, TitleAlias.AliasType.HIDDEN
    services.save_alias(alias=alias, actor=curator, reason="move")
    changes = logged_in(curator).get(restore_url(alias, 1)).context["plan"].changes
    assert [(c.name, c.current, c.restored) for c in changes] == [
        ("role", str(other), str(alias.history.earliest().role)),
        ("alias_type", "Hidden", "Common"),
    ]


def test_the_history_page_numbers_versions_and_links_each_to_its_restore(decided_alias, curator, reviewer):
    url = reverse("admin:roles_titlealias_history", args=[decided_alias.pk])
    page = logged_in(curator).get(url).content.decode()
    for number in (1, 2, 3):
        assert f'version {number} · <a href="{restore_url(decided_alias, number)}">Restore this version</a>' in page
    # A reviewer may read the history but not restore: no column, no links.
    page = logged_in(reviewer).get(url).content.decode()
    assert "Restore this version" not in page


def test_version_numbers_count_the_objects_own_rows_oldest_first(decided_alias):
    TitleAliasFactory(role=decided_alias.role)  # another object's rows do not count
    rows = list(decided_alias.history.order_by("history_date", "history_id"))
    assert [services.version_number(row) for row in rows] == [1, 2, 3]


# ---------------------------------------------------------------------------------------------
# Refusals: each writes nothing


def test_nothing_to_restore_when_the_version_equals_the_current_content(decided_alias, curator):
    client = logged_in(curator)
    assert "nothing to restore" in client.get(restore_url(decided_alias, 3)).content.decode()
    before = snapshot()
    response = restore(client, decided_alias, 3)
    assert response.status_code == 200
    assert "Version 3 has the same content" in response.context["error"]
    assert snapshot() == before


def test_a_history_row_of_another_object_is_not_found(decided_alias, curator):
    other = TitleAliasFactory(role=decided_alias.role)
    url = restore_url(decided_alias, history_id=other.history.earliest().history_id)
    client = logged_in(curator)
    before = snapshot()
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "crafted", "version": decided_alias.version}).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("path", ["{pk}/history/abc/restore/", "abc/history/{hid}/restore/",
                                  "{pk}/history/-1/restore/", "{pk}/history/1.5/restore/"])
def test_a_non_numeric_id_is_not_found(decided_alias, curator, path):
    url = reverse("admin:roles_titlealias_changelist") + path.format(
        pk=decided_alias.pk, hid=version(decided_alias, 1).history_id)
    before = snapshot()
    response = logged_in(curator).post(url, {"reason": "crafted", "version": "1"})
    assert response.status_code == 404
    assert snapshot() == before


def test_a_deleted_object_cannot_be_restored(decided_alias, curator):
    url = restore_url(decided_alias, 1)
    services.delete_item(item=decided_alias, actor=curator, reason="duplicate")
    client = logged_in(curator)
    response = client.get(url)
    assert response.status_code == 404
    assert "was deleted" in response.content.decode()
    before = snapshot()
    assert client.post(url, {"reason": "bring it back", "version": "3"}).status_code == 404
    assert snapshot() == before


def test_a_version_pointing_to_a_deleted_row_is_refused_naming_the_field(alias, curator):
    old_role, new_role = alias.role, RoleFactory()
    alias.role = new_role
    services.save_alias(alias=alias, actor=curator, reason="move")
    services.delete_item(item=old_role, actor=curator, reason="role merged")
    client = logged_in(curator)
    preview = client.get(restore_url(alias, 1)).context["plan"]
    assert preview.problem.startswith("role: version 1 points to a row that no longer exists")
    before = snapshot()
    response = restore(client, alias, 1)
    assert response.status_code == 200
    assert response.context["error"].startswith("role: version 1 points to a row that no longer exists")
    assert snapshot() == before


def test_an_edit_since_the_preview_refuses_the_restore(decided_alias, curator, make_user):
    client = logged_in(curator)
    shown = client.get(restore_url(decided_alias, 1)).context["plan"].item.version
    other = make_user("curator", username="otto")
    decided_alias.confidence = Decimal("0.91")
    services.save_alias(alias=decided_alias, actor=other, reason="nudge")
    before = snapshot()
    response = client.post(restore_url(decided_alias, 1), {"reason": "undo", "version": shown})
    assert response.status_code == 200
    assert "changed by otto" in response.context["error"]
    assert "nothing was saved" in response.context["error"]
    assert snapshot() == before
    # The page shows the preview again, against the current version.
    assert response.context["plan"].item.version == shown + 1


def test_a_restore_that_would_duplicate_another_alias_is_refused_naming_the_field(decided_alias, curator):
    TitleAliasFactory(role=decided_alias.role, alias="DATA  wrangler")  # alike, ignoring case and spaces
    client = logged_in(curator)
    preview = client.get(restore_url(decided_alias, 1)).context["plan"]
    assert "alias: this role already has this alias" in preview.problem
    before = snapshot()
    response = restore(client, decided_alias, 1)
    assert "alias: this role already has this alias" in response.context["error"]
    assert snapshot() == before


def test_a_restore_that_would_duplicate_a_role_code_is_refused(curator):
    """The role moved to another specialization; a new role took its old code since."""
    role = RoleFactory()
    first_node, first_code = role.node, role.code
    role.node = SpecializationFactory(parent=first_node.parent)
    role.code = f"{role.node.code}.{role.level.code}"
    services.save_role(role=role, actor=curator, reason="move")
    RoleFactory(node=first_node, level=role.level, code=first_code)
    before = snapshot()
    response = restore(logged_in(curator), role, 1)
    assert response.context["error"] == "Version 1 cannot be restored: code: Role with this Code already exists."
    assert snapshot() == before


def test_a_user_without_the_change_permission_is_refused(decided_alias, reviewer):
    client = logged_in(reviewer)
    before = snapshot()
    assert client.get(restore_url(decided_alias, 1)).status_code == 403
    response = client.post(restore_url(decided_alias, 1), {"reason": "x", "version": decided_alias.version})
    assert response.status_code == 403
    assert snapshot() == before


def test_an_anonymous_user_is_sent_to_the_login(decided_alias):
    before = snapshot()
    response = Client().post(restore_url(decided_alias, 1), {"reason": "x", "version": decided_alias.version})
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert snapshot() == before


@pytest.mark.parametrize("reason", [None, "", "   ", "\u200b\u2060"])
def test_a_restore_needs_a_reason(decided_alias, curator, reason):
    data = {"version": decided_alias.version, **({"reason": reason} if reason is not None else {})}
    before = snapshot()
    response = logged_in(curator).post(restore_url(decided_alias, 1), data)
    assert response.status_code == 200
    assert "Give a reason for the restore" in response.context["error"]
    assert snapshot() == before


def test_a_post_without_the_version_shown_is_refused(decided_alias, curator):
    before = snapshot()
    response = logged_in(curator).post(restore_url(decided_alias, 1), {"reason": "undo"})
    assert "has no version" in response.context["error"]
    assert snapshot() == before


def test_csrf_stays_on(decided_alias, curator):
    client = logged_in(curator, enforce_csrf_checks=True)
    before = snapshot()
    assert restore(client, decided_alias, 1).status_code == 403
    assert snapshot() == before


def test_the_service_refuses_a_missing_reason_before_anything_else(decided_alias, curator):
    with pytest.raises(MissingReason, match="Give a reason for the restore"):
        services.restore_version(model=TitleAlias, object_id=decided_alias.pk,
                                 history_id=version(decided_alias, 1).history_id, actor=curator, reason=" ",
                                 expected_version=decided_alias.version)
