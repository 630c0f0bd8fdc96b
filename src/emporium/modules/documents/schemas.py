"""Documents API DTOs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from emporium.modules.documents.domain import Document


class DocumentOut(BaseModel):
    id: str
    order_id: str
    kind: str = Field(description="invoice, credit_note or packing_slip.")
    number: int = Field(description="Gap-free per organization and kind, from 1; a voided document keeps it.")
    display_number: str = Field(description="The number as printed, e.g. `INV-000042`.")
    state: str = Field(description="requested, rendering, stored or voided.")
    content_sha256: str | None = Field(description="SHA-256 (hex) of the stored PDF.")
    size_bytes: int | None
    issued_at: datetime
    stored_at: datetime | None
    voided_at: datetime | None
    download_path: str = Field(description="GET it for a short-lived link to the PDF (303).")

    @classmethod
    def of(cls, doc: Document) -> DocumentOut:
        return cls(
            id=doc.id,
            order_id=doc.order_id,
            kind=doc.kind.value,
            number=doc.number,
            display_number=doc.display_number,
            state=doc.state.value,
            content_sha256=doc.content_sha256,
            size_bytes=doc.size_bytes,
            issued_at=doc.issued_at,
            stored_at=doc.stored_at,
            voided_at=doc.voided_at,
            download_path=f"/v1/documents/{doc.id}/download",
        )


class DocumentList(BaseModel):
    data: list[DocumentOut]
