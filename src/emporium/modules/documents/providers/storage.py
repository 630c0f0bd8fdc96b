"""The object storage port: where rendered documents are kept and how a download is handed out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size_bytes: int
    content_sha256: str


class ObjectStorage(Protocol):
    async def put(self, key: str, body: bytes, content_type: str) -> StoredObject:
        """Write (or overwrite) the object at `key`."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes; None when there is none."""
        ...

    async def download_url(self, key: str, filename: str, expires_in: int) -> str:
        """A link that hands the object out for `expires_in` seconds without our credentials."""
        ...

    async def close(self) -> None: ...
