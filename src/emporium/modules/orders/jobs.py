"""Orders' periodic jobs (edge role): recover stuck checkouts, expire authorizations, purge keys."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.encoders import jsonable_encoder

from emporium.modules.orders.schemas import OrderOut
from emporium.orchestrators import recovery
from emporium.platform.cron import Job
from emporium.platform.db.engine import Database
from emporium.platform.idempotency.workflows import complete_key, purge_expired_keys, release_key

MAX_PASSES = 20


async def recover_checkouts(db: Database, unknown_after: timedelta) -> recovery.Recovery:
    """Recovery passes (each takes a bounded batch) until one finds nothing more to finish."""
    total = recovery.Recovery()
    for _ in range(MAX_PASSES):
        report = await recovery.recover_checkouts(db, unknown_after=unknown_after)
        for org_id, key, order in report.finished_checkouts:
            if order.is_cancelled:  # nothing was charged: the client's retry places the order again
                await release_key(db, org_id, key)
                report.released_keys += 1
                continue
            # The client's retry with the same key now gets the order as it ended up.
            body = json.dumps(jsonable_encoder(OrderOut.of(order)), separators=(",", ":")).encode()
            await complete_key(db, org_id, key, 201, body, "application/json")
        total.settled += report.settled
        total.cancelled += report.cancelled
        total.unknown += report.unknown
        total.released_keys += report.released_keys
        total.failed += report.failed
        total.finished_checkouts += report.finished_checkouts
        if not (report.finished_checkouts or report.released_keys or report.settled or report.cancelled):
            break
    return total


def jobs(
    db: Database, *, unknown_after: timedelta, authorization_ttl: timedelta, recovery_every: float = 10.0
) -> list[Job]:
    return [
        Job("recover_checkouts", recovery_every, lambda: recover_checkouts(db, unknown_after)),
        Job("expire_authorizations", 300.0, lambda: recovery.expire_authorizations(db, older_than=authorization_ttl)),
        Job("purge_idempotency_keys", 3_600.0, lambda: purge_expired_keys(db)),
    ]
