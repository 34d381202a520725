"""Every admin URL of the project's models, as every kind of user: who can change what.

The URL list comes from the admin site's registry (`ModelAdmin.get_urls()`), so a model or a
view added later is walked too, library views included (simple-history's history form, the
delete confirmation). Each URL is fetched and then POSTed a plausible form: the one that
succeeds for a superuser wherever the admin lets anyone change anything (a positive control, so
a refused POST means refused, not malformed). A state change by a user who lacks the permission
that URL needs is an unauthorised success; the target is none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Max
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from review import services
from roles import services as role_services
from roles.models import (
    Assignment,
    ClassificationMapping,
    Component,
    Decision,
    Deprecation,
    Role,
    RoleSuggestions,
    Sample,
    TitleAlias,
)
from taxonomy.models import Level, OccupationCode, TaxonomyNode
from tests.admin_forms import change_form_data
from tests.factories import (
    ClassificationMappingFactory,
    ComponentFactory,
    LevelFactory,
    RoleFactory,
    SpecializationFactory,
    TitleAliasFactory,
    UserFactory,
)
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("taxonomy", "roles", "review")
USERS = ("anonymous", "staff", "curator", "reviewer", "lead", "superuser")


def project_admins() -> list[tuple[type, admin.ModelAdmin]]:
    return sorted(
        ((m, ma) for m, ma in admin.site._registry.items() if m._meta.app_label in PROJECT_APPS),
        key=lambda pair: pair[0]._meta.label,
    )


def state() -> tuple:
    """Every row of the project's tables, history and decision log included.

    The 2,463 official occupation codes are summarised by count, highest version and latest
    history row (every write bumps one), to keep the walk quick; the coder's per-role cache is
    derived data that page views refresh, so it is not counted.
    """
    rows = []
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS or not model._meta.managed or model is RoleSuggestions:
            continue
        manager = model._default_manager
        if model is OccupationCode:
            rows.append((model._meta.label, manager.count(), manager.aggregate(Max("version"))))
        elif model is OccupationCode.history.model:
            rows.append((model._meta.label, manager.count(), manager.aggregate(Max("history_id"))))
        else:
            rows.append((model._meta.label, list(manager.order_by("pk").values_list())))
    return tuple(rows)


@dataclass
class World:
    users: dict
    objects: dict
    add_overrides: dict
    change_overrides: dict


@pytest.fixture
def world(make_user, reference_soc):
    users = {kind: make_user(kind) if kind != "staff" else UserFactory(is_staff=True) for kind in USERS}
    users["anonymous"] = None
    creator = make_user("curator")
    level = LevelFactory(code="P1")
    spec = SpecializationFactory()
    spare = SpecializationFactory(parent=spec.parent)
    role = RoleFactory(node=spec, level=level)
    component = ComponentFactory(role=role)
    alias = TitleAliasFactory(role=role, alias="Matrix Alias", created_by=creator)
    decided = TitleAliasFactory(role=role, alias="Decided Alias", created_by=creator)
    services.reject_alias(alias=decided, actor=make_user("reviewer"), reason="not a title")
    mapping = ClassificationMappingFactory(role=role, occupation=soc("15-2051"), created_by=creator)
    sampled = TitleAliasFactory(role=role, alias="Sampled Alias", created_by=creator)
    with override_settings(REVIEW_SAMPLE_SHARE=1.0):
        services.approve_alias(alias=sampled, actor=make_user("reviewer"))
    # A second version of each restorable object, so that restoring its first changes something.
    role_services.save_role(role=_edited(role, title="Matrix role, renamed"), actor=creator, reason="matrix")
    role_services.save_component(component=_edited(component, text="Matrix component, renamed"), actor=creator,
                                 reason="matrix")
    role_services.save_alias(alias=_edited(alias, confidence=Decimal("0.66")), actor=creator, reason="matrix")
    role_services.save_mapping(mapping=_edited(mapping, title="Matrix mapping, renamed"), actor=creator,
                               reason="matrix")
    # A proposal to deprecate another role (the add form proposes one for a third).
    doomed = RoleFactory(node=SpecializationFactory(parent=spec.parent), level=level)
    proposed = role_services.propose_deprecation(item=doomed, actor=creator, reason="matrix")
    third = RoleFactory(node=SpecializationFactory(parent=spec.parent), level=level)
    objects = {
        Level: level,
        TaxonomyNode: spec.parent,
        OccupationCode: soc("15-2051"),
        Role: role,
        Component: component,
        TitleAlias: alias,
        ClassificationMapping: mapping,
        Decision: Decision.objects.get(alias=decided),
        Assignment: Assignment.objects.create(node=spec.parent, reviewer=users["reviewer"]),
        Sample: Sample.objects.get(alias=sampled),
        Deprecation: proposed,
    }
    add_overrides = {
        Level: {"code": "P9", "rank": "9", "name": "Ninth"},
        TaxonomyNode: {"code": "MATRIXFAM", "name": "Matrix family"},
        Role: {"code": f"{spare.code}.P1", "node": str(spare.pk)},
        Component: {"text": "A new component"},
        TitleAlias: {"alias": "A New Alias"},
        ClassificationMapping: {"code": "15-2041", "title": "Statisticians"},
        Assignment: {"node": str(spare.pk), "reviewer": str(users["curator"].pk)},
        Deprecation: {"role": str(third.pk), "reason": "matrix"},
    }
    change_overrides = {
        Level: {"name": "Renamed level"},
        TaxonomyNode: {"name": "Renamed family"},
        Role: {"title": "Renamed role"},
        Component: {"text": "Renamed component"},
        TitleAlias: {"confidence": "0.71"},
        ClassificationMapping: {"title": "Renamed title"},
        Assignment: {"note": "due with the spring release"},
    }
    return World(users, objects, add_overrides, change_overrides)


def _edited(obj, **values):
    for name, value in values.items():
        setattr(obj, name, value)
    return obj


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _request(user):
    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    return request


def _form_data(page, *, main_only: bool = False) -> dict:
    data = change_form_data(page)
    if main_only:
        # An add form's inlines start empty; keep their management forms only.
        data = {k: v for k, v in data.items() if "-" not in k or k.endswith(("TOTAL_FORMS", "INITIAL_FORMS",
                                                                              "MIN_NUM_FORMS", "MAX_NUM_FORMS"))}
    return data


def _posts(model, model_admin, name: str, obj, world: World, superclient: Client) -> list[tuple[str, str, dict]]:
    """(what, url, data) of the plausible POSTs for one admin URL, and the permission each needs."""
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    kind = "history-form" if name.endswith("_simple_history") else name.rsplit("_", 1)[-1]
    reason = {"change_reason": "permission matrix"}
    if kind == "changelist":
        url = reverse(f"{info}_changelist")
        actions = ["delete_selected", *[a for a in (model_admin.actions or []) if isinstance(a, str)]]
        return [
            (f"action:{action}", url, {"action": action, "_selected_action": [str(obj.pk)], "post": "yes",
                                       "reason": "permission matrix", "index": "0"})
            for action in actions
        ]
    if kind == "add":
        url = reverse(f"{info}_add")
        change_url = reverse(f"{info}_change", args=[obj.pk])
        page = superclient.get(url)
        if page.status_code != 200:
            return [("add", url, {"change_reason": "permission matrix"})]
        data = _form_data(page, main_only=True)
        source = _form_data(superclient.get(change_url), main_only=True)
        # The existing object's values for the main form, its inlines left empty.
        data.update({k: v for k, v in source.items() if "-" not in k and k != "version"})
        return [("add", url, {**data, **world.add_overrides.get(model, {}), **reason})]
    if kind == "change":
        url = reverse(f"{info}_change", args=[obj.pk])
        page = superclient.get(url)
        data = _form_data(page) if page.status_code == 200 and "adminform" in (page.context or {}) else {}
        return [("change", url, {**data, **world.change_overrides.get(model, {}), **reason})]
    if kind == "delete":
        return [("delete", reverse(f"{info}_delete", args=[obj.pk]), {"post": "yes"})]
    if kind == "history":
        return [("history", reverse(f"{info}_history", args=[obj.pk]), {"post": "yes"})]
    if kind == "history-form":
        record = obj.history.order_by("-history_id").first()
        url = reverse(f"{info}_simple_history", args=[obj.pk, record.history_id])
        page = superclient.get(url)
        data = _form_data(page) if page.status_code == 200 and "adminform" in (page.context or {}) else {}
        return [("history-form", url, {**data, **world.change_overrides.get(model, {}), **reason})]
    if kind == "restore":
        record = obj.history.order_by("history_date", "history_id").first()
        url = reverse(f"{info}_restore", args=[obj.pk, record.history_id])
        return [("restore", url, {"reason": "permission matrix", "version": str(obj.version)})]
    if kind == "decide":  # roles_deprecation_decide
        url = reverse(f"{info}_decide", args=[obj.pk])
        return [("decide", url, {"kind": "approve", "reason": "matrix", "version": str(obj.version)})]
    if kind in ("merge", "split"):  # roles_role_merge, roles_role_split: a proposal into a new role
        target = Role.objects.exclude(pk=obj.pk).order_by("pk").first()
        url = reverse(f"{info}_{kind}", args=[obj.pk])
        return [(kind, url, {"target": target.code, "targets": target.code, "reason": "matrix", "propose": "1"})]
    if kind == "cards":  # roles_role_import_cards
        return [("import", url_for_import(), {"preview": "Preview"})]
    raise AssertionError(f"The matrix does not know the admin URL {name}: teach it how to POST there.")


def url_for_import() -> str:
    return reverse("admin:roles_role_import_cards")


def _needed(model, model_admin, what: str, user) -> bool:
    """Whether `user` holds what the POST `what` needs to change anything."""
    if user is None:
        return False
    request = _request(user)
    if what == "add":
        return model_admin.has_add_permission(request)
    if what in ("change", "restore"):
        return model_admin.has_change_permission(request, None)
    if what == "delete":
        return model_admin.has_delete_permission(request, None)
    if what.startswith("action:"):
        action = what.split(":", 1)[1]
        return action in model_admin.get_actions(request)
    if what == "import":
        return user.is_superuser or user.has_perms(["roles.add_role", "roles.change_role"])
    if what == "decide":
        return user.has_perm(Deprecation.REVIEW_PERMISSION)
    if what in ("merge", "split"):
        return user.has_perm("roles.add_deprecation")
    return False  # history pages never change anything


def test_every_admin_url_refuses_unauthorised_changes(world):
    superclient = _client(world.users["superuser"])
    cells = unauthorised = controls = 0
    failures = []
    for model, model_admin in project_admins():
        obj = world.objects[model]
        names = [p.name for p in model_admin.get_urls() if p.name]
        for name in names:
            posts = _posts(model, model_admin, name, obj, world, superclient)
            for what, url, data in posts:
                for kind in USERS:
                    user = world.users[kind]
                    client = _client(user)
                    with transaction.atomic():
                        before = state()
                        get = client.get(url)
                        assert get.status_code < 500, (url, kind, get.status_code)
                        response = client.post(url, data)
                        assert response.status_code < 500, (url, kind, what, response.status_code)
                        changed = state() != before
                        transaction.set_rollback(True)
                    cells += 1
                    allowed = _needed(model, model_admin, what, user)
                    if changed and not allowed:
                        unauthorised += 1
                        failures.append(f"{kind} {what} {url} → {response.status_code}")
                    # (Deletes are refused by PROTECT and the read-only decision log: no control.)
                    if kind == "superuser" and allowed and what in ("add", "change", "restore"):
                        # The positive control: the same POST does work for someone allowed.
                        controls += 1
                        if not changed:
                            failures.append(f"control: superuser {what} {url} changed nothing "
                                            f"({response.status_code}): the matrix's form is not plausible")
    print(f"\nadmin matrix: {cells} cells, {controls} positive controls, {unauthorised} unauthorised successes")
    assert not failures, "\n".join(failures)
    assert unauthorised == 0
    assert cells >= 250  # every URL of 8 admins, as 5 kinds of user


@pytest.mark.parametrize("kind", USERS)
def test_history_form_views_refuse_post_for_every_model(world, kind):
    """Read-only for everyone: 405 (or the login page / 403 before that), never a save."""
    client = _client(world.users[kind])
    for model, model_admin in project_admins():
        names = [p.name for p in model_admin.get_urls() if p.name and p.name.endswith("_simple_history")]
        for name in names:
            obj = world.objects[model]
            record = obj.history.order_by("-history_id").first()
            url = reverse(f"admin:{name}", args=[obj.pk, record.history_id])
            response = client.post(url, {"change_reason": "x", **world.change_overrides.get(model, {})})
            assert response.status_code in (302, 403, 405), (url, kind, response.status_code)
            if kind != "anonymous":
                assert response.status_code in (403, 405)


def test_the_matrix_knows_every_project_admin_url():
    """A new admin URL must be taught to the matrix (it fails loudly instead of being skipped)."""
    kinds = set()
    for _model, model_admin in project_admins():
        for pattern in model_admin.get_urls():
            if pattern.name:
                kinds.add(re.sub(r"^[a-z]+_[a-z]+_", "", pattern.name))
    assert kinds <= {"changelist", "add", "change", "delete", "history", "simple_history", "restore",
                     "import_cards", "decide", "merge", "split"}, kinds


def test_a_confidence_edit_through_the_matrix_form_is_audited(world):
    """The control POST is a real edit: it goes through the service with the reason."""
    alias = world.objects[TitleAlias]
    superclient = _client(world.users["superuser"])
    url = reverse("admin:roles_titlealias_change", args=[alias.pk])
    data = {**_form_data(superclient.get(url)), "confidence": "0.71", "change_reason": "matrix"}
    assert superclient.post(url, data).status_code == 302
    alias.refresh_from_db()
    assert alias.confidence == Decimal("0.71")
    assert alias.history.first().history_change_reason == "matrix"
