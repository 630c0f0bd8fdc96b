"""Documents' entity, state machine and pure rules (no I/O).

A document is issued for an order: an invoice when it is paid, a credit note
when it is refunded, a packing slip when it is shipped. Its number is
gap-free per (org, kind); its file lives at a key derived from the business
facts alone (`storage_key`), so a retried render overwrites the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from emporium.platform.errors import Conflict, Forbidden, InvalidTransition
from emporium.platform.money import Money


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PACKING_SLIP = "packing_slip"


class DocumentState(StrEnum):
    REQUESTED = "requested"
    RENDERING = "rendering"
    STORED = "stored"
    VOIDED = "voided"


S = DocumentState

# A render may be retried after a crash: `rendering -> rendering` is the retry, never a way back.
TRANSITIONS: dict[DocumentState, frozenset[DocumentState]] = {
    S.REQUESTED: frozenset({S.RENDERING, S.VOIDED}),
    S.RENDERING: frozenset({S.RENDERING, S.STORED, S.VOIDED}),
    S.STORED: frozenset({S.VOIDED}),
    S.VOIDED: frozenset(),
}

PREFIXES: dict[DocumentKind, str] = {
    DocumentKind.INVOICE: "INV",
    DocumentKind.CREDIT_NOTE: "CRN",
    DocumentKind.PACKING_SLIP: "PCK",
}

TITLES: dict[DocumentKind, str] = {
    DocumentKind.INVOICE: "Invoice",
    DocumentKind.CREDIT_NOTE: "Credit note",
    DocumentKind.PACKING_SLIP: "Packing slip",
}


def check_transition(current: DocumentState, target: DocumentState) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition("document", current.value, target.value)


def storage_key(org_id: str, issued_at: datetime, kind: DocumentKind, number: int) -> str:
    """`{org}/{yyyy}/{mm}/{kind}/{number}.pdf`, in UTC: the same facts always give the same key."""
    if number < 1:
        raise ValueError(f"document numbers start at 1, got {number}")
    if not org_id or "/" in org_id:
        raise ValueError(f"an org id is one path segment, got {org_id!r}")
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    utc = issued_at.astimezone(UTC)
    return f"{org_id}/{utc:%Y}/{utc:%m}/{kind.value}/{number}.pdf"


def display_number(kind: DocumentKind, number: int) -> str:
    """What the customer sees, e.g. `INV-000042`."""
    return f"{PREFIXES[kind]}-{number:06d}"


def format_amount(minor: int, currency: str) -> str:
    """`12.30 EUR` from 1230 minor units, with the currency's exponent (0 for JPY, 3 for KWD)."""
    return Money(minor, currency).format()


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    name: str
    quantity: int
    unit_price_minor: int
    line_total_minor: int


@dataclass(frozen=True, slots=True)
class Content:
    """Everything a document shows, captured when it is issued (the order may change later; the document not)."""

    order_number: int
    currency: str
    customer_email: str
    customer_name: str | None
    lines: tuple[Line, ...]
    subtotal_minor: int
    shipping_minor: int
    total_minor: int
    refunded_minor: int | None = None
    total_refunded_minor: int | None = None
    carrier: str | None = None
    tracking_number: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        data["lines"] = [{name: getattr(line, name) for name in line.__slots__} for line in self.lines]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Content:
        values = dict(data)
        values["lines"] = tuple(Line(**line) for line in data["lines"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    org_id: str
    kind: DocumentKind
    number: int
    order_id: str
    state: DocumentState
    issued_at: datetime
    content: Content
    content_sha256: str | None = None
    size_bytes: int | None = None
    stored_at: datetime | None = None
    voided_at: datetime | None = None
    source_event_id: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return storage_key(self.org_id, self.issued_at, self.kind, self.number)

    @property
    def display_number(self) -> str:
        return display_number(self.kind, self.number)

    @property
    def title(self) -> str:
        return TITLES[self.kind]


class DocumentNotReady(Conflict):
    code = "document_not_ready"
    title = "The document has not been stored yet"


class LinkRefused(Forbidden):
    code = "link_refused"
    title = "This download link is not valid"
