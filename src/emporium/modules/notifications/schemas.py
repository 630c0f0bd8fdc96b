"""Webhook endpoint API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    GetJsonSchemaHandler,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import PydanticCustomError

from emporium.modules.notifications.domain import EVENT_TYPE, unrenderable_pins, webhook_event_type
from emporium.platform.events.contracts import defined_contracts
from emporium.platform.http.schemas import Body

EVENT_TYPES_DESCRIPTION = (
    "The events this endpoint receives: `*` (every event), a type such as `OrderPaid` (its current version) or "
    "a type pinned to a version such as `OrderPaid.v1` (rendered as that version: the fields it had, "
    '`"version": 1` in the body). A pinned version must be the current one or an earlier one the event still '
    "renders (e.g. `OrderPaid.v1`, `OrderCancelled.v1`); any other is refused. An endpoint receives each event "
    "once: `*` or the bare type win (current version), otherwise the newest pinned version."
)


def _webhook_versions() -> dict[str, tuple[int, ...]]:
    """Webhook type -> the versions it can be rendered as, from the application's event contracts (not
    events a test or a script defines in the same process)."""
    return {
        webhook_event_type(c.event_name): c.renderable_versions()
        for c in defined_contracts()
        if c.__module__.startswith("emporium.")
    }


_BARE_EVENT_TYPE = r"^(\*|[A-Z][A-Za-z]{2,63})$"


class _EventTypeSchema:
    """The documented form of one `event_types` entry: `*` or a bare type, or one of the pinned versions the
    events render (an enum built when the schema is generated, once every module's events are defined), so
    the OpenAPI says which pins are accepted instead of a pattern that admits `OrderPaid.v7`."""

    @classmethod
    def __get_pydantic_json_schema__(cls, _core: Any, _handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        pinned = sorted(f"{name}.v{v}" for name, versions in _webhook_versions().items() for v in versions)
        return {"anyOf": [{"type": "string", "pattern": _BARE_EVENT_TYPE}, {"type": "string", "enum": pinned}]}


def _event_types(values: list[str]) -> list[str]:
    for value in values:
        if not EVENT_TYPE.match(value):
            raise ValueError(f"{value!r} is not an event type such as OrderCreated, OrderCreated.v1 or *")
    catalog = _webhook_versions()
    refused = unrenderable_pins(values, catalog)
    if refused:
        # A stable rule for clients (`errors[].rule`), and the versions that may be pinned instead.
        known = {
            name: versions for name, versions in catalog.items() if any(r.startswith(f"{name}.v") for r in refused)
        }
        offer = "; ".join(
            f"{name} is rendered as {', '.join(f'v{v}' for v in versions)}" for name, versions in known.items()
        )
        raise PydanticCustomError(
            "unknown_event_version",
            "{refused}: a pinned version must be one the event is published or still rendered as ({offer}); "
            "omit the version to receive the current one",
            {"refused": ", ".join(refused), "offer": offer or "no such event type"},
        )
    return sorted(set(values))


EventType = Annotated[str, Field(pattern=EVENT_TYPE.pattern), _EventTypeSchema]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=50, examples=[["OrderCreated", "OrderShipped"]],
                                              description=EVENT_TYPES_DESCRIPTION),
                       AfterValidator(_event_types)]  # fmt: skip
_HTTP_URL = TypeAdapter(HttpUrl)


def _http_url(value: str) -> str:
    """Checked as an http(s) URL, kept as sent: the length limit applies to what the client sent (pydantic's
    normal form may add a "/", which made a 2,000-character URL 2,001)."""
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError as error:
        raise ValueError(error.errors()[0]["msg"]) from None
    return value


Url = Annotated[
    str,
    Field(max_length=2000, json_schema_extra={"format": "uri"}, examples=["https://hooks.example.com/emporium"]),
    AfterValidator(_http_url),
]


class WebhookEndpointIn(Body):
    url: Url
    description: str = Field("", max_length=500)
    event_types: EventTypes
    enabled: bool = True


class WebhookEndpointUpdate(Body):
    # Each field may be omitted, not null: `SkipJsonSchema[None]` keeps the null out of the contract.
    url: Url | SkipJsonSchema[None] = None
    description: Annotated[str, Field(max_length=500)] | SkipJsonSchema[None] = None
    event_types: EventTypes | SkipJsonSchema[None] = None
    enabled: bool | SkipJsonSchema[None] = None

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
    disabled_reason: str | None = Field(
        None, description="Why the platform disabled it: `gone` (it answered 410) or `failing` (5 days of failures)."
    )
    secret_hint: str = Field(
        description="The signing secret's first characters; the secret is shown once, at creation."
    )
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret: str = Field(description="The `whsec_` signing secret. Shown only in this response: store it now.")


class WebhookEndpointRotatedOut(WebhookEndpointCreatedOut):
    previous_secret_expires_at: datetime = Field(
        description="Until then every message carries a second signature made with the previous secret."
    )


class WebhookDeliveryOut(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    message_id: str = Field(description="The `webhook-id` header: the same on every attempt and replay.")
    status: Literal["pending", "succeeded", "dead"]
    attempts: int = Field(description="Attempts since the delivery was created or last replayed.")
    total_attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    succeeded_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> WebhookDeliveryOut:
        return cls.model_validate({k: row[k] for k in cls.model_fields})


class WebhookDeliveryPageOut(BaseModel):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None


class WebhookAttemptOut(BaseModel):
    id: str
    number: int
    status_code: int | None = Field(description="The endpoint's answer; null when none came (see `error`).")
    error: str | None
    succeeded: bool
    duration_ms: int
    attempted_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> WebhookAttemptOut:
        return cls.model_validate({k: row[k] for k in cls.model_fields})


class WebhookAttemptListOut(BaseModel):
    items: list[WebhookAttemptOut]
