"""/api/v1/suggest: the SOC coder over HTTP, for callers with credentials, throttled."""

from __future__ import annotations

import json

import pytest

from taxonomy.coder import CoderQuery, coder_version, suggest

pytestmark = pytest.mark.django_db


def post(client, body, **headers):
    return client.post("/api/v1/suggest", json.dumps(body), content_type="application/json", **headers)


def test_a_title_gets_the_coders_ranked_codes(client, reader):
    response = post(client, {"title": "Data Engineer", "k": 3}, **reader)
    assert response.status_code == 200
    body = response.json()
    expected = suggest(CoderQuery(title="Data Engineer"), k=3)
    assert [s["code"] for s in body["suggestions"]] == [s.code for s in expected]
    assert body["coder_version"] == coder_version()
    scores = [s["score"] for s in body["suggestions"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert all(s["title"] and isinstance(s["evidence"], list) for s in body["suggestions"])
    assert response["Cache-Control"] == "no-store" and not response.has_header("ETag")


def test_aliases_components_and_story_are_read_too(client, reader):
    body = {
        "title": "Engineer",
        "aliases": ["Machine Learning Engineer"],
        "components": ["Train and deploy machine learning models"],
        "story": "Builds models.",
    }
    response = post(client, body, **reader)
    expected = suggest(CoderQuery(title="Engineer", aliases=("Machine Learning Engineer",),
                                  components=("Train and deploy machine learning models",), story="Builds models."))
    assert [s["code"] for s in response.json()["suggestions"]] == [s.code for s in expected]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x", "k": 0}, "k"),
        ({"title": "x", "k": 21}, "k"),
        ({"title": "x", "aliases": "not a list"}, "aliases"),
        ({"title": "x" * 301}, "title"),
    ],
)
def test_an_invalid_query_is_a_400_problem(client, reader, body, field):
    response = post(client, body, **reader)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


def test_a_body_that_is_not_json_is_a_400_problem(client, reader):
    response = client.post("/api/v1/suggest", "{nope", content_type="application/json", **reader)
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_another_media_type_is_a_415_problem(client, reader):
    response = client.post("/api/v1/suggest", "title=x", content_type="application/x-www-form-urlencoded", **reader)
    assert response.status_code == 415 and response["Content-Type"] == "application/problem+json"


def test_it_needs_credentials_even_when_reading_is_open(client, settings):
    settings.ROLEBOOK_API_ANONYMOUS_SCOPES = ["read", "releases"]
    response = post(client, {"title": "Data Engineer"})
    assert response.status_code == 401


def test_it_is_throttled_per_user(client, reader, settings):
    settings.ROLEBOOK_API_THROTTLE_RATES = {**settings.ROLEBOOK_API_THROTTLE_RATES, "suggest": "2/minute"}
    assert post(client, {"title": "Nurse"}, **reader).status_code == 200
    assert post(client, {"title": "Nurse"}, **reader).status_code == 200
    response = post(client, {"title": "Nurse"}, **reader)
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    # Reading goes on: the coder's own limit is separate.
    assert client.get("/api/v1/occupation-codes?page_size=1", **reader).status_code == 200
