"""Event contracts: what a module publishes, versioned and validated.

A module declares its events in `modules/<m>/events.py` as `Event` subclasses:

    class OrderCreated(Event):
        event_name: ClassVar[str] = "orders.order_created"
        event_version: ClassVar[int] = 1
        aggregate_type: ClassVar[str] = "order"
        aggregate_field: ClassVar[str] = "order_id"

        order_id: str
        total_minor: int

The fields are the payload; the class variables say how it is named, which
version of the contract it is and which field identifies the aggregate whose
events are delivered in order. Publishing wraps the payload in an `Envelope`.

When a new version only adds fields, the owner may keep the earlier versions
renderable by naming their fields (`earlier_versions = {1: ("order_id", ...)}`):
a consumer that promised an earlier version to the outside world (a webhook
endpoint pinned to `OrderPaid.v1`) renders the current payload as that version
with `render(payload, 1)`, and `contract_of(name)` finds the class by name
without importing the module that owns it. Each defined contract is recorded
there when its class is defined (the newest version of a name wins).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, create_model

# `<module>.<event>`: the module that owns the event, then what happened (snake_case).
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
SUBJECT_PREFIX = "emporium"

E = TypeVar("E", bound="Event")


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_name: ClassVar[str]
    event_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str]
    aggregate_field: ClassVar[str]
    # Earlier versions still rendered, each a projection of this one: version -> its fields, in order.
    earlier_versions: ClassVar[Mapping[int, tuple[str, ...]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Checked when the class is defined, so a malformed contract fails at import, not at publish.
        name = getattr(cls, "event_name", None)
        if not isinstance(name, str) or not EVENT_NAME.match(name):
            raise TypeError(f"{cls.__qualname__}.event_name must look like 'module.what_happened', got {name!r}")
        if not isinstance(cls.event_version, int) or cls.event_version < 1:
            raise TypeError(f"{cls.__qualname__}.event_version must be an integer >= 1")
        if not isinstance(getattr(cls, "aggregate_type", None), str):
            raise TypeError(f"{cls.__qualname__}.aggregate_type must name the aggregate, e.g. 'order'")
        if getattr(cls, "aggregate_field", None) not in cls.model_fields:
            raise TypeError(f"{cls.__qualname__}.aggregate_field must name one of its fields")
        for version, fields in cls.earlier_versions.items():
            if not isinstance(version, int) or not 1 <= version < cls.event_version:
                raise TypeError(f"{cls.__qualname__}.earlier_versions: {version!r} is not a version below the current")
            if not fields or set(fields) - set(cls.model_fields):
                raise TypeError(f"{cls.__qualname__}.earlier_versions[{version}] must name some of its fields")
        latest = _CONTRACTS.get(name)
        if latest is None or latest.event_version <= cls.event_version:
            _CONTRACTS[name] = cls

    @property
    def aggregate_id(self) -> str:
        return str(getattr(self, self.aggregate_field))

    @classmethod
    def key(cls) -> tuple[str, int]:
        return (cls.event_name, cls.event_version)

    @classmethod
    def renderable_versions(cls) -> tuple[int, ...]:
        """The versions this contract can be rendered as, newest first (the current one, then earlier ones)."""
        return (cls.event_version, *sorted(cls.earlier_versions, reverse=True))

    @classmethod
    def render(cls, payload: Mapping[str, Any], version: int) -> dict[str, Any]:
        """A current payload as `version`: the same payload, or its projection to an earlier version's fields."""
        if version == cls.event_version:
            return dict(payload)
        if version not in cls.earlier_versions:
            raise ValueError(f"{cls.event_name} cannot be rendered as v{version}")
        return {name: payload[name] for name in cls.earlier_versions[version]}

    @classmethod
    def earlier_contract(cls, version: int) -> type[BaseModel]:
        """The model of an earlier rendered version (for its JSON Schema): this class's fields, projected."""
        fields: dict[str, Any] = {
            name: (cls.model_fields[name].annotation, cls.model_fields[name]) for name in cls.earlier_versions[version]
        }
        model: type[BaseModel] = create_model(
            cls.__name__, __config__=ConfigDict(frozen=True, extra="forbid"), **fields
        )
        return model


# Every contract defined in this process by name (the newest version): see `contract_of`.
_CONTRACTS: dict[str, type[Event]] = {}


def defined_contracts() -> list[type[Event]]:
    """The newest contract of every event name defined in this process, by name."""
    return [_CONTRACTS[name] for name in sorted(_CONTRACTS)]


def contract_of(event_name: str) -> type[Event] | None:
    """The newest contract class defined for an event name, if its module was imported."""
    return _CONTRACTS.get(event_name)


def module_of(event_name: str) -> str:
    return event_name.split(".", 1)[0]


def subject_of(event_name: str, version: int, prefix: str = SUBJECT_PREFIX) -> str:
    """The broker subject: `emporium.<module>.<event>.v<N>`."""
    return f"{prefix}.{event_name}.v{version}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One published event: the payload plus what the bus needs to route, order and trace it."""

    id: str
    name: str
    version: int
    aggregate_type: str
    aggregate_id: str
    org_id: str | None
    payload: dict[str, Any]
    occurred_at: datetime
    trace_context: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    def parse(self, event_type: type[E]) -> E:
        """The payload as the producer's contract class (validated)."""
        if event_type.key() != self.key:
            raise TypeError(f"{self.name} v{self.version} is not {event_type.event_name} v{event_type.event_version}")
        return event_type.model_validate(self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "org_id": self.org_id,
            "payload": self.payload,
            "occurred_at": self.occurred_at.isoformat(),
            "trace_context": self.trace_context,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Envelope:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            version=int(data["version"]),
            aggregate_type=str(data["aggregate_type"]),
            aggregate_id=str(data["aggregate_id"]),
            org_id=data.get("org_id"),
            payload=dict(data["payload"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            trace_context=dict(data.get("trace_context") or {}),
        )
