"""Webhook endpoint API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, field_validator

from emporium.modules.notifications.domain import EVENT_TYPE


def _event_types(values: list[str]) -> list[str]:
    for value in values:
        if not EVENT_TYPE.match(value):
            raise ValueError(f"{value!r} is not an event type such as OrderCreated, OrderCreated.v1 or *")
    return sorted(set(values))


EventTypes = Annotated[list[str], Field(min_length=1, max_length=50, examples=[["OrderCreated", "OrderShipped"]]),
                       AfterValidator(_event_types)]  # fmt: skip
Url = Annotated[HttpUrl, Field(max_length=2000, examples=["https://hooks.example.com/emporium"])]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WebhookEndpointIn(Body):
    url: Url
    description: str = Field("", max_length=500)
    event_types: EventTypes
    enabled: bool = True


class WebhookEndpointUpdate(Body):
    url: Url | None = None
    description: str | None = Field(None, max_length=500)
    event_types: EventTypes | None = None
    enabled: bool | None = None

    @field_validator("url", "description", "event_types", "enabled")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    secret_hint: str = Field(
        description="The signing secret's first characters; the secret is shown once, at creation."
    )
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret: str = Field(description="The `whsec_` signing secret. Shown only in this response: store it now.")
