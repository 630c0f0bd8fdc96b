"""The Lambda entry points run by AWS's own runtime client (`awslambdaric`, a real process) against a Runtime
API stub on loopback (tests/support/lambda_runtime.py): a cold invoke, warm invokes on the same sandbox (the
runtime opened once), problem+json as text, a bad event answered as an error without killing the runtime,
and the SQS consumer's partial batch failures with inbox dedupe.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.lambda_runtime import LambdaRuntimeStub, Outcome
from emporium.modules.orders.events import EventLine, OrderPaid
from emporium.platform.events.contracts import Envelope
from emporium.platform.ids import new_id
from tests.services import ROOT
from tests.support.identity import Tenant

pytestmark = pytest.mark.e2e


def http_event(method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "x-forwarded-proto": "https", **(headers or {})},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "accountId": "000000000000", "apiId": "api", "domainName": "api.example.com", "requestId": new_id("req"),
            "routeKey": "$default", "stage": "$default", "time": "07/Dec/2026:03:00:00 +0000", "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }  # fmt: skip


class LambdaProcess:
    def __init__(self, handler: str, api: LambdaRuntimeStub, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "awslambdaric", handler],
                cwd=ROOT,
                env={"AWS_LAMBDA_RUNTIME_API": api.address, "PATH": "/usr/bin:/bin", "LOG_FORMAT": "json", **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def runtime_api() -> Iterator[LambdaRuntimeStub]:
    with LambdaRuntimeStub() as api:
        yield api


async def invoke(api: LambdaRuntimeStub, event: Any) -> Outcome:
    return await asyncio.to_thread(api.invoke, event)


async def test_the_http_handler_serves_cold_and_warm_invokes_on_one_runtime_and_survives_a_bad_event(
    runtime_api: LambdaRuntimeStub, database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    function = LambdaProcess(
        "emporium.serverless.http_handler",
        runtime_api,
        {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)},
        tmp_path / "http.log",
    )
    try:
        cold = await invoke(runtime_api, http_event("GET", "/livez"))
        assert cold.kind == "response" and cold.body["statusCode"] == 200, (cold, function.output())
        owner = {"authorization": f"Bearer {tenant.owner_key}"}
        for _ in range(3):
            warm = await invoke(runtime_api, http_event("GET", "/v1/auth/whoami", owner))
            assert warm.kind == "response" and warm.body["statusCode"] == 200, (warm, function.output()[-4000:])
            assert json.loads(warm.body["body"])["org_id"] == tenant.org_id  # the pool reached PostgreSQL
        problem = await invoke(runtime_api, http_event("GET", "/v1/orders"))
        assert problem.body["statusCode"] == 401
        assert problem.body["headers"]["content-type"] == "application/problem+json"
        assert problem.body["isBase64Encoded"] is False  # text, readable by API Gateway and people
        assert json.loads(problem.body["body"])["code"] == "unauthenticated"
        bad = await invoke(runtime_api, {"not": "an http event"})
        assert bad.kind == "error" and bad.body["errorType"], bad
        after = await invoke(runtime_api, http_event("GET", "/v1/auth/whoami", owner))
        assert after.kind == "response" and after.body["statusCode"] == 200  # the runtime lives on
        assert function.process.poll() is None
        assert function.output().count("lambda_runtime_opened") == 1  # opened by the cold invoke only
        assert runtime_api.init_errors == []
    finally:
        function.stop()


def sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": new_id("msg"),
        "receiptHandle": "handle",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
    }


def paid_envelope(org_id: str) -> Envelope:
    line = EventLine(sku="MUG-1", name="Mug", quantity=2, unit_price_minor=799, line_total_minor=1598)
    event = OrderPaid(
        order_id=new_id("ord"), order_number=777, payment_id=new_id("pay"), customer_email="c@example.com",
        customer_name="Cy", customer_phone=None, currency="EUR", subtotal_minor=1598, shipping_minor=0,
        total_minor=1598, lines=[line],
    )  # fmt: skip
    return Envelope(
        id=new_id("evt"), name=event.event_name, version=event.event_version, aggregate_type="order",
        aggregate_id=event.order_id, org_id=org_id, payload=event.model_dump(mode="json"),
        occurred_at=datetime.now(UTC),
    )  # fmt: skip


async def test_the_consumer_handler_reports_partial_batch_failures_and_dedupes_redeliveries(
    runtime_api: LambdaRuntimeStub, database_url: str, pg: asyncpg.Connection, tmp_path: Path
) -> None:
    function = LambdaProcess(
        "emporium.serverless.consumer_handler",
        runtime_api,
        {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)},
        tmp_path / "consumer.log",
    )
    org_id = new_id("org")
    paid = json.dumps(paid_envelope(org_id).to_json())
    good, broken, again = sqs_record(paid), sqs_record('{"id": "evt_x", "name": '), sqs_record(paid)
    try:
        outcome = await invoke(runtime_api, {"Records": [good, broken, again]})
        assert outcome.kind == "response", (outcome, function.output())
        assert outcome.body == {"batchItemFailures": [{"itemIdentifier": broken["messageId"]}]}
        rows = await pg.fetch("SELECT number, state FROM documents.document WHERE org_id = $1", org_id)
        assert [(row["number"], row["state"]) for row in rows] == [(1, "stored")]  # once, despite the redelivery
        files = list((tmp_path / "documents" / org_id).rglob("*.pdf"))
        assert len(files) == 1 and files[0].read_bytes().startswith(b"%PDF-")
        not_sqs = await invoke(runtime_api, {"Records": "nope"})
        assert not_sqs.kind == "error"
        second = await invoke(runtime_api, {"Records": [sqs_record(json.dumps(paid_envelope(org_id).to_json()))]})
        assert second.body == {"batchItemFailures": []}  # the runtime lives on, on its open pool
        numbers = await pg.fetch("SELECT number FROM documents.document WHERE org_id = $1 ORDER BY number", org_id)
        assert [row["number"] for row in numbers] == [1, 2]
        assert function.process.poll() is None
        assert function.output().count("lambda_runtime_opened") == 1
    finally:
        function.stop()
