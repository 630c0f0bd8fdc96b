"""The dead-letter admin API's shapes (the only classes that know its JSON field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from emporium.platform.events.store import DeadLetter


class DeadLetterOut(BaseModel):
    id: str
    consumer: str
    event_id: str
    event_name: str
    event_version: int
    error: str = Field(description="The last failure: exception type and message.")
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    replayed_at: datetime | None
    event: dict[str, Any] = Field(description="The event envelope: id, name, version, aggregate, payload, trace.")

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        return cls(
            id=letter.id,
            consumer=letter.consumer,
            event_id=letter.event_id,
            event_name=letter.event_name,
            event_version=letter.event_version,
            error=letter.error,
            attempts=letter.attempts,
            first_failed_at=letter.first_failed_at,
            last_failed_at=letter.last_failed_at,
            replayed_at=letter.replayed_at,
            event=letter.event.to_json(),
        )


class DeadLetterPageOut(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")
