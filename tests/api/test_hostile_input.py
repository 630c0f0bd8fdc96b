"""The hostile-input table: every operation, every parameter and body field, every nasty value -> 4xx problem.

Generated from the served OpenAPI document, so a new endpoint is covered the day
it is added. For each operation a plausible request is built from the schema
(examples, defaults, formats); then one value at a time is replaced by a NUL, an
unpaired surrogate, a 1 MB string, ±2^63 or a value of the wrong JSON type. The
answer must be a 4xx `application/problem+json` (never a 5xx, never a success
built on a value the server should have refused), and the org that sent them
owns exactly the rows it owned before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from emporium.platform.db.engine import Database
from emporium.platform.http.problems import PROBLEM_MEDIA_TYPE
from tests.support.identity import Tenant, make_tenant

NUL = "a\x00b"
SURROGATE = "a\ud800b"
HUGE = "x" * 1_000_000
TOO_BIG = 2**63
TOO_SMALL = -(2**63) - 1
# Percent-encoded forms for the URL: a lone surrogate has no UTF-8 encoding, so send the bytes one would get.
URL_VALUES = {"nul": "a%00b", "surrogate": "a%ED%A0%80b", "huge": "x" * 20_000, "too_big": str(TOO_BIG),
              "too_small": str(TOO_SMALL), "not_a_number": "1e3"}  # fmt: skip
BODY_VALUES: dict[str, Any] = {"nul": NUL, "surrogate": SURROGATE, "huge": HUGE, "too_big": TOO_BIG,
                               "too_small": TOO_SMALL}  # fmt: skip
WRONG_TYPE: dict[str, Any] = {"string": 12345, "integer": "5", "boolean": 0, "number": True, "array": "x",
                              "object": [1]}  # fmt: skip


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    where: str  # path, query, header, body
    name: str
    value_kind: str

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} {self.where}:{self.name}={self.value_kind}"


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _resolve(spec, options[0]) if options else schema
    return schema


def sample(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A plausible value for `schema`: its example or default, else one shaped by type and format."""
    schema = _resolve(spec, schema)
    for key in ("examples", "example"):
        if key in schema:
            return schema[key][0] if key == "examples" else schema[key]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: sample(spec, props[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [sample(spec, schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    return {"email": "ada@example.com", "date-time": "2027-01-01T00:00:00Z", "uri": "https://hooks.example.com/e"}.get(
        fmt or "", "Sample1"
    )


def body_fields(spec: dict[str, Any], schema: dict[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[
    tuple[tuple[str | int, ...], str]
]:  # fmt: skip
    """(path, JSON type) of every leaf a client may send, nested objects and first array items included."""
    schema = _resolve(spec, schema)
    if "properties" in schema:
        for name, prop in schema["properties"].items():
            yield from body_fields(spec, prop, (*path, name))
    elif schema.get("type") == "array":
        yield path, "array"
        yield from body_fields(spec, schema.get("items", {}), (*path, 0))
    elif path:
        yield path, schema.get("type") or ("string" if "enum" in schema else "object")


def _set(document: Any, path: tuple[str | int, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(document) if isinstance(document, list) and document else [{}]
        items[0] = _set(items[0], rest, value)
        return items
    copy = dict(document) if isinstance(document, dict) else {}
    copy[head] = _set(copy.get(head, {}), rest, value)
    return copy


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method.upper(), path, operation


def cases(spec: dict[str, Any]) -> Iterator[tuple[Case, dict[str, Any]]]:
    for method, path, operation in operations(spec):
        for param in operation.get("parameters", []):
            numeric = _resolve(spec, param.get("schema", {})).get("type") in {"integer", "number"}
            # A digit string is a fine value for a text parameter; it is hostile only where a number is expected.
            kinds = URL_VALUES if numeric else ["nul", "surrogate", "huge"]
            for kind in kinds:
                yield Case(method, path, param["in"], param["name"], kind), operation
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body is None:
            continue
        for field_path, json_type in body_fields(spec, body):
            name = ".".join(str(p) for p in field_path)
            for kind in [*BODY_VALUES, "wrong_type"]:
                yield Case(method, path, "body", name, kind), {**operation, "_field": (field_path, json_type)}


def build_request(spec: dict[str, Any], case: Case, operation: dict[str, Any]) -> dict[str, Any]:
    url = case.path
    query: list[str] = []
    headers: dict[str, str] = {}
    for param in operation.get("parameters", []):
        hostile = param["in"] == case.where and param["name"] == case.name
        value = URL_VALUES[case.value_kind] if hostile else None
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", value or "zz_missing")
        elif param["in"] == "query" and hostile:
            query.append(f"{param['name']}={value}")
        elif param["in"] == "header":
            if hostile:
                headers[param["name"]] = value.replace("%00", "\x00") if value else ""
            elif param["name"].lower() == "idempotency-key":
                headers[param["name"]] = str(uuid.uuid4())
    if query:
        url += "?" + "&".join(query)
    content: bytes | None = None
    body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body_schema is not None:
        document = sample(spec, body_schema)
        if case.where == "body":
            field_path, json_type = operation["_field"]
            value = WRONG_TYPE.get(json_type, 1) if case.value_kind == "wrong_type" else BODY_VALUES[case.value_kind]
            document = _set(document, field_path, value)
        content = json.dumps(document).encode()  # ensure_ascii: a lone surrogate travels as \ud800
        headers["Content-Type"] = "application/json"
    return {"method": case.method, "url": url, "headers": headers, "content": content}


# Everything an org owns, except the audit log (refused writes are audited on purpose) and idempotency keys
# (a refusal that comes after the key is claimed, e.g. a refund of an unknown order, is stored to be replayed).
OWNED_TABLES = (
    "catalog.category", "catalog.inventory", "catalog.product", "catalog.stock_adjustment", "identity.api_key",
    'identity."user"', "notifications.webhook_endpoint", "notifications.webhook_delivery", "orders.\"order\"",
    "payments.payment", "payments.refund", "platform.outbox",
)  # fmt: skip


async def _owned_rows(pg: asyncpg.Connection, org_id: str) -> dict[str, int]:
    return {t: await pg.fetchval(f"SELECT count(*) FROM {t} WHERE org_id = $1", org_id) for t in OWNED_TABLES}


async def test_no_hostile_value_gets_a_5xx_or_a_success(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    tenant = await make_tenant(db, "Hostile shop")  # its own org: every row it owns is counted before and after
    before = await _owned_rows(pg, tenant.org_id)
    spec = (await app_client.get("/openapi.json")).json()
    auth = {"Authorization": f"Bearer {tenant.owner_key}"}
    failures: list[str] = []
    count = 0
    for case, operation in cases(spec):
        if case.where == "header" and case.name.lower() == "authorization":
            continue
        request = build_request(spec, case, operation)
        request["headers"] = {**auth, **request["headers"]}
        # Neither httpx nor h11 sends a NUL in a header; the ASGI transport does, as a broken proxy could.
        response = await app_client.request(**request)
        count += 1
        ok = 400 <= response.status_code < 500 and response.headers.get("content-type") == PROBLEM_MEDIA_TYPE
        if not ok:
            failures.append(f"{case.id}: {response.status_code} {response.text[:200]}")
    assert count > 500, "the table should cover every operation"
    assert not failures, f"{len(failures)} of {count} hostile requests were not a 4xx problem:\n" + "\n".join(
        failures[:80]
    )
    assert await _owned_rows(pg, tenant.org_id) == before, "a refused request wrote something"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/products/by-sku/%00", "path"),
        ("/v1/products?price[gte]=9223372036854775808", "query.price[gte]"),
        ("/v1/products:cheaper_than?max_amount=9223372036854775808", "query.max_amount"),
        ("/v1/products?name=a%00", "query.name"),
    ],
)
async def test_the_reported_500s_are_422_problems(
    app_client: httpx.AsyncClient, tenant: Tenant, url: str, field: str
) -> None:
    response = await app_client.get(url, headers={"Authorization": f"Bearer {tenant.owner_key}"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    "key",
    [
        ["price", "abc", "x"],
        ["price", True, "x"],
        ["created_at", 1700000000, "x"],
        ["created_at", "2026-01-01T00:00:00+00:00", "prd_\u0000"],
        ["price", 2**70, "x"],
        ["price", 5, 7],
    ],
)
async def test_a_hand_made_cursor_is_a_422(app_client: httpx.AsyncClient, tenant: Tenant, key: list[Any]) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).rstrip(b"=").decode()
    sort = key[0]
    response = await app_client.get(
        f"/v1/products?sort={sort}&cursor={cursor}", headers={"Authorization": f"Bearer {tenant.owner_key}"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == "invalid_cursor"


async def test_a_nul_in_the_idempotency_key_is_a_422_naming_the_header(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await app_client.post(
        "/v1/orders",
        json={},
        headers={"Authorization": f"Bearer {tenant.owner_key}", "Idempotency-Key": "k\x00"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "header.idempotency-key"
