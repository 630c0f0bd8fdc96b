"""The OpenAPI document, made to tell the truth about what the server answers (decision 017).

FastAPI's generator knows the routes' bodies and success shapes; it does not
know the edge around them. This pass adds, for every operation, what the edge
and the error mapping really do:

- every error status the operation can produce, each as the shared `Problem`
  schema in `application/problem+json` (with `errors[]` naming each refused
  field on a 422), replacing FastAPI's `HTTPValidationError` in `application/json`;
- the security schemes (API key and JWT, both `Authorization: Bearer`) and,
  per operation, whether credentials are needed;
- request headers (`If-Match` with its ETag pattern where 412 is possible,
  `Idempotency-Key` with its pattern) and response headers (`ETag`, `Location`,
  `Idempotent-Replayed`, `Retry-After`, `RateLimit`, `RateLimit-Policy`, `X-Request-ID`);
- links from each create to the operations on what it created;
- request schemas as strict as the input policy: text without NUL, integers
  within 64 bits, free-form JSON as `JsonValue`;
- component names that read as API names (`Product`, `ProductPage`), not
  Python ones (`PageOut_ProductOut_`, `emporium__modules__…__MoneyOut`).

Which statuses apply follows from facts about the route, not from a hand-kept
list: a gated route can answer 401, 403 and 429; a write 400, 413 and 415
(the edge reads its body); a path parameter 404; any write 409; any route 422 (the input policy
reads every parameter), 500 and 503.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from emporium.platform.http.input_policy import MAX_JSON_DEPTH
from emporium.platform.http.problems import PROBLEM_MEDIA_TYPE
from emporium.platform.input_rules import INT64_MAX, INT64_MIN

IDEMPOTENCY_KEY_PATTERN = "^[!-~]{1,255}$"  # 1-255 visible ASCII characters, as platform.http.idempotency checks
ETAG_PATTERN = r'^(\*|[0-9]{1,18}|(W/)?"[0-9]{1,18}")$'

_REASONS = {
    400: "The request is malformed: a body that is not JSON, or a header in the wrong form",
    401: "No credentials, or credentials that are unknown, revoked or expired",
    403: "The credentials are valid but their role lacks the permission",
    404: "No such resource in your org (another org's ids are not found either)",
    409: "Conflicts with the resource's current state",
    412: "If-Match names a version that is no longer current; read the resource again",
    413: "The body is larger than the server accepts",
    415: "The body is not `application/json`",
    422: "A parameter, header or body field is not valid; `errors[]` names each one",
    429: "Over the request budget of the API key or the org; retry after `Retry-After` seconds",
    500: "An unexpected error; it is logged under the `request_id`",
    503: "Overloaded, or a dependency is away; retry after `Retry-After` seconds",
}
_WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: every error the API returns has this shape.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "`urn:emporium:problem:<code>`", "examples": [
            "urn:emporium:problem:not_found"]},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong, for a human."},
        "code": {"type": "string", "description": "Stable, for programs: branch on this.", "examples": ["not_found"]},
        "instance": {"type": "string", "description": "The request path."},
        "request_id": {"type": "string", "description": "Quote it when asking for help; also in `X-Request-ID`."},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldProblem"}},
    },
    "additionalProperties": True,
}  # fmt: skip
FIELD_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "FieldProblem",
    "type": "object",
    "required": ["field", "rule", "message"],
    "properties": {
        "field": {"type": "string", "description": "`lines[0].sku`, `query.limit`, `header.idempotency-key`, `path`"},
        "rule": {"type": "string", "description": "The rule broken, e.g. `string_too_long`, `int_type`, `missing`."},
        "message": {"type": "string"},
    },
    "additionalProperties": False,
}


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}}


HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": _header("This request's id, also in every problem's `request_id`."),
    "Retry-After": _header("Seconds to wait before retrying.", {"type": "integer", "minimum": 0}),
    "RateLimit": _header('What is left of the budget: `"actor";r=<remaining>;t=<seconds to reset>`.'),
    "RateLimit-Policy": _header('The budget: `"actor";q=<burst>;w=<window seconds>`.'),
    "ETag": _header('The resource\'s version, e.g. `"3"`; send it back in `If-Match`.'),
    "Location": _header("The path of the created resource."),
    "Idempotent-Replayed": _header(
        "`true` when this is the stored answer of an earlier request with the same Idempotency-Key.",
        {"type": "string", "enum": ["true"]},
    ),
}

SECURITY_SCHEMES: dict[str, Any] = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "API key",
        "description": "An API key (`emp_…`), created with `emporium admin create-org` or by an admin through the API: "
        "`Authorization: Bearer <key>`.",
    },
    "jwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT from your OpenID Connect provider, naming the user (`sub`) and the org (`org_id`).",
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_response(status: int, headers: Iterable[str]) -> dict[str, Any]:
    return {
        "description": _REASONS.get(status, "Error"),
        "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in headers},
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}},
    }


def _statuses(method: str, operation: dict[str, Any], gated: bool) -> set[int]:
    params = operation.get("parameters", [])
    statuses = {422, 500, 503}
    if gated:
        statuses |= {401, 403, 429}
    if "requestBody" in operation or method in _WRITE_METHODS:  # the edge reads any write's body
        statuses |= {400, 413, 415}
    if any(p["in"] == "path" for p in params):
        statuses.add(404)
    if gated and method in _WRITE_METHODS:
        statuses.add(409)
    if any(p["in"] == "header" for p in params):
        statuses.add(400)
    return statuses


def _fix_headers(operation: dict[str, Any]) -> bool:
    """Patterns for Idempotency-Key, If-Match where 412 is possible; True when the operation is idempotent."""
    params: list[dict[str, Any]] = operation.setdefault("parameters", [])
    idempotent = False
    for param in params:
        if param["in"] == "header" and param["name"].lower() == "idempotency-key":
            param["schema"] = {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "minLength": 1, "maxLength": 255}
            idempotent = True
    if "412" in operation["responses"] and not any(p["name"].lower() == "if-match" for p in params):
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": ETAG_PATTERN},
                "description": 'The `ETag` you read (e.g. `"3"`): the change applies only to that version, '
                "else 412. Leave it out (or send `*`) to apply it to whatever version is current.",
            }
        )
    if not params:
        del operation["parameters"]
    return idempotent


def _fix_operation(method: str, operation: dict[str, Any], gated: bool) -> None:
    idempotent = _fix_headers(operation)
    responses: dict[str, Any] = operation["responses"]
    for status in _statuses(method, operation, gated) | {int(s) for s in responses if s.startswith(("4", "5"))}:
        declared = responses.get(str(status), {})
        headers = ["X-Request-ID", *(["Retry-After"] if status in (429, 503) else [])]
        if status == 429:
            headers += ["RateLimit", "RateLimit-Policy"]
        problem = _problem_response(status, headers)
        if declared.get("description") and status != 422:
            problem["description"] = declared["description"]
        responses[str(status)] = problem
    success_headers = ["X-Request-ID", *(["RateLimit", "RateLimit-Policy"] if gated else [])]
    success_headers += ["Idempotent-Replayed"] if idempotent else []
    for code, response in responses.items():
        if code.startswith("2"):
            declared_headers = response.setdefault("headers", {})
            for name in success_headers:
                declared_headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})
            if code == "204":
                response.pop("content", None)
    operation["security"] = [{"apiKey": []}, {"jwt": []}] if gated else []


TEXT_PATTERN = "^[^\\u0000]*$"  # ECMA and Python regex alike: no NUL (the input policy refuses it)
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "title": "JsonValue",
    "description": "Free-form JSON the server can store: text without NUL, numbers within ±2^63, "
    f"nesting up to {MAX_JSON_DEPTH} levels.",
    "anyOf": [
        {"type": "string", "pattern": TEXT_PATTERN},
        {"type": "number", "minimum": INT64_MIN, "maximum": INT64_MAX},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {
            "type": "object",
            "propertyNames": {"pattern": TEXT_PATTERN},
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        },
    ],
}


def _harden_node(schema: dict[str, Any]) -> None:
    kind = schema.get("type")
    free_text = not {"pattern", "enum", "format", "const"} & schema.keys()
    if kind == "string" and (free_text or (schema.get("format") in {"uri", "email"} and "pattern" not in schema)):
        schema["pattern"] = TEXT_PATTERN
    if kind == "integer":
        schema.setdefault("minimum", INT64_MIN)
        schema.setdefault("maximum", INT64_MAX)
    if kind == "object" or "properties" in schema:
        if schema.get("additionalProperties") is True:
            schema["additionalProperties"] = _ref("JsonValue")
            schema["propertyNames"] = {"pattern": TEXT_PATTERN}
        elif isinstance(schema.get("additionalProperties"), dict):
            schema.setdefault("propertyNames", {"pattern": TEXT_PATTERN})


def _harden(schema: Any, schemas: dict[str, Any], seen: set[str]) -> None:
    """Make a request schema say what the input policy enforces: no NUL in text, integers within 64 bits,
    free-form values as `JsonValue` (so a generated request that is schema-valid is one the server takes)."""
    if isinstance(schema, list):
        for item in schema:
            _harden(item, schemas, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen and name in schemas:
            seen.add(name)
            _harden(schemas[name], schemas, seen)
        return
    _harden_node(schema)
    for key in ("properties", "$defs"):
        for sub in (schema.get(key) or {}).values():
            _harden(sub, schemas, seen)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            _harden(schema[key], schemas, seen)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if key in schema:
            _harden(schema[key], schemas, seen)


def _harden_requests(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    schemas["JsonValue"] = JSON_VALUE_SCHEMA
    seen: set[str] = {"JsonValue"}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for param in operation.get("parameters", []):
                _harden(param.get("schema"), schemas, seen)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _harden(media.get("schema"), schemas, seen)


def _add_links(document: dict[str, Any]) -> None:
    """OpenAPI links from each create (201 with an `id`) to the operations on `{path}/{id}…`, so a stateful client
    (schemathesis' stateful phase, a code generator) knows which answer feeds which request."""
    paths: dict[str, Any] = document.get("paths", {})
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        links: dict[str, Any] = {}
        prefix = f"{path}/{{id}}"
        for target, target_item in paths.items():
            if target != prefix and not target.startswith(prefix + "/"):
                continue
            for method, operation in target_item.items():
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {"path.id": "$response.body#/id"},
                    "description": f"The created resource's id, for {method.upper()} {target}",
                }
        if links:
            created["links"] = dict(sorted(links.items()))


