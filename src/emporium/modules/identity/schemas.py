"""Identity's API shapes: the only classes that know JSON field names.

Request bodies forbid unknown fields, so `org_id`, `id`, `created_at`,
`status` — or `role` where the endpoint does not set it — are refused with a
422 naming the field instead of being silently ignored or stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, Strict

from emporium.modules.identity.domain import (
    PEOPLE_ROLES,
    ApiKey,
    CaptureMode,
    IssuedApiKey,
    Org,
    Role,
    User,
    UserStatus,
)
from emporium.platform.audit.entries import AuditEntry
from emporium.platform.auth.principal import Principal
from emporium.platform.http.schemas import Body, EnumText, PageOut, Timestamp
from emporium.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["PageOut"]


Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
PeopleRole = Annotated[Role, Strict(False), EnumText(PEOPLE_ROLES)]
AnyRole = Annotated[Role, Strict(False), EnumText()]


class WhoAmIOut(BaseModel):
    org_id: str
    actor_type: str
    actor_id: str
    role: str
    permissions: list[str]

    @classmethod
    def of(cls, p: Principal) -> WhoAmIOut:
        return cls(
            org_id=p.org_id,
            actor_type=p.actor_type.value,
            actor_id=p.actor_id,
            role=p.role,
            permissions=sorted(str(perm) for perm in p.permissions),
        )


class OrgOut(BaseModel):
    id: str
    name: str
    capture_mode: CaptureMode = Field(
        description="When payments are captured: right after authorization, or at shipping."
    )
    created_at: datetime

    @classmethod
    def of(cls, org: Org) -> OrgOut:
        return cls(id=org.id, name=org.name, capture_mode=org.capture_mode, created_at=org.created_at)


class UpdateOrgIn(Body):
    name: Name | None = None
    capture_mode: Annotated[CaptureMode, Strict(False), EnumText()] | None = None


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    status: UserStatus
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            id=u.id,
            email=u.email,
            name=u.name,
            role=u.role,
            status=u.status,
            version=u.version,
            created_at=u.created_at,
            updated_at=u.updated_at,
        )


class InviteUserIn(Body):
    email: EmailStr = Field(
        max_length=320,
        examples=["ada@example.com"],
        description="Refused on special-use domains (.test, .invalid, .localhost, .local, .onion, .arpa).",
    )
    name: Name
    role: PeopleRole = Field(description="A people role: owner, admin, staff or viewer.", examples=["staff"])


class UpdateUserIn(Body):
    name: Name


class ChangeRoleIn(Body):
    role: PeopleRole


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: Role
    display_prefix: str = Field(
        description="The key's first characters, to recognise it. The secret is never shown again."
    )
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, k: ApiKey) -> ApiKeyOut:
        return cls(
            id=k.id,
            name=k.name,
            role=k.role,
            display_prefix=k.display_prefix,
            created_by=k.created_by,
            created_at=k.created_at,
            expires_at=k.expires_at,
            last_used_at=k.last_used_at,
            revoked_at=k.revoked_at,
        )


class IssuedApiKeyOut(ApiKeyOut):
    secret: str = Field(description="The API key. Shown only in this response: store it now.")

    @classmethod
    def issued(cls, issued: IssuedApiKey) -> IssuedApiKeyOut:
        return cls(**ApiKeyOut.of(issued.key).model_dump(), secret=issued.secret)


class CreateApiKeyIn(Body):
    name: Name
    role: AnyRole = Field(description="What the key may do; no higher than your own role.", examples=["storefront"])
    expires_at: Timestamp | None = None


class AuditEntryOut(BaseModel):
    id: str
    actor_type: str
    actor_id: str
    action: str
    target_id: str | None
    request_id: str | None
    status: int
    occurred_at: datetime

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryOut:
        return cls(
            id=e.id,
            actor_type=e.actor_type,
            actor_id=e.actor_id,
            action=e.action,
            target_id=e.target_id,
            request_id=e.request_id,
            status=e.status,
            occurred_at=e.occurred_at,
        )


class AuditLogQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cursor: str | None = Field(None, max_length=512, description="`next_cursor` from the previous page.")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")
    actor: str | None = Field(None, max_length=64, description="Actor id (user or API key).")
    action: str | None = Field(None, max_length=100, description="Operation id, e.g. `users_invite`.")
    target: str | None = Field(None, max_length=64, description="Id of the affected resource.")
    occurred_from: Timestamp | None = Field(None, alias="from", description="Inclusive lower bound.")
    occurred_to: Timestamp | None = Field(None, alias="to", description="Exclusive upper bound.")
