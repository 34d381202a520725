"""Every URL under /review/ and /roles/, as every kind of user, by GET and by POST.

The URL list comes from the project's URL resolver (namespaces review, releases and roles), so
a page added later is walked too. Pages need the view permission (anonymous users are sent to
the login page, staff without a group get 403); decisions need the review permission. A state
change or a page shown to someone without the permission it needs is an unauthorised success;
the target is none.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from review.groups import REVIEW_ALIAS, REVIEW_MAPPING
from roles.models import RoleSuggestions
from tests.factories import ClassificationMappingFactory, TitleAliasFactory, UserFactory
from tests.review.conftest import soc

NAMESPACES = ("review", "releases", "roles")
USERS = ("anonymous", "staff", "curator", "reviewer", "superuser")

pytestmark = pytest.mark.django_db


def walk(patterns, namespace: str = "") -> list[tuple[str, URLPattern]]:
    """(namespaced name, pattern) for every named URL under the project's namespaces."""
    found = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or namespace
            found += walk(entry.url_patterns, inner)
        elif entry.name and namespace in NAMESPACES:
            found.append((f"{namespace}:{entry.name}", entry))
    return found


def state() -> tuple:
    # The coder's per-role cache is derived data that any page view may refresh: not counted.
    return tuple(
        (m._meta.label, list(m._default_manager.order_by("pk").values_list()))
        for m in apps.get_models()
        if m._meta.app_label in ("taxonomy", "roles") and m._meta.managed and m is not RoleSuggestions
    )


def test_every_review_and_roles_url_refuses_unauthorised_users(make_user, seed_role, reference_soc):
    users = {kind: make_user(kind) if kind != "staff" else UserFactory(is_staff=True) for kind in USERS}
    creator = make_user("curator")
    alias = TitleAliasFactory(role=seed_role, alias="Matrix Alias", created_by=creator)
    mapping = ClassificationMappingFactory(role=seed_role, occupation=soc("15-2051"), created_by=creator)
    kwargs_for = {"pk": lambda name: alias.pk if "alias" in name else mapping.pk, "code": lambda name: seed_role.code}
    posts = {
        "approve": {"comment": "ok", "confirm_group_level": "on", "version": ""},
        "reject": {"reason": "matrix"},
        "reopen": {"reason": "matrix"},
        "refine": {"code": "15-2051"},
        "alias-bulk": {"ids": [alias.pk], "action": "approve"},
        "alias-threshold": {"threshold": "0.1", "confirm": "on"},
    }
    routes = walk(get_resolver().url_patterns)
    assert len(routes) >= 15, routes
    cells = unauthorised = controls = 0
    failures = []
    for name, pattern in routes:
        kwargs = {key: kwargs_for[key](name) for key in pattern.pattern.converters}
        url = reverse(name, kwargs=kwargs)
        action = next((key for key in posts if name.endswith(key)), None)
        if name.startswith("review:") and "codes" in name:
            url += "?under=15-0000&q=data"
        for kind in USERS:
            user = users[kind]
            client = Client()
            if user is not None:
                client.force_login(user)
            may_view = user is not None and user.has_perm("roles.view_titlealias")
            may_decide = user is not None and (user.has_perm(REVIEW_ALIAS) or user.has_perm(REVIEW_MAPPING))
            with transaction.atomic():
                before = state()
                get = client.get(url)
                post = client.post(url, posts.get(action, {"reason": "matrix"}))
                changed = state() != before
                transaction.set_rollback(True)
            cells += 2
            for method, response in (("GET", get), ("POST", post)):
                assert response.status_code < 500, (name, kind, method, response.status_code)
            # Release pages and the threshold preview are for deciders; the rest for viewers.
            may_see = may_decide if name.startswith("releases:") or name.endswith("threshold") else may_view
            ok = not (changed and not may_decide) and not (get.status_code == 200 and not may_see)
            if kind == "anonymous":
                ok = ok and get.status_code == 302 and "/login/" in get["Location"]
            # The positive control: a reviewer's POST of the same form does decide.
            controls += kind == "reviewer" and action is not None and changed
            if not ok:
                unauthorised += 1
                failures.append(f"{kind} {name} GET {get.status_code} POST {post.status_code} changed={changed}")
    print(f"\n/review/ and /roles/ matrix: {cells} cells, {controls} reviewer decisions as controls, "
          f"{unauthorised} unauthorised successes")
    assert not failures, "\n".join(failures)
    # Approve and reject, of an alias and of a mapping (the reopens find them pending; the bulk and
    # threshold forms carry no signed list of what was shown, so they are refused as they should be).
    assert controls >= 4
