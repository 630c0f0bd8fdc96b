"""Identity's public surface for other modules: functions that run in the caller's transaction."""

from __future__ import annotations

from emporium.modules.identity import services
from emporium.platform.db.tx import Tx
from emporium.platform.errors import NotFound
from emporium.platform.telemetry.tracing import traced


@traced
async def capture_mode(tx: Tx, org_id: str) -> str:
    """When the org captures payments: `immediate` or `on_fulfillment`."""
    org = await services.get_org(tx, org_id)
    if org is None:
        raise NotFound(f"no org {org_id}")
    return org.capture_mode.value


@traced
async def owner_emails(tx: Tx, org_id: str) -> list[str]:
    """The emails of the org's owners who are not deactivated (whom the platform tells about the org's account)."""
    return await services.owner_emails(tx, org_id)
