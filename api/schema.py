"""OpenAPI schema additions: the token scheme, and the responses every operation can give.

drf-spectacular describes each view's success response; `add_http_responses` (a
POSTPROCESSING_HOOK) adds what api.http, the permissions and the throttles add to all of them:
problem-details errors, 304 on GET, and the ETag, Last-Modified and Cache-Control headers.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

PROBLEM = "Problem"
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {
            "type": "string",
            "description": "A URI reference naming the problem; about:blank when the status says it all.",
        },
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The path of the request."},
        "code": {"type": "string", "description": "A stable machine-readable name of the problem."},
        "errors": {
            "type": "object",
            "description": "Validation problems: the messages per parameter or field.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail"],
}
# Status → (component name, description) of the error responses every operation can give.
ERRORS = {
    "400": ("InvalidRequest", "The parameters or the body are not valid (`errors` says which)."),
    "401": ("NotAuthenticated", "No credentials, or invalid ones (an unknown or revoked token)."),
    "403": ("InsufficientScope", "The credentials lack the scope the endpoint needs."),
    "404": ("NotFound", "No such resource."),
    "405": ("MethodNotAllowed", "The method is not allowed here."),
    "406": ("NotAcceptable", "None of the accepted media types can be produced."),
    "415": ("UnsupportedMediaType", "The request body is not JSON."),
    "429": ("Throttled", "Too many requests: wait for Retry-After seconds."),
}
HEADERS = {
    "ETag": "A strong validator of the body; send it back in If-None-Match to get 304 while it holds.",
    "Last-Modified": "When the data shown last changed (informative: validate with the ETag).",
    "Cache-Control": "public, max-age=… for anonymous reads that the server opens; otherwise private, no-cache.",
    "Retry-After": "Seconds to wait before the next request.",
}
VALIDATORS = ("ETag", "Last-Modified", "Cache-Control")


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "rb_…",
            "description": "A personal API token, made on /api/tokens/, with the scope the endpoint needs.",
        }


def add_http_responses(result: dict, generator, request, public) -> dict:
    """Add the problem schema, the shared error responses, 304 and the validator headers to every operation."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})[PROBLEM] = PROBLEM_SCHEMA
    components["headers"] = {
        name: {"description": text, "schema": {"type": "string"}} for name, text in HEADERS.items()
    }
    validators = {name: {"$ref": f"#/components/headers/{name}"} for name in VALIDATORS}
    problem = {"application/problem+json": {"schema": {"$ref": f"#/components/schemas/{PROBLEM}"}}}
    shared = {name: {"description": text, "content": problem} for name, text in ERRORS.values()}
    shared["Throttled"]["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    shared["NotModified"] = {"description": "Not modified: the If-None-Match ETag still holds.", "headers": validators}
    components["responses"] = shared
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for status, (name, _text) in ERRORS.items():
                if status == "415" and "requestBody" not in operation:
                    continue
                responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
            if method == "get":
                if "200" in responses:
                    responses["200"].setdefault("headers", {}).update(validators)
                responses.setdefault("304", {"$ref": "#/components/responses/NotModified"})
    return result
