"""The console's pages on one org's operations: stuck checkouts, dead letters, webhook endpoints, API logs.

Owners see their org; a platform operator sees every org's dead letters (as the CLI does) and runs
checkout recovery, which spans orgs anyway. Each action calls what the API or the cron calls.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emporium.bootstrap.runtime import Runtime
from emporium.console.viewer import Viewer, csrf_ok, form_of, page, refused, runtime_of, to_login, viewer_of
from emporium.modules.notifications.resources import webhook_endpoint_crud
from emporium.modules.notifications.schemas import WebhookEndpointUpdate
from emporium.modules.notifications.workflows import list_deliveries
from emporium.modules.orders import jobs as orders_jobs
from emporium.modules.orders.domain import OrderStatus
from emporium.modules.orders.workflows import list_orders
from emporium.modules.oversight import workflows as oversight
from emporium.modules.oversight.domain import ApiRequestFilter
from emporium.platform.audit.entries import AuditContext
from emporium.platform.crud.filters import ListQuery
from emporium.platform.errors import DomainError
from emporium.platform.events import workflows as events
from emporium.platform.events.handlers import subscriptions_of
from emporium.platform.events.replay import replay_dead_letter

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 20


async def _viewer(request: Request, *, org_only: bool) -> tuple[Viewer, Runtime] | Response:
    viewer = await viewer_of(request)
    runtime = runtime_of(request)
    if viewer is None or runtime is None:
        return to_login()
    if org_only and viewer.is_operator:
        return refused("this page shows one org's data: sign in with the org owner's key")
    return viewer, runtime


async def _acting(request: Request, *, org_only: bool) -> tuple[Viewer, Runtime, dict[str, str]] | Response:
    """A form post: a session, and the session's CSRF token in the form (or the htmx header)."""
    found = await _viewer(request, org_only=org_only)
    if isinstance(found, Response):
        return found
    form = await form_of(request)
    if not csrf_ok(request, form, found[0].session.csrf):
        return refused("the form's CSRF token is missing or wrong")
    return found[0], found[1], form


def _audit(request: Request, viewer: Viewer, action: str) -> AuditContext:
    return AuditContext.of(viewer.principal, action, request.scope.get("state", {}).get("request_id"))


# --- orders stuck in checkout -------------------------------------------------------------------


@router.get("/checkouts")
async def checkouts(request: Request, message: str | None = None) -> Response:
    found = await _viewer(request, org_only=False)
    if isinstance(found, Response):
        return found
    viewer, runtime = found
    stuck = []
    if not viewer.is_operator:
        waiting = await list_orders(
            runtime.db, viewer.principal, status=OrderStatus.PENDING_PAYMENT, customer_email=None,
            created_from=None, created_to=None, cursor=None, limit=100,
        )  # fmt: skip
        stuck = waiting.items
    return page(request, viewer, "checkouts.html", orders=stuck, message=message, now=datetime.now(UTC))


@router.post("/checkouts/recover")
async def recover(request: Request) -> Response:
    """What the cron's recovery job runs (every org's interrupted checkouts), now."""
    acting = await _acting(request, org_only=False)
    if isinstance(acting, Response):
        return acting
    _, runtime, _ = acting
    after = timedelta(seconds=runtime.config.checkout_recovery_after)
    report = await orders_jobs.recover_checkouts(runtime.db, after)
    message = (
        f"recovery: {report.settled} settled, {report.cancelled} cancelled, "
        f"{report.unknown} still unknown, {report.failed} failed"
    )
    return await checkouts(request, message=message)


# --- dead letters -------------------------------------------------------------------------------


@router.get("/dead-letters")
async def dead_letters(request: Request, message: str | None = None, cursor: str | None = None) -> Response:
    found = await _viewer(request, org_only=False)
    if isinstance(found, Response):
        return found
    viewer, runtime = found
    letters = await events.list_dead_letters(
        runtime.db, org_id=viewer.org_id, include_replayed=True, cursor=cursor, limit=PAGE_SIZE
    )
    return page(request, viewer, "dead_letters.html", letters=letters, message=message)


