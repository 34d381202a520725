"""Who may call what: every API endpoint (from the URL resolver) against every kind of caller.

A cell is one (endpoint, caller). Callers without the endpoint's scope must be refused (401
without valid credentials, 403 with credentials lacking the scope); a success among them is an
unauthorised success, and the target is none. Callers with the scope must succeed (the positive
control: a refusal there would make the refusals above meaningless).
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from api.models import ApiToken
from api.services import create_token, revoke_token
from publishing.store import publish_release
from tests.api.conftest import bearer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Addresses of the namespace that are not data endpoints: the schema and its viewers are public.
NOT_ENDPOINTS = {"schema", "docs", "redoc", "not-found"}
CALLERS = (
    "anonymous",
    "malformed header",
    "unknown token",
    "revoked token",
    "inactive user's token",
    "token without the scope",
    "token with the scope",
    "session user",
)


def api_url_names() -> set[str]:
    """Every named address under /api/v1/, from the resolver, so a new endpoint joins the matrix."""
    resolver = next(
        p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and str(p.pattern) == "api/"
    )
    v1 = next(p for p in resolver.url_patterns if isinstance(p, URLResolver) and p.namespace == "api-v1")
    return {p.name for p in v1.url_patterns if p.name}


def endpoints(role_code: str, version: str) -> dict[str, list[tuple[str, str, str, dict | None]]]:
    """URL name → [(scope, method, path, body)], one per concrete request."""
    return {
        "role-list": [("read", "get", "/api/v1/roles?page_size=2", None)],
        "role-detail": [("read", "get", f"/api/v1/roles/{role_code}", None)],
        "role-card": [("read", "get", f"/api/v1/roles/{role_code}/card", None)],
        "occupation-code-list": [("read", "get", "/api/v1/occupation-codes?page_size=5", None)],
        "occupation-code-detail": [("read", "get", "/api/v1/occupation-codes/15-2051", None)],
        "release-list": [("releases", "get", "/api/v1/releases", None)],
        "release-detail": [("releases", "get", f"/api/v1/releases/{version}", None)],
        "release-download": [
            ("releases", "get", f"/api/v1/releases/{version}/download/{fmt}", None)
            for fmt in ("all", "fixtures", "csv", "skos")
        ],
        "suggest": [("read", "post", "/api/v1/suggest", {"title": "Data Engineer", "k": 2})],
    }


def caller_client(caller: str, scope: str) -> Client:
    """A test client acting as `caller` for an endpoint that needs `scope`."""
    client = Client()
    other = "releases" if scope == "read" else "read"
    if caller == "anonymous":
        pass
    elif caller == "malformed header":
        client.defaults.update({"HTTP_AUTHORIZATION": "Bearer two words"})
    elif caller == "unknown token":
        client.defaults.update(bearer("rb_" + "x" * 43))
    elif caller == "revoked token":
        token, secret = create_token(user=UserFactory(), name="r", scopes=["read", "releases"])
        revoke_token(token=token, actor=token.user)
        client.defaults.update(bearer(secret))
    elif caller == "inactive user's token":
        user = UserFactory()
        _, secret = create_token(user=user, name="i", scopes=["read", "releases"])
        user.is_active = False
        user.save()
        client.defaults.update(bearer(secret))
    elif caller == "token without the scope":
        client.defaults.update(bearer(create_token(user=UserFactory(), name="o", scopes=[other])[1]))
    elif caller == "token with the scope":
        client.defaults.update(bearer(create_token(user=UserFactory(), name="w", scopes=[scope])[1]))
    elif caller == "session user":
        client.force_login(UserFactory(is_staff=False))
    return client


def allowed(caller: str, scope: str, anonymous_scopes: set[str], method: str) -> bool:
    if caller in ("token with the scope", "session user"):
        return True
    # Settings may open scopes to requests without credentials, never the SOC coder (POST).
    return caller == "anonymous" and scope in anonymous_scopes and method == "get"


def call(client: Client, method: str, path: str, body: dict | None):
    if method == "post":
        return client.post(path, json.dumps(body), content_type="application/json")
    return client.get(path)


def walk(role_code: str, version: str, anonymous_scopes: set[str]) -> tuple[int, list[str], list[str]]:
    """Return (cells, unauthorised successes, refused rightful callers) over the whole matrix."""
    cells, unauthorised, refused = 0, [], []
    for _name, requests in sorted(endpoints(role_code, version).items()):
        for scope, method, path, body in requests:
            for caller in CALLERS:
                response = call(caller_client(caller, scope), method, path, body)
                cells += 1
                ok = 200 <= response.status_code < 300
                if allowed(caller, scope, anonymous_scopes, method):
                    if not ok:
                        refused.append(f"{caller} {method.upper()} {path}: {response.status_code}")
                    continue
                if ok:
                    unauthorised.append(f"{caller} {method.upper()} {path}: {response.status_code}")
                    continue
                expected = 403 if caller in ("token without the scope",) else 401
                if response.status_code != expected or response["Content-Type"] != "application/problem+json":
                    refused.append(f"{caller} {path}: {response.status_code} (expected {expected} problem)")
    return cells, unauthorised, refused


@pytest.fixture
def world(published, releases_dir):
    publish_release(version="1.0.0")
    return published["roles"][0].code, "1.0.0"


def test_the_matrix_covers_every_endpoint():
    names = api_url_names() - NOT_ENDPOINTS
    assert names == set(endpoints("X", "1.0.0"))


def test_no_caller_without_the_scope_gets_data(world, capsys):
    role_code, version = world
    cells, unauthorised, refused = walk(role_code, version, anonymous_scopes=set())
    with capsys.disabled():
        print(f"\naccess matrix (closed): {cells} cells, {len(unauthorised)} unauthorised successes")
    assert unauthorised == []
    assert refused == []
    assert cells == 12 * len(CALLERS)


@pytest.mark.parametrize("opened", [["read"], ["read", "releases"]])
def test_settings_open_exactly_the_scopes_they_name_to_anonymous_callers(world, settings, opened, capsys):
    settings.ROLEBOOK_API_ANONYMOUS_SCOPES = opened
    role_code, version = world
    cells, unauthorised, refused = walk(role_code, version, anonymous_scopes=set(opened))
    with capsys.disabled():
        print(f"\naccess matrix (anonymous {'+'.join(opened)}): {cells} cells, {len(unauthorised)} unauthorised")
    assert unauthorised == []
    assert refused == []


def test_a_session_needs_the_csrf_token_to_post(published):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    response = client.post("/api/v1/suggest", json.dumps({"title": "Data Engineer"}), content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_bearer_token_wins_over_a_session(published, make_token):
    """A request carrying a token acts with the token's scopes, whoever is logged in."""
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    _, secret = make_token(("read",))
    assert client.get("/api/v1/releases", **bearer(secret)).status_code == 403
    assert client.get("/api/v1/releases").status_code == 200


def test_the_schema_and_its_viewers_are_public(client):
    assert client.get("/api/v1/schema").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/api/v1/redoc").status_code == 200


def test_scopes_are_all_the_api_knows():
    assert set(ApiToken.Scope.values) == {"read", "releases"}
