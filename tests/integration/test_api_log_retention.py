"""The API request log's purge job deletes what is older than the retention and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from emporium.modules.oversight import workflows as oversight
from emporium.modules.oversight.workflows import api_logs
from emporium.platform.db.engine import Database
from emporium.platform.requestlog import RequestRecord
from tests.support.identity import make_tenant


def _record(org_id: str, days_ago: float, request_id: str) -> RequestRecord:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return RequestRecord(at, org_id, "api_key", "key_x", "GET", "/v1/orgs/me", 200, 1.0, None, request_id)


async def test_purge_deletes_only_requests_past_the_retention(
    db: Database, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await make_tenant(db, "Retention")
    old = [_record(shop.org_id, 31 + i / 100, f"req_old_{i}") for i in range(7)]
    recent = [_record(shop.org_id, 29, "req_recent"), _record(shop.org_id, 0, "req_now")]
    await oversight.record_api_requests(db, old + recent)
    monkeypatch.setattr(api_logs, "PURGE_BATCH", 3)  # several batches
    deleted = await oversight.purge_api_requests(db, retention_days=30)
    assert deleted >= 7  # other tests' rows are recent, so these are the only old ones
    left = await pg.fetch("SELECT request_id FROM oversight.api_request WHERE org_id = $1", shop.org_id)
    assert sorted(row["request_id"] for row in left) == ["req_now", "req_recent"]
