"""Oversight API shapes: feature flags and the API request log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from emporium.modules.oversight.domain import ApiRequest, FlagState
from emporium.platform.http.schemas import Body, Timestamp
from emporium.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT


class FlagOut(BaseModel):
    name: str
    kind: str = Field(description="`boolean` (on or off) or `percentage` (on for a stable share of orgs).")
    description: str
    default: bool = Field(description="The declared value when nothing is set.")
    global_percentage: int | None = Field(description="The global setting (0..100), null when unset.")
    orgs: dict[str, int] = Field(description="Orgs with their own setting: org id -> percentage (0 or 100).")

    @classmethod
    def of(cls, state: FlagState) -> FlagOut:
        flag = state.flag
        return cls(
            name=flag.name,
            kind=flag.kind.value,
            description=flag.description,
            default=flag.default,
            global_percentage=state.global_percentage,
            orgs=state.org_percentages,
        )


class FlagListOut(BaseModel):
    items: list[FlagOut]


class SetFlagIn(Body):
    """Exactly one of the two."""

    enabled: bool | None = Field(None, description="On (100 %) or off (0 %).")
    percentage: int | None = Field(None, ge=0, le=100, description="Share of orgs, for percentage flags only.")


class ApiRequestOut(BaseModel):
    id: int
    occurred_at: datetime
    actor_type: str | None
    actor_id: str | None
    method: str
    route: str = Field(description="The route template, e.g. `/v1/orders/{id}`.")
    status: int
    latency_ms: float
    idempotency_key: str | None
    request_id: str | None

    @classmethod
    def of(cls, request: ApiRequest) -> ApiRequestOut:
        return cls(
            id=request.id,
            occurred_at=request.occurred_at,
            actor_type=request.actor_type,
            actor_id=request.actor_id,
            method=request.method,
            route=request.route,
            status=request.status,
            latency_ms=request.latency_ms,
            idempotency_key=request.idempotency_key,
            request_id=request.request_id,
        )


class ApiLogQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cursor: str | None = Field(None, max_length=512, description="`next_cursor` from the previous page.")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")
    route: str | None = Field(None, max_length=200, description="Route template, e.g. `/v1/orders/{id}`.")
    method: str | None = Field(None, pattern=r"^[A-Z]{3,7}$", description="HTTP method.")
    status: int | None = Field(None, ge=100, le=599, description="HTTP status.")
    actor: str | None = Field(None, max_length=64, description="Actor id (user or API key).")
    occurred_from: Timestamp | None = Field(None, alias="from", description="Inclusive lower bound.")
    occurred_to: Timestamp | None = Field(None, alias="to", description="Exclusive upper bound.")