def _component_names(schemas: dict[str, Any]) -> dict[str, str]:
    """Python names -> API names: `ProductOut` -> `Product`, `PageOut_OrderOut_` -> `OrderPage`, …"""
    renames: dict[str, str] = {}
    for name in schemas:
        new = name
        if "__" in name:  # two models with one class name, FastAPI qualified them by module
            module, short = name.split("__")[-3], name.split("__")[-1]
            new = module.rstrip("s").capitalize() + short
        match = re.fullmatch(r"PageOut_(\w+)_", new)
        if match:
            new = match.group(1) + "Page"
        new = re.sub(r"Out(?=Page$|$)", "", new)
        if new != name:
            renames[name] = new
    taken = set(schemas) - set(renames)
    final: dict[str, str] = {}
    for old, new in renames.items():
        if new not in taken:
            final[old] = new
            taken.add(new)
    return final


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                name = value.rsplit("/", 1)[1]
                out[key] = f"#/components/schemas/{renames.get(name, name)}"
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def truthful_openapi(app: FastAPI, gated_mark: str) -> dict[str, Any]:
    """`gated_mark`: the extension key the routes that need credentials carry on their operation."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        servers=app.servers,
    )
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            _fix_operation(method, operation, bool(operation.pop(gated_mark, False)))

    components = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["FieldProblem"] = FIELD_PROBLEM_SCHEMA
    components["headers"] = HEADERS
    components["securitySchemes"] = SECURITY_SCHEMES
    _harden_requests(document)
    _add_links(document)

    renames = _component_names(schemas)
    components["schemas"] = {renames.get(k, k): v for k, v in schemas.items()}
    for old, new in renames.items():
        if components["schemas"][new].get("title") == old:
            components["schemas"][new]["title"] = new
    renamed: dict[str, Any] = _rename_refs(document, renames)
    app.openapi_schema = renamed
    return renamed
