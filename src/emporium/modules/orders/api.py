"""Orders' public surface for other modules: functions that run in the caller's transaction."""

from __future__ import annotations

from emporium.modules.orders import services as store
from emporium.platform.db.tx import Tx


async def order_exists(tx: Tx, org_id: str, order_id: str) -> bool:
    """True when the org has this order (another org's order is not there, as for every org-scoped read)."""
    return await store.get_order(tx, org_id, order_id) is not None
