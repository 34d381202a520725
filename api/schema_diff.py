"""Breaking changes between two OpenAPI 3 documents: what /api/v1/ promised and what it now says.

/api/v1/ is frozen once released: tests/api/test_schema.py compares the generated schema with
the committed openapi-v1.yaml and fails on any change that can break a client written against
it. Additions that no client can notice (a new endpoint, an optional parameter, a new response
field) are not breaking. Breaking, from a client's side:

- an operation, a documented status code or a media type of a response is gone;
- a parameter is gone, new and required, or now required; a request field is gone, or newly
  required; a request type changed, an accepted enum value is gone, a limit is tighter;
- a response field is gone, no longer required, newly nullable, of another type or format, or
  may hold an enum value it could not hold before.
"""

from __future__ import annotations

from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REQUEST, RESPONSE = "request", "response"


def _resolve(document: dict, node: Any, seen: tuple[str, ...] = ()) -> Any:
    """`node` with its $ref followed (once per chain, so recursive schemas end)."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen = (*seen, ref)
        target: Any = document
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        node = target
    return node


def _merge_all_of(document: dict, schema: dict) -> dict:
    """drf-spectacular writes a nullable reference as allOf: [ref] + nullable: fold it."""
    if "allOf" not in schema:
        return schema
    merged: dict = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = _merge_all_of(document, _resolve(document, part))
        for key, value in part.items():
            if key == "properties":
                merged.setdefault("properties", {}).update(value)
            elif key == "required":
                merged["required"] = sorted(set(merged.get("required", [])) | set(value))
            else:
                merged.setdefault(key, value)
    return merged


class _Comparer:
    def __init__(self, old: dict, new: dict):
        self.old, self.new = old, new
        self.problems: list[str] = []

    def flag(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def schema(self, old: Any, new: Any, where: str, direction: str, depth: int = 0) -> None:
        old = _merge_all_of(self.old, _resolve(self.old, old or {}))
        new = _merge_all_of(self.new, _resolve(self.new, new or {}))
        if depth > 20 or not isinstance(old, dict) or not isinstance(new, dict):
            return
        for key in ("type", "format"):
            if old.get(key) != new.get(key) and old.get(key) is not None:
                self.flag(where, f"{key} {old.get(key)} became {new.get(key)}")
        old_null, new_null = bool(old.get("nullable")), bool(new.get("nullable"))
        if direction == RESPONSE and new_null and not old_null:
            self.flag(where, "may now be null")
        if direction == REQUEST and old_null and not new_null:
            self.flag(where, "no longer accepts null")
        old_enum, new_enum = old.get("enum"), new.get("enum")
        if old_enum is not None:
            if new_enum is None and direction == RESPONSE:
                self.flag(where, "is no longer limited to its enum values")
            elif new_enum is not None:
                if direction == RESPONSE and set(new_enum) - set(old_enum):
                    self.flag(where, f"may now hold {sorted(map(str, set(new_enum) - set(old_enum)))}")
                if direction == REQUEST and set(old_enum) - set(new_enum):
                    self.flag(where, f"no longer accepts {sorted(map(str, set(old_enum) - set(new_enum)))}")
        if direction == REQUEST:
            for key, tighter in (("maxLength", "<"), ("maxItems", "<"), ("maximum", "<"),
                                 ("minLength", ">"), ("minItems", ">"), ("minimum", ">")):
                if key in new and (key not in old or (new[key] < old[key] if tighter == "<" else new[key] > old[key])):
                    self.flag(where, f"{key} tightened to {new[key]}")
        old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
        old_required, new_required = set(old.get("required") or []), set(new.get("required") or [])
        for name, old_prop in old_props.items():
            if name not in new_props:
                self.flag(f"{where}.{name}", "is gone")
                continue
            self.schema(old_prop, new_props[name], f"{where}.{name}", direction, depth + 1)
        if direction == RESPONSE:
            for name in sorted(old_required - new_required):
                self.flag(f"{where}.{name}", "is no longer always present")
        else:
            for name in sorted(new_required - old_required):
                self.flag(f"{where}.{name}", "is newly required")
        if "items" in old:
            self.schema(old["items"], new.get("items"), f"{where}[]", direction, depth + 1)
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict):
            self.schema(old_extra, new_extra if isinstance(new_extra, dict) else {}, f"{where}{{}}", direction,
                        depth + 1)

    def parameters(self, old_op: dict, new_op: dict, where: str) -> None:
        def by_key(op: dict, document: dict) -> dict:
            return {
                (p["name"], p["in"]): p
                for p in (_resolve(document, p) for p in op.get("parameters") or [])
                if isinstance(p, dict) and "name" in p
            }

        old_params, new_params = by_key(old_op, self.old), by_key(new_op, self.new)
        for key, old_param in old_params.items():
            label = f"{where} parameter {key[0]} ({key[1]})"
            new_param = new_params.get(key)
            if new_param is None:
                self.flag(label, "is gone")
                continue
            if new_param.get("required") and not old_param.get("required"):
                self.flag(label, "is now required")
            self.schema(old_param.get("schema"), new_param.get("schema"), label, REQUEST)
        for key, new_param in new_params.items():
            if key not in old_params and new_param.get("required"):
                self.flag(f"{where} parameter {key[0]} ({key[1]})", "is new and required")

    def body(self, old_op: dict, new_op: dict, where: str) -> None:
        old_body = _resolve(self.old, old_op.get("requestBody") or {})
        new_body = _resolve(self.new, new_op.get("requestBody") or {})
        if new_body.get("required") and not old_body.get("required"):
            self.flag(f"{where} request body", "is now required")
        new_content = new_body.get("content") or {}
        for media_type, old_media in (old_body.get("content") or {}).items():
            if media_type not in new_content:
                self.flag(f"{where} request body", f"no longer accepts {media_type}")
                continue
            self.schema(old_media.get("schema"), new_content[media_type].get("schema"), f"{where} body", REQUEST)

    def responses(self, old_op: dict, new_op: dict, where: str) -> None:
        new_responses = new_op.get("responses") or {}
        for status, old_response in (old_op.get("responses") or {}).items():
            if status not in new_responses:
                self.flag(f"{where} response {status}", "is no longer documented")
                continue
            old_response = _resolve(self.old, old_response)
            new_response = _resolve(self.new, new_responses[status])
            new_content = new_response.get("content") or {}
            for media_type, old_media in (old_response.get("content") or {}).items():
                if media_type not in new_content:
                    self.flag(f"{where} response {status}", f"no longer comes as {media_type}")
                    continue
                self.schema(
                    old_media.get("schema"), new_content[media_type].get("schema"),
                    f"{where} {status} {media_type}", RESPONSE,
                )
            new_headers = new_response.get("headers") or {}
            for header in old_response.get("headers") or {}:
                if header not in new_headers:
                    self.flag(f"{where} response {status}", f"no longer sends {header}")

    def run(self) -> list[str]:
        new_paths = self.new.get("paths") or {}
        for path, old_item in (self.old.get("paths") or {}).items():
            new_item = new_paths.get(path)
            for method in METHODS:
                if method not in old_item:
                    continue
                where = f"{method.upper()} {path}"
                if new_item is None or method not in new_item:
                    self.flag(where, "is gone")
                    continue
                self.parameters(old_item[method], new_item[method], where)
                self.body(old_item[method], new_item[method], where)
                self.responses(old_item[method], new_item[method], where)
        return self.problems


def breaking_changes(old: dict, new: dict) -> list[str]:
    """Every change from `old` to `new` that can break a client of `old` (empty when none)."""
    return _Comparer(old, new).run()
