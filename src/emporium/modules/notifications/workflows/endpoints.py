"""The HTTP side of webhooks: URL checks, delivery history, replay, secret rotation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emporium.modules.notifications import services as store
from emporium.modules.notifications.domain import (
    ROTATION_OVERLAP,
    DeliveryStatus,
    generate_signing_secret,
)
from emporium.modules.notifications.providers import Notifiers, installed
from emporium.modules.notifications.workflows.common import Clock, utcnow
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.crud.rules import Action, Change, RuleContext, Rules
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, FieldError, NotFound, ValidationFailed
from emporium.platform.http.ssrf import SsrfRefused
from emporium.platform.pagination import Page
from emporium.platform.telemetry.tracing import traced


@traced
async def check_endpoint_url(url: str, *, notifiers: Notifiers | None = None) -> None:
    """Registration-time SSRF check of an endpoint URL: a 422 naming `url` when it is refused."""
    try:
        await (notifiers or installed()).guard.check_url(url)
    except SsrfRefused as refused:
        raise ValidationFailed(
            "the webhook URL is not allowed", errors=[FieldError("url", "ssrf", f"{refused}")]
        ) from None


class EndpointRules(Rules):
    """The URL's SSRF check resolves DNS (up to seconds): it runs in `validate`, before any transaction."""

    async def validate(self, ctx: RuleContext, changes: Sequence[Change]) -> None:
        for change in changes:
            if "url" in change.values:
                await check_endpoint_url(change.values["url"])

    async def before_write(self, tx: Tx, ctx: RuleContext, changes: Sequence[Change]) -> None:
        for change in changes:
            if change.action is Action.CREATE:
                change.values["secret"] = generate_signing_secret()
            elif change.values.get("enabled") is True and change.current and not change.current["enabled"]:
                change.values.update(failing_since=None, disabled_reason=None)  # a fresh start


ENDPOINT_RULES = EndpointRules()


@traced
async def list_deliveries(
    db: Database,
    principal: Principal,
    *,
    endpoint_id: str | None,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[dict[str, Any]]:
    async with transaction(db) as tx:
        return await store.list_deliveries(
            tx, principal.org_id, endpoint_id=endpoint_id, status=status, cursor=cursor, limit=limit
        )


@traced
async def delivery_attempts(db: Database, principal: Principal, delivery_id: str) -> list[dict[str, Any]]:
    async with transaction(db) as tx:
        if await store.get_delivery(tx, principal.org_id, delivery_id) is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        return await store.list_attempts(tx, principal.org_id, delivery_id)


@traced
async def replay_delivery(
    db: Database, principal: Principal, audit: AuditContext, delivery_id: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """Send a settled delivery again (same `webhook-id`, a fresh retry schedule)."""
    async with transaction(db) as tx:
        current = await store.get_delivery(tx, principal.org_id, delivery_id)
        if current is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        endpoint = await store.lock_endpoint(tx, principal.org_id, current["endpoint_id"])
        if endpoint is None or not endpoint["enabled"]:
            raise Conflict(
                f"the endpoint of webhook delivery {delivery_id} is disabled or deleted; enable it first",
                endpoint_id=current["endpoint_id"],
            )
        replayed = await store.replay(tx, principal.org_id, delivery_id, clock())
        if replayed is None:
            raise Conflict(f"webhook delivery {delivery_id} is still pending", status=current["status"])
        await audit_store.record(tx, audit, delivery_id)
        await tx.commit()
    return replayed


@traced
async def rotate_secret(
    db: Database, principal: Principal, audit: AuditContext, endpoint_id: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """A new signing secret; the previous one keeps signing (a second signature) for ROTATION_OVERLAP."""
    async with transaction(db) as tx:
        row = await store.rotate_secret(
            tx, principal.org_id, endpoint_id, generate_signing_secret(), clock() + ROTATION_OVERLAP
        )
        if row is None:
            raise NotFound(f"no webhook_endpoint {endpoint_id}")
        await audit_store.record(tx, audit, endpoint_id)
        await tx.commit()
    return row
