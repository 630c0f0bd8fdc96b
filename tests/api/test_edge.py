"""The HTTP edge: health probes and errors in one problem+json shape, never FastAPI's default."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from emporium.bootstrap.app import create_app
from emporium.platform.errors import Conflict, FieldError, ValidationFailed
from tests.support.problems import assert_problem


async def test_livez_and_readyz_answer_ok_on_a_migrated_database(app_client: httpx.AsyncClient) -> None:
    assert (await app_client.get("/livez")).json() == {"status": "ok"}
    ready = await app_client.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_readyz_is_503_without_a_runtime() -> None:
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/readyz")
    assert_problem(response, 503, "not_ready")
    assert response.headers["retry-after"] == "1"


async def test_unknown_route_is_a_404_problem(app_client: httpx.AsyncClient) -> None:
    body = assert_problem(await app_client.get("/v1/nothing-here"), 404, "not_found")
    assert body["instance"] == "/v1/nothing-here"


async def test_wrong_method_is_a_405_problem_with_allow(app_client: httpx.AsyncClient) -> None:
    response = await app_client.delete("/livez")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_a_valid_request_id_is_echoed_and_an_invalid_one_replaced(app_client: httpx.AsyncClient) -> None:
    kept = await app_client.get("/livez", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = await app_client.get("/livez", headers={"X-Request-ID": "bad id\twith spaces" * 20})
    assert replaced.headers["x-request-id"].startswith("req_")


class _Line(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)


class _Order(BaseModel):
    lines: list[_Line]


@pytest.fixture
async def probe_client() -> httpx.AsyncClient:
    """The app plus routes that fail in each way, to check the mapping (the routes are test-only)."""
    app: FastAPI = create_app()

    @app.post("/probe/validate")
    async def validate(order: _Order) -> dict[str, int]:
        return {"lines": len(order.lines)}

    @app.get("/probe/conflict")
    async def conflict() -> None:
        raise Conflict("order ord_1 is already paid", order_id="ord_1")

    @app.get("/probe/domain-validation")
    async def domain_validation() -> None:
        raise ValidationFailed("bad lines", errors=[FieldError("lines[1].sku", "unique", "duplicate sku")])

    @app.get("/probe/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_request_validation_is_a_422_naming_field_and_rule(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post("/probe/validate", json={"lines": [{"sku": "a", "quantity": 0}, {"sku": ""}]})
    body = assert_problem(response, 422, "validation_failed")
    assert {(e["field"], e["rule"]) for e in body["errors"]} == {  # type: ignore[union-attr, index]
        ("lines[0].quantity", "greater_than"),
        ("lines[1].sku", "string_too_short"),
        ("lines[1].quantity", "missing"),
    }


async def test_malformed_json_is_a_422_problem(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/probe/validate", content=b"{not json", headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"][0]["rule"] == "json_invalid"  # type: ignore[index]


async def test_domain_errors_keep_their_code_and_extensions(probe_client: httpx.AsyncClient) -> None:
    body = assert_problem(await probe_client.get("/probe/conflict"), 409, "conflict")
    assert body["order_id"] == "ord_1"
    body = assert_problem(await probe_client.get("/probe/domain-validation"), 422, "validation_failed")
    assert body["errors"] == [{"field": "lines[1].sku", "rule": "unique", "message": "duplicate sku"}]


@pytest.mark.provokes_500
async def test_an_unexpected_exception_is_a_500_problem_without_internals(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/probe/crash")
    assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
