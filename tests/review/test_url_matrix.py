"""Every URL under /review/ and /roles/, as every kind of user, by GET and by POST.

The URL list comes from the project's URL resolver (namespaces review, releases and roles), so
a page added later is walked too. Pages need the view permission (anonymous users are sent to
the login page, staff without a group get 403); decisions need the review permission. A state
change or a page shown to someone without the permission it needs is an unauthorised success;
the target is none.
"""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.db import transaction
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from framework.paging import KeysetPage
from publishing.models import ReleaseBuild
from roles.models import ClassificationMapping, RoleSuggestions, TitleAlias
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
    build = ReleaseBuild.objects.create(requested_by=users["reviewer"], state=ReleaseBuild.State.READY,
                                        filename="rolebook-release-1.0.0.zip", archive=b"PK")
    kwargs_for = {"pk": lambda name: alias.pk if "alias" in name else mapping.pk, "code": lambda name: seed_role.code,
                  "build": lambda name: build.pk}
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
            may_decide = user is not None and any(
                user.has_perm(model.REVIEW_PERMISSION) for model in (TitleAlias, ClassificationMapping))
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


# -- fuzz: decoded cursors and `next` ---------------------------------------------------------------

# Values that decode cleanly and still are no position: NULs (PostgreSQL refuses them in text),
# wrong types, sizes past any column, times without an offset or before year 1 in UTC.
CURSOR_ATOMS = [
    "\u0000", "AIMLAM\u0000.GEN.P1", "0.50\u0000", "2026-01-01T00:00:00\u0000+00:00", "2026-01-01T00:00:00",
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "NaN", "Infinity", "-1e999", "", "x" * 3000,
    "15-2051", "AIMLAM.GEN.P1", "0.50", "2026-01-01T00:00:00+00:00", "1", 1e308, float("inf"), float("nan"), -1, 0,
    1.5, 2**63, 10**40, True, None, [], {},
]


def _b64(raw: bytes, rnd: random.Random) -> str:
    text = base64.urlsafe_b64encode(raw).decode()
    return text.rstrip("=") if rnd.random() < 0.5 else text


