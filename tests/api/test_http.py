"""HTTP done once for the whole API: validators and 304s, caching headers, problem details, throttles."""

from __future__ import annotations

import json

import pytest
from django.utils.http import parse_http_date

from review import services
from roles.models import TitleAlias
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

GETS = ("/api/v1/roles", "/api/v1/roles/{code}", "/api/v1/roles/{code}/card", "/api/v1/occupation-codes",
        "/api/v1/occupation-codes/15-2051")


@pytest.mark.parametrize("path", GETS)
def test_every_read_has_validators_and_answers_304_to_a_matching_if_none_match(client, published, reader, path):
    path = path.format(code=published["roles"][0].code)
    first = client.get(path, **reader)
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert parse_http_date(first["Last-Modified"]) > 0
    assert first["Cache-Control"] == "private, no-cache"
    assert "Authorization" in first["Vary"] and "Cookie" in first["Vary"]

    again = client.get(path, HTTP_IF_NONE_MATCH=etag, **reader)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and again["Cache-Control"] == "private, no-cache"
    assert client.get(path, HTTP_IF_NONE_MATCH='"other", ' + etag, **reader).status_code == 304
    assert client.get(path, HTTP_IF_NONE_MATCH="*", **reader).status_code == 304
    assert client.get(path, HTTP_IF_NONE_MATCH='"stale"', **reader).status_code == 200


def test_the_etag_and_last_modified_move_when_published_data_changes(client, published, reader):
    role = published["roles"][0]
    path = f"/api/v1/roles/{role.code}"
    before = client.get(path, **reader)
    pending = TitleAlias.objects.get(alias=f"{role.code} pending")
    services.approve_alias(alias=pending, actor=published["actor"])
    after = client.get(path, HTTP_IF_NONE_MATCH=before["ETag"], **reader)
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert parse_http_date(after["Last-Modified"]) >= parse_http_date(before["Last-Modified"])
    assert f"{role.code} pending" in {a["alias"] for a in after.json()["aliases"]}


def test_the_same_data_gives_the_same_etag_to_every_caller(client, published, make_token):
    path = f"/api/v1/roles/{published['roles'][0].code}"
    one = client.get(path, **bearer(make_token(("read",))[1]))
    two = client.get(path, **bearer(make_token(("read", "releases"))[1]))
    assert one["ETag"] == two["ETag"]


def test_head_gives_the_headers_of_get(client, published, reader):
    get = client.get("/api/v1/roles", **reader)
    head = client.head("/api/v1/roles", **reader)
    assert head.status_code == 200 and head["ETag"] == get["ETag"] and head.content == b""


def test_open_anonymous_reads_are_publicly_cacheable_and_tokens_stay_private(client, published, settings, reader):
    settings.ROLEBOOK_API_ANONYMOUS_SCOPES = ["read"]
    settings.ROLEBOOK_API_CACHE_SECONDS = 120
    anonymous = client.get("/api/v1/roles")
    assert anonymous.status_code == 200 and anonymous["Cache-Control"] == "public, max-age=120"
    assert client.get("/api/v1/roles", **reader)["Cache-Control"] == "private, no-cache"
    assert client.get("/api/v1/releases")["Cache-Control"] == "no-store"  # 401: releases stay closed


def test_errors_are_problem_details_and_never_cached(client, published, reader):
    response = client.get("/api/v1/roles/NO.SUCH.P1", **reader)
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert response["Cache-Control"] == "no-store"
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert body["status"] == 404 and body["title"] == "Not Found" and body["type"] == "about:blank"
    assert body["instance"] == "/api/v1/roles/NO.SUCH.P1"


@pytest.mark.parametrize(
    "method, path, headers, status, code",
    [
        ("get", "/api/v1/roles", {}, 401, "not_authenticated"),
        ("get", "/api/v1/roles", {"HTTP_AUTHORIZATION": "Bearer rb_nope"}, 401, "authentication_failed"),
        ("post", "/api/v1/roles", "reader", 405, "method_not_allowed"),
        ("delete", "/api/v1/roles/X.Y.P1", "reader", 405, "method_not_allowed"),
        ("get", "/api/v1/roles", {"HTTP_ACCEPT": "text/html", **{}}, 406, "not_acceptable"),
        ("get", "/api/v1/no/such/thing", {}, 404, "not_found"),
        ("get", "/api/v1/roles/", "reader", 404, "not_found"),
    ],
)
def test_every_kind_of_error_is_a_problem(client, published, reader, method, path, headers, status, code):
    if headers == "reader":
        headers = reader
    elif status == 406:
        headers = {**headers, **reader}
    response = getattr(client, method)(path, **headers)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert body["type"].startswith("/api/problems/")


