"""/api/v1/ is frozen: the generated OpenAPI schema against the committed openapi-v1.yaml.

A breaking change fails `test_v1_has_no_breaking_change` with what broke. An addition (a new
endpoint, an optional parameter, a new response field) fails only `test_the_committed_schema_is_current`,
which says how to regenerate the file: additions are made on purpose, in the same commit.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer

from api.schema_diff import breaking_changes

COMMITTED = Path(settings.BASE_DIR) / "openapi-v1.yaml"
REGENERATE = "python manage.py spectacular --file openapi-v1.yaml --validate"


def generated() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return yaml.safe_load(OpenApiYamlRenderer().render(schema, renderer_context={}))


@pytest.fixture(scope="module")
def schemas() -> tuple[dict, dict]:
    return yaml.safe_load(COMMITTED.read_text(encoding="utf-8")), generated()


def test_v1_has_no_breaking_change(schemas):
    committed, current = schemas
    assert breaking_changes(committed, current) == []


def test_the_committed_schema_is_current(schemas):
    committed, current = schemas
    assert current == committed, f"/api/v1/ changed without breaking it: regenerate the file with `{REGENERATE}`"


@pytest.mark.django_db
def test_the_served_schema_is_the_generated_one(client, schemas):
    response = client.get("/api/v1/schema")
    assert response.status_code == 200
    assert yaml.safe_load(response.content) == schemas[1]


def test_every_operation_documents_problem_errors_and_every_read_its_validators(schemas):
    _, current = schemas
    for path, item in current["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("400", "401", "403", "404", "429"):
                assert status in responses, (method, path, status)
            if method == "get":
                assert "304" in responses and "ETag" in responses["200"]["headers"], path
    problem = current["components"]["responses"]["NotAuthenticated"]["content"]
    assert list(problem) == ["application/problem+json"]


@pytest.mark.django_db
def test_responses_match_the_schema(client, published, reader, schemas):
    """The hand-written representations against their declared schemas, on real rows."""
    _, current = schemas
    role = published["roles"][0].code
    checks = [
        ("/api/v1/roles", "/api/v1/roles"),
        (f"/api/v1/roles/{role}", "/api/v1/roles/{code}"),
        ("/api/v1/occupation-codes?page_size=3", "/api/v1/occupation-codes"),
        ("/api/v1/occupation-codes/15-2051.01", "/api/v1/occupation-codes/{code}"),
    ]
    for url, path in checks:
        schema = current["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        _validate(current, schema, client.get(url, **reader).json())
    error = client.get("/api/v1/roles/NOPE.X.P1", **reader).json()
    _validate(current, {"$ref": "#/components/schemas/Problem"}, error)


def _validate(document: dict, schema: dict, instance) -> None:
    """Validate against an OpenAPI 3.0 schema (nullable → a null type) with jsonschema."""
    def convert(node):
        if isinstance(node, dict):
            node = {k: convert(v) for k, v in node.items()}
            if node.pop("nullable", False):
                node = {"anyOf": [node, {"type": "null"}]}
            if "$ref" in node:
                node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/$defs/")
            return node
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    full = {**convert(copy.deepcopy(schema)), "$defs": convert(document["components"]["schemas"])}
    jsonschema.validate(instance, full)


# ---------------------------------------------------------------------------------------------
# The checker itself


def _minimal() -> dict:
    return {
        "openapi": "3.0.3",
        "paths": {
            "/things": {
                "get": {
                    "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "kind": {"type": "string", "enum": ["a", "b"]},
                        "size": {"type": "integer"},
                    },
                    "required": ["code", "kind"],
                }
            }
        },
    }


def _change(edit) -> list[str]:
    new = _minimal()
    edit(new)
    return breaking_changes(_minimal(), new)




def _thing(doc: dict) -> dict:
    return doc["components"]["schemas"]["Thing"]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d["paths"].pop("/things"), "GET /things: is gone"),
        (lambda d: _thing(d)["properties"].pop("size"), "is gone"),
        (lambda d: _thing(d)["properties"]["size"].update(type="string"), "type integer became string"),
        (lambda d: _thing(d)["required"].remove("kind"), "is no longer always present"),
        (lambda d: _thing(d)["properties"]["kind"]["enum"].append("c"), "may now hold ['c']"),
        (lambda d: _thing(d)["properties"]["code"].update(nullable=True), "may now be null"),
        (lambda d: d["paths"]["/things"]["get"]["parameters"][0].update(required=True), "is now required"),
        (
            lambda d: d["paths"]["/things"]["get"]["parameters"].append(
                {"name": "must", "in": "query", "required": True, "schema": {"type": "string"}}
            ),
            "is new and required",
        ),
        (lambda d: d["paths"]["/things"]["get"]["responses"].pop("200"), "is no longer documented"),
    ],
)
def test_the_checker_flags_what_breaks_a_client(edit, expected):
    problems = _change(edit)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["paths"].update({"/others": {"get": {"responses": {}}}}),
        lambda d: _thing(d)["properties"].update(extra={"type": "string"}),
        lambda d: d["paths"]["/things"]["get"]["parameters"].append(
            {"name": "page", "in": "query", "schema": {"type": "integer"}}
        ),
        lambda d: d["paths"]["/things"]["get"]["responses"].update({"404": {"description": "none"}}),
        lambda d: _thing(d)["required"].append("size"),
    ],
)
def test_the_checker_lets_additions_through(edit):
    assert _change(edit) == []