def crafted_cursors(real: list | None = None, seed: int = 20261203, count: int = 30) -> list[str]:
    """Base64 cursors: random bytes with NULs, broken JSON, random JSON lists, and `real` (a cursor a
    page wrote, decoded) with each of its values in turn replaced by each of CURSOR_ATOMS. Fixed seed."""
    rnd = random.Random(seed)
    raws = [b"\x00", b"p=\x00", b"[\x00]", b"[1,", b"{", b"\xff\xfe", b"null", b'"\\u0000"', b"[]", b"1e400",
            b"[" * 5000]
    for _ in range(count // 2):
        noise = bytearray(rnd.randrange(256) for _ in range(rnd.randrange(1, 48)))
        noise.insert(rnd.randrange(len(noise) + 1), 0)
        raws.append(bytes(noise))
    for _ in range(count - count // 2):
        raws.append(json.dumps([rnd.choice(CURSOR_ATOMS) for _ in range(rnd.randrange(1, 5))]).encode())
    for i in range(len(real or [])):
        for atom in CURSOR_ATOMS:
            raws.append(json.dumps([atom if j == i else value for j, value in enumerate(real)]).encode())
    # And a few that are not base64 at all: non-ASCII, punctuation, padding only, far too long.
    return [_b64(raw, rnd) for raw in raws] + ["é", "not base64!", "=" * 9, "-_" * 3000]


def assert_local(response, what) -> None:
    """A redirect, if any, goes to a path on this site."""
    if response.status_code in (301, 302, 303, 307, 308):
        location = response["Location"]
        parts = urlsplit(location)
        assert location.startswith("/") and not location.startswith("//"), (what, location)
        assert not parts.scheme and not parts.netloc and "\\" not in location, (what, location)


def test_every_keyset_page_survives_any_decoded_cursor(make_user, seed_role, reference_soc, settings):
    """Every list paged by cursor (found from the URL list), in every sort, by after and by before."""
    settings.REVIEW_PAGE_SIZE = settings.REVIEW_MAPPING_PAGE_SIZE = 1
    creator = make_user("curator")
    reviewer = make_user("reviewer")
    for i in range(3):
        TitleAliasFactory(role=seed_role, alias=f"Fuzz Alias {i}", created_by=creator)
    for code in ("15-2051", "13-1111"):
        ClassificationMappingFactory(role=seed_role, occupation=soc(code), created_by=creator)
    client = Client()
    client.force_login(reviewer)
    for alias in seed_role.aliases.order_by("pk")[:2]:  # rows for the decision log
        client.post(reverse("review:alias-reject", args=[alias.pk]), {"reason": "fuzz"})
    pages = []
    for name, pattern in walk(get_resolver().url_patterns):
        if pattern.pattern.converters:
            continue
        context = client.get(reverse(name)).context or {}
        if isinstance(context.get("page"), KeysetPage):
            sort = context.get("filterset") and context["filterset"].form.fields.get("sort")
            pages.append((name, [value for value, _label in sort.choices if value] if sort else [""]))
    assert {name for name, _ in pages} >= {"review:aliases", "review:mappings", "review:decisions"}, pages
    cells = 0
    for name, sorts in pages:
        for sort in sorts:
            first = client.get(reverse(name), {"sort": sort, "status": ""}).context["page"]
            assert first.has_next, (name, sort)
            real = QueryDict(first.next_query)["after"]
            real = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
            for i, cursor in enumerate(crafted_cursors(real)):
                params = {("after", "before")[i % 2]: cursor} if i % 7 else {"after": cursor, "before": cursor}
                response = client.get(reverse(name), {**params, "sort": sort, "status": "", "p": "2"})
                cells += 1
                assert response.status_code < 500, (name, sort, params, response.status_code)
                assert_local(response, (name, params))
    print(f"\nkeyset pages {[n for n, _ in pages]}: {cells} crafted cursors, no 5xx")


NEXT_VALUES = [
    "-1", "//evil.example", "//evil.example/review/", "https://evil.example/", "http://testserver.evil/",
    "javascript:alert(1)", "review:dashboard", "admin:index", "", " ", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/review/\x00", "/" + "a" * 20000, "x" * 20000, "/review/aliases/?status=pending",
]


def test_every_decision_post_redirects_only_to_a_local_path(make_user, seed_role, reference_soc):
    """`next` is followed when it is a path on this site and ignored otherwise; never a 500."""
    creator = make_user("curator")
    reviewer = make_user("reviewer")
    client = Client()
    client.force_login(reviewer)
    alias = TitleAliasFactory(role=seed_role, alias="Next Alias", created_by=creator)
    mapping = ClassificationMappingFactory(role=seed_role, occupation=soc("15-2000"), created_by=creator)
    posts = {
        "approve": {"comment": "ok", "confirm_group_level": "on"},
        "reject": {"reason": "fuzz"},
        "reopen": {"reason": "fuzz"},
        "refine": {"code": "15-2051"},
        "replace": {"code": "13-1111", "reason": "fuzz", "confirm": "on"},
        "alias-bulk": {"ids": [alias.pk], "action": "approve"},
        "alias-threshold": {"threshold": "0.1", "confirm": "on"},
        "undo": {"token": "nope"},
    }
    routes = [(name, pattern) for name, pattern in walk(get_resolver().url_patterns)
              if name.startswith("review:") and any(name.endswith(key) for key in posts)]
    assert len(routes) >= 10, routes
    followed = cells = 0
    for name, pattern in routes:
        kwargs = {key: alias.pk if "alias" in name else mapping.pk for key in pattern.pattern.converters}
        data = next(value for key, value in posts.items() if name.endswith(key))
        for target in NEXT_VALUES:
            with transaction.atomic():
                response = client.post(reverse(name, kwargs=kwargs), {**data, "next": target})
                transaction.set_rollback(True)
            cells += 1
            assert response.status_code < 500, (name, target, response.status_code)
            assert_local(response, (name, target))
            if response.status_code == 302 and response["Location"] == target:
                followed += 1
                assert target == "/review/aliases/?status=pending", (name, target)
    print(f"\ndecision POSTs: {cells} cells, {followed} local `next` followed")
    assert followed >= 8  # the local path is followed by the decisions that go back to where they came from


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_decision_posted_with_next_minus_one_goes_back_to_the_queue(make_user, seed_role, action):
    """`redirect("-1")` would look "-1" up as a URL name (NoReverseMatch, a 500)."""
    alias = TitleAliasFactory(role=seed_role, alias="Minus One", created_by=make_user("curator"))
    client = Client()
    client.force_login(make_user("reviewer"))
    response = client.post(reverse(f"review:alias-{action}", args=[alias.pk]), {"reason": "no", "next": "-1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("review:aliases")
