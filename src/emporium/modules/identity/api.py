"""Identity's public surface for other modules: functions that run in the caller's transaction."""

from __future__ import annotations

from emporium.modules.identity import services
from emporium.platform.db.tx import Tx
from emporium.platform.telemetry.tracing import traced


def capture_mode_sql(org_id_bind: str) -> str:
    """The org's capture mode as a scalar subquery, for another module's statement that stores it (the
    order's insert): no read of its own. `org_id_bind` names the caller's bind holding the org id."""
    return f"(SELECT capture_mode FROM identity.org WHERE id = :{org_id_bind})"  # noqa: S608 (a bind name)


@traced
async def owner_emails(tx: Tx, org_id: str) -> list[str]:
    """The emails of the org's owners who are not deactivated (whom the platform tells about the org's account)."""
    return await services.owner_emails(tx, org_id)


@traced
async def org_exists(tx: Tx, org_id: str) -> bool:
    return await services.get_org(tx, org_id) is not None
