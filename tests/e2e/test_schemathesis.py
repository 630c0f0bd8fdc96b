"""Schemathesis (pinned, every check, fixed seed, stateful phase on) against a real server: 0 failures.

The server runs as `emporium serve` on the session's database; the run uses an
owner API key of its own org, a product with stock under the example SKU so
orders can succeed, and `tests/fuzz/hooks.py` for the two things a generator
cannot know (opaque cursors; not revoking its own key). Examples per operation
come from FUZZ_EXAMPLES: 5 in `make test`, 50 in `make soak` (CI), 500 in `make fuzz`. `make test` skips the
coverage phase (a deterministic boundary sweep of every parameter: ~80 s of the ~110 s its run took at 15
examples, whatever the example count) and keeps the examples, fuzzing (positive and negative data, every
operation, every check) and stateful phases; `make soak` and `make fuzz` run every phase (decision 036).
The server's log must show no unhandled error: a 500 that every check tolerated still fails the test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from emporium.platform.db.engine import Database
from tests.services import ROOT, SOAK, scaled
from tests.support.identity import bearer, make_tenant
from tests.support.processes import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.soak]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or scaled(5, 50))
EVERY_PHASE = SOAK or bool(os.environ.get("FUZZ_EXAMPLES"))  # `make soak`, `make fuzz`
PHASES = "examples,coverage,fuzzing,stateful" if EVERY_PHASE else "examples,fuzzing,stateful"
SEED = os.environ.get("FUZZ_SEED", "1")


async def _stock_the_example_sku(base_url: str, key: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=bearer(key)) as client:
        product = await client.post(
            "/v1/products",
            json={"sku": "TSHIRT-RED-M", "name": "Red T-shirt, M", "price": {"amount": 1999, "currency": "EUR"}},
        )
        assert product.status_code == 201, product.text
        stocked = await client.post(
            f"/v1/products/{product.json()['id']}/inventory/adjustments",
            json={"kind": "restock", "quantity": 1_000_000, "reason": "fuzz stock"},
        )
        assert stocked.status_code == 201, stocked.text


@pytest.mark.timeout(1800)
async def test_schemathesis_finds_nothing(database_url: str, db: Database, tmp_path: Path) -> None:
    shop = await make_tenant(db, "Fuzz shop")
    server = ServerProcess(
        {
            "DATABASE_URL": database_url,
            "CRON_ENABLED": "false",
            "EVENTS_DISPATCH": "false",
            # Nobody delivers events here, so after OUTBOX_SHED_AGE the backlog would shed writes (decision 018):
            # a consequence of this setup, not of the API under test.
            "OUTBOX_SHED_AGE": "86400",
            "WEBHOOKS_DELIVER": "false",
            "RATE_LIMIT_PER_KEY": "1000000",
            "RATE_LIMIT_PER_ORG": "1000000",
            "LOG_LEVEL": "warning",
        },
        tmp_path / "server.log",
    )
    try:
        await asyncio.to_thread(server.wait_ready)
        await _stock_the_example_sku(server.base_url, shop.owner_key)
        command = [
            sys.executable, "-m", "schemathesis.cli",
            "--config-file", str(ROOT / "tests" / "fuzz" / "schemathesis.toml"),
            "run", f"{server.base_url}/openapi.json",
            "--checks", "all",
            "--max-examples", str(EXAMPLES),
            "--phases", PHASES,
            "--seed", SEED,
            "--header", f"Authorization: Bearer {shop.owner_key}",
            "--no-color",
        ]  # fmt: skip
        env = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
            "PYTHONPATH": str(ROOT),
            "FUZZ_PROTECTED_IDS": shop.owner_principal.actor_id,
        }
        result = await asyncio.to_thread(
            subprocess.run, command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1700, check=False
        )
    finally:
        server.stop()
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis found failures:\n{report[-20_000:]}"
    assert "Stateful" in report, "the stateful phase did not run"
    assert "unhandled_error" not in server.output(), f"the server logged an unhandled error:\n{server.output()[-5000:]}"