@router.post("/dead-letters/{dead_letter_id}/replay")
async def replay(request: Request, dead_letter_id: str) -> Response:
    acting = await _acting(request, org_only=False)
    if isinstance(acting, Response):
        return acting
    viewer, runtime, _ = acting
    try:
        await replay_dead_letter(runtime.db, subscriptions_of(request), dead_letter_id, org_id=viewer.org_id)
        message = f"{dead_letter_id} replayed: delivered"
    except DomainError as error:
        message = f"{dead_letter_id}: {error}"
    return await dead_letters(request, message=message)


@router.post("/dead-letters/{dead_letter_id}/discard")
async def discard(request: Request, dead_letter_id: str) -> Response:
    acting = await _acting(request, org_only=False)
    if isinstance(acting, Response):
        return acting
    viewer, runtime, _ = acting
    audit = _audit(request, viewer, "dead_letters_discard")
    try:
        if viewer.org_id is None:  # an operator's discard goes to the letter's org's audit log
            letter = await events.get_dead_letter(runtime.db, dead_letter_id, org_id=None)
            audit = dataclasses.replace(audit, org_id=letter.org_id or audit.org_id)
        await events.discard_dead_letter(runtime.db, audit, dead_letter_id, org_id=viewer.org_id)
        message = f"{dead_letter_id} discarded"
    except DomainError as error:
        message = f"{dead_letter_id}: {error}"
    return await dead_letters(request, message=message)


# --- webhook endpoints --------------------------------------------------------------------------


@router.get("/webhooks")
async def webhooks(request: Request, message: str | None = None) -> Response:
    found = await _viewer(request, org_only=True)
    if isinstance(found, Response):
        return found
    viewer, runtime = found
    listed = await webhook_endpoint_crud.list(
        runtime.db, viewer.principal, ListQuery((), "created_at", True, None, PAGE_SIZE)
    )
    endpoints = []
    for endpoint in listed.items:
        recent = await list_deliveries(
            runtime.db, viewer.principal, endpoint_id=endpoint["id"], status=None, cursor=None, limit=5
        )
        endpoints.append((endpoint, recent.items))
    return page(request, viewer, "webhooks.html", endpoints=endpoints, message=message)


@router.post("/webhooks/{endpoint_id}/{action}")
async def switch_endpoint(request: Request, endpoint_id: str, action: str) -> Response:
    """`disable` or `enable` (which also clears the failure streak): the API's PATCH, through its workflow."""
    acting = await _acting(request, org_only=True)
    if isinstance(acting, Response):
        return acting
    viewer, runtime, _ = acting
    if action not in {"disable", "enable"}:
        return refused("unknown action", 404)
    try:
        await webhook_endpoint_crud.update(
            runtime.db, runtime.cache, viewer.principal, _audit(request, viewer, "webhook_endpoints_update"),
            endpoint_id, WebhookEndpointUpdate(enabled=action == "enable"), None,
        )  # fmt: skip
        message = f"{endpoint_id} {action}d"
    except DomainError as error:
        message = f"{endpoint_id}: {error}"
    return await webhooks(request, message=message)


# --- API logs -----------------------------------------------------------------------------------


@router.get("/api-logs")
async def api_logs(
    request: Request, cursor: str | None = None, route: str | None = None, status: str | None = None
) -> Response:
    found = await _viewer(request, org_only=True)
    if isinstance(found, Response):
        return found
    viewer, runtime = found
    where = ApiRequestFilter(route=route or None, status=int(status) if status and status.isdigit() else None)
    try:
        logged = await oversight.list_api_requests(runtime.db, viewer.principal, where, cursor or None, PAGE_SIZE)
    except DomainError as error:
        return refused(str(error), 422)
    return page(request, viewer, "api_logs.html", logged=logged, route=route or "", status=status or "")
