"""Identity HTTP routes: each starts with auth_gate, parses, calls one workflow, maps the result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from emporium.modules.identity import workflows
from emporium.modules.identity.domain import UserStatus
from emporium.modules.identity.permissions import Perm
from emporium.modules.identity.schemas import (
    ApiKeyOut,
    AuditEntryOut,
    AuditLogQuery,
    ChangeRoleIn,
    CreateApiKeyIn,
    InviteUserIn,
    IssuedApiKeyOut,
    OrgOut,
    UpdateOrgIn,
    UpdateUserIn,
    UserOut,
    WhoAmIOut,
)
from emporium.platform.audit.entries import AuditFilter
from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.http.context import audit_context
from emporium.platform.http.paging import Cursor, Limit
from emporium.platform.http.schemas import PageOut
from emporium.platform.http.state import database_of, principal_cache_of
from emporium.platform.pagination import DEFAULT_LIMIT

router = APIRouter(prefix="/v1", route_class=GatedRoute)


@router.get("/auth/whoami", operation_id="auth_whoami", tags=["identity"])
async def whoami(request: Request) -> WhoAmIOut:
    principal = auth_gate(request, Perm.WHOAMI)
    return WhoAmIOut.of(principal)


@router.get("/orgs/me", operation_id="orgs_get_mine", tags=["identity"])
async def get_my_org(request: Request) -> OrgOut:
    principal = auth_gate(request, Perm.ORG_READ)
    return OrgOut.of(await workflows.get_org(database_of(request), principal))


@router.patch("/orgs/me", operation_id="orgs_update_mine", tags=["identity"])
async def update_my_org(request: Request, body: UpdateOrgIn) -> OrgOut:
    principal = auth_gate(request, Perm.ORG_WRITE)
    org = await workflows.update_org(
        database_of(request),
        principal,
        audit_context(request, principal),
        name=body.name,
        capture_mode=body.capture_mode,
    )
    return OrgOut.of(org)


@router.post("/users", operation_id="users_invite", status_code=201, tags=["users"])
async def invite_user(request: Request, body: InviteUserIn) -> UserOut:
    principal = auth_gate(request, Perm.USERS_WRITE)
    user = await workflows.invite_user(
        database_of(request),
        principal,
        audit_context(request, principal),
        email=str(body.email),
        name=body.name,
        role=body.role,
    )
    return UserOut.of(user)


@router.get("/users", operation_id="users_list", tags=["users"])
async def list_users(
    request: Request, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT, status: UserStatus | None = None
) -> PageOut[UserOut]:
    principal = auth_gate(request, Perm.USERS_READ)
    page = await workflows.list_users(database_of(request), principal, cursor=cursor, limit=limit, status=status)
    return PageOut(items=[UserOut.of(u) for u in page.items], next_cursor=page.next_cursor)


@router.get("/users/{id}", operation_id="users_get", tags=["users"])
async def get_user(request: Request, id: str) -> UserOut:
    principal = auth_gate(request, Perm.USERS_READ)
    return UserOut.of(await workflows.get_user(database_of(request), principal, id))


@router.patch("/users/{id}", operation_id="users_update", tags=["users"])
async def update_user(request: Request, id: str, body: UpdateUserIn) -> UserOut:
    principal = auth_gate(request, Perm.USERS_WRITE)
    user = await workflows.update_user(
        database_of(request), principal, audit_context(request, principal), id, name=body.name
    )
    return UserOut.of(user)


@router.put("/users/{id}/role", operation_id="users_change_role", tags=["users"])
async def change_user_role(request: Request, id: str, body: ChangeRoleIn) -> UserOut:
    principal = auth_gate(request, Perm.USERS_WRITE)
    user = await workflows.change_user_role(
        database_of(request), principal, audit_context(request, principal), id, role=body.role
    )
    principal_cache_of(request).forget(user.id)
    return UserOut.of(user)


@router.post("/users/{id}/deactivate", operation_id="users_deactivate", tags=["users"])
async def deactivate_user(request: Request, id: str) -> UserOut:
    principal = auth_gate(request, Perm.USERS_WRITE)
    user = await workflows.deactivate_user(database_of(request), principal, audit_context(request, principal), id)
    principal_cache_of(request).forget(user.id)
    return UserOut.of(user)


@router.post("/api-keys", operation_id="api_keys_create", status_code=201, tags=["api keys"])
async def create_api_key(request: Request, body: CreateApiKeyIn) -> IssuedApiKeyOut:
    principal = auth_gate(request, Perm.API_KEYS_WRITE)
    issued = await workflows.create_api_key(
        database_of(request),
        principal,
        audit_context(request, principal),
        name=body.name,
        role=body.role,
        expires_at=body.expires_at,
    )
    return IssuedApiKeyOut.issued(issued)


@router.get("/api-keys", operation_id="api_keys_list", tags=["api keys"])
async def list_api_keys(request: Request, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> PageOut[ApiKeyOut]:
    principal = auth_gate(request, Perm.API_KEYS_READ)
    page = await workflows.list_api_keys(database_of(request), principal, cursor=cursor, limit=limit)
    return PageOut(items=[ApiKeyOut.of(k) for k in page.items], next_cursor=page.next_cursor)


@router.post("/api-keys/{id}/revoke", operation_id="api_keys_revoke", tags=["api keys"])
async def revoke_api_key(request: Request, id: str) -> ApiKeyOut:
    principal = auth_gate(request, Perm.API_KEYS_WRITE)
    key = await workflows.revoke_api_key(database_of(request), principal, audit_context(request, principal), id)
    principal_cache_of(request).forget(key.id)
    return ApiKeyOut.of(key)


@router.get("/audit-log", operation_id="audit_log_list", tags=["audit"])
async def list_audit_log(request: Request, query: Annotated[AuditLogQuery, Query()]) -> PageOut[AuditEntryOut]:
    principal = auth_gate(request, Perm.AUDIT_READ)
    where = AuditFilter(query.actor, query.action, query.target, query.occurred_from, query.occurred_to)
    page = await workflows.list_audit_log(
        database_of(request), principal, where=where, cursor=query.cursor, limit=query.limit
    )
    return PageOut(items=[AuditEntryOut.of(e) for e in page.items], next_cursor=page.next_cursor)