def test_problem_types_are_explained_at_their_address(client, published):
    body = client.get("/api/v1/roles").json()
    explanation = client.get(body["type"])
    assert explanation.status_code == 200 and "token" in explanation.content.decode()
    assert client.get("/api/problems/no-such-problem").status_code == 404


def test_a_missing_scope_is_403_with_the_scope_named(client, published, reader):
    response = client.get("/api/v1/releases", **reader)
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="releases"'
    assert response.json()["type"] == "/api/problems/insufficient-scope"


def test_a_nul_byte_is_refused_before_any_query(client, published, reader):
    response = client.get("/api/v1/roles?alias=%00", **reader)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "nul_character" and "NUL" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/roles", "/api/v1/occupation-codes"])
@pytest.mark.parametrize("cursor", ["cD0A", "cD0xNS0AMjA1MQ==", "bz0xJnA9AA==", "cj0xJnA9AA=="])
def test_a_cursor_that_decodes_to_a_nul_is_a_400_problem(client, published, reader, path, cursor):
    """`cD0A` is base64 of "p=\\x00": a position PostgreSQL could not even compare."""
    response = client.get(f"{path}?cursor={cursor}", **reader)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "invalid" and list(body["errors"]) == ["cursor"]


def test_every_api_list_survives_any_decoded_cursor(client, published, make_token, releases_dir):
    """Every list of /api/v1/ (from the URL list) answers a crafted cursor with 200 or a 400 problem, never 5xx."""
    import base64
    import random
    from urllib.parse import parse_qs, urlencode, urlsplit

    from django.urls import get_resolver

    from tests.review.test_url_matrix import CURSOR_ATOMS, crafted_cursors

    headers = bearer(make_token(("read", "releases"))[1])
    lists = [f"/api/v1/{pattern.pattern}" for pattern in get_resolver("api.urls").url_patterns[0].url_patterns
             if getattr(pattern, "name", "") and pattern.name.endswith("-list")]
    assert lists == ["/api/v1/roles", "/api/v1/occupation-codes", "/api/v1/releases"], lists
    rnd = random.Random(7)
    cells = 0
    for path in lists:
        cursors = crafted_cursors()
        following = client.get(path, {"page_size": 1}, **headers).json()["next"]
        if following:
            # The cursor the API wrote, with each of its parts in turn replaced by a crafted value.
            real = parse_qs(base64.b64decode(parse_qs(urlsplit(following).query)["cursor"][0]).decode())
            for key in ("p", "o", "r"):
                for atom in [*CURSOR_ATOMS, "\x00", "1\x00", "-1", "9" * 40, "p" * 5000]:
                    crafted = {**{k: v[0] for k, v in real.items()}, key: str(atom)}
                    cursors.append(base64.b64encode(urlencode(crafted).encode()).decode())
        for cursor in cursors:
            response = client.get(path, {"cursor": cursor, "page_size": rnd.choice(["1", "2", ""])}, **headers)
            cells += 1
            assert response.status_code in (200, 400), (path, cursor, response.status_code)
            if response.status_code == 400:
                assert response["Content-Type"] == "application/problem+json"
                assert list(response.json()["errors"]) == ["cursor"], response.json()
    print(f"\nAPI lists {lists}: {cells} crafted cursors, no 5xx")


def test_throttles_answer_429_with_retry_after(client, published, reader, settings):
    settings.ROLEBOOK_API_THROTTLE_RATES = {**settings.ROLEBOOK_API_THROTTLE_RATES, "user": "2/minute"}
    assert client.get("/api/v1/occupation-codes?page_size=1", **reader).status_code == 200
    assert client.get("/api/v1/occupation-codes?page_size=1", **reader).status_code == 200
    response = client.get("/api/v1/occupation-codes?page_size=1", **reader)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled" and response["Content-Type"] == "application/problem+json"


def test_anonymous_callers_are_throttled_per_address(client, published, settings):
    settings.ROLEBOOK_API_ANONYMOUS_SCOPES = ["read"]
    settings.ROLEBOOK_API_THROTTLE_RATES = {**settings.ROLEBOOK_API_THROTTLE_RATES, "anon": "1/minute"}
    assert client.get("/api/v1/occupation-codes?page_size=1").status_code == 200
    assert client.get("/api/v1/occupation-codes?page_size=1").status_code == 429
    assert client.get("/api/v1/occupation-codes?page_size=1", REMOTE_ADDR="10.9.8.7").status_code == 200


def test_a_bug_is_a_logged_500_problem(client, published, reader, monkeypatch):
    from api import views

    def broken(code):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "role_detail", broken)
    client.raise_request_exception = False
    response = client.get(f"/api/v1/roles/{published['roles'][0].code}", **reader)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert "boom" not in response.content.decode()
    assert json.loads(response.content)["status"] == 500
