"""Oversight HTTP routes: feature flags (platform operators) and the org's API request log (owners, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from emporium.modules.oversight import workflows
from emporium.modules.oversight.domain import ApiRequestFilter
from emporium.modules.oversight.permissions import Perm
from emporium.modules.oversight.schemas import ApiLogQuery, ApiRequestOut, FlagListOut, FlagOut, SetFlagIn
from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.http.context import audit_context
from emporium.platform.http.schemas import PageOut
from emporium.platform.http.state import database_of

router = APIRouter(prefix="/v1", route_class=GatedRoute)

FlagName = Annotated[str, Path(max_length=100, pattern=r"^[a-z][a-z0-9_.]{1,99}$", description="The flag's name.")]
OrgId = Annotated[str, Path(max_length=64, pattern=r"^org_[0-9A-Za-z]{1,60}$", description="The org's id.")]


@router.get("/admin/flags", operation_id="flags_list", tags=["oversight"])
async def list_flags(request: Request) -> FlagListOut:
    _operator = auth_gate(request, Perm.FLAGS_ADMIN)
    return FlagListOut(items=[FlagOut.of(state) for state in await workflows.list_flags(database_of(request))])


@router.get("/admin/flags/{name}", operation_id="flags_get", tags=["oversight"])
async def get_flag(request: Request, name: FlagName) -> FlagOut:
    _operator = auth_gate(request, Perm.FLAGS_ADMIN)
    return FlagOut.of(await workflows.get_flag(database_of(request), name))


@router.put("/admin/flags/{name}", operation_id="flags_set_global", tags=["oversight"])
async def set_global(request: Request, name: FlagName, body: SetFlagIn) -> FlagOut:
    principal = auth_gate(request, Perm.FLAGS_ADMIN)
    state = await workflows.set_flag(
        database_of(request), principal, audit_context(request, principal), name,
        org_id=None, enabled=body.enabled, percentage=body.percentage,
    )  # fmt: skip
    return FlagOut.of(state)


@router.put("/admin/flags/{name}/orgs/{org_id}", operation_id="flags_set_for_org", tags=["oversight"])
async def set_for_org(request: Request, name: FlagName, org_id: OrgId, body: SetFlagIn) -> FlagOut:
    principal = auth_gate(request, Perm.FLAGS_ADMIN)
    state = await workflows.set_flag(
        database_of(request), principal, audit_context(request, principal), name,
        org_id=org_id, enabled=body.enabled, percentage=body.percentage,
    )  # fmt: skip
    return FlagOut.of(state)


@router.delete("/admin/flags/{name}/orgs/{org_id}", operation_id="flags_clear_for_org", tags=["oversight"])
async def clear_for_org(request: Request, name: FlagName, org_id: OrgId) -> FlagOut:
    principal = auth_gate(request, Perm.FLAGS_ADMIN)
    state = await workflows.clear_flag(
        database_of(request), principal, audit_context(request, principal), name, org_id=org_id
    )
    return FlagOut.of(state)


@router.get("/api-logs", operation_id="api_logs_list", tags=["oversight"])
async def list_api_logs(request: Request, query: Annotated[ApiLogQuery, Query()]) -> PageOut[ApiRequestOut]:
    principal = auth_gate(request, Perm.API_LOGS_READ)
    where = ApiRequestFilter(
        query.route, query.method, query.status, query.actor, query.occurred_from, query.occurred_to
    )
    page = await workflows.list_api_requests(database_of(request), principal, where, query.cursor, query.limit)
    return PageOut(items=[ApiRequestOut.of(r) for r in page.items], next_cursor=page.next_cursor)
