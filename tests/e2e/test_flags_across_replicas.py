"""A flag changed on one replica is seen by another within a second, through Redis; both ways.

The two processes: the console's `emporium serve` (tests/support/console.py, with REDIS_URL) and this
test process, holding a flag cache of its own that follows Redis like a replica does. Without the
Redis channel a replica only notices at its periodic reload (30 s), so the 1 s deadline fails.

On the server the flag is observed through the API: the sandbox provider off for the org makes a
checkout naming it a 422 (`payment.provider`); on makes it a 409 (the product has no stock), so the
probes have no side effect.
"""

from __future__ import annotations

import httpx
import pytest

from emporium.modules.oversight import workflows as oversight
from emporium.modules.payments.providers import SANDBOX_FLAG
from emporium.platform.auth.principal import OPERATOR_ORG, ActorType, Principal
from emporium.platform.db.engine import Database
from emporium.platform.flags import FlagCache, install, uninstall
from tests.services import configured
from tests.support.bus import wait_for
from tests.support.catalog import make_product
from tests.support.identity import bearer, make_tenant, setup_audit
from tests.support.orders import key, order_body
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e


async def test_a_flag_change_reaches_the_other_replica_within_a_second(
    console_server: ServerProcess, db: Database, operator: str
) -> None:
    redis_url = configured("TEST_REDIS_URL")
    if redis_url is None:
        pytest.skip("no Redis configured: set TEST_REDIS_URL to run the flag propagation test")
    shop = await make_tenant(db, "Replicated flags")
    sku = str((await make_product(db, shop, on_hand=0))["sku"])
    here = FlagCache(lambda: oversight.flag_settings(db), redis_url=redis_url)
    await here.start()
    assert await here.wait_subscribed(5.0)
    install(here)  # this process's workflows announce their changes through it
    try:
        async with httpx.AsyncClient(base_url=console_server.base_url, timeout=10) as server:

            async def server_says(status: int) -> bool:
                answer = await server.post(
                    "/v1/orders",
                    json=order_body((sku, 1)),
                    headers={**bearer(shop.owner_key), "Idempotency-Key": key()},
                )
                return answer.status_code == status

            assert await server_says(409) and here.enabled(SANDBOX_FLAG, shop.org_id)

            # Changed on the server: seen here.
            changed = await server.put(
                f"/v1/admin/flags/{SANDBOX_FLAG.name}/orgs/{shop.org_id}",
                json={"enabled": False},
                headers=bearer(operator),
            )
            assert changed.status_code == 200, changed.text

            async def off_here() -> bool:
                return not here.enabled(SANDBOX_FLAG, shop.org_id)

            await wait_for(off_here, 1.0, "the change on this replica")
            assert await server_says(422)

            # Changed here: seen by the server.
            me = Principal(OPERATOR_ORG, ActorType.OPERATOR, "opk_test", "operator", frozenset())
            await oversight.clear_flag(db, me, setup_audit(me), SANDBOX_FLAG.name, org_id=shop.org_id)
            await wait_for(lambda: server_says(409), 1.0, "the change on the other replica")
    finally:
        uninstall(here)
        await here.stop()
