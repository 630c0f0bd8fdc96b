"""Documents' adapters (service role) and the registry the runtime installs.

- storage: `FilesystemStorage` under `DATA_DIR/documents` (default) or `S3Storage` (DOCUMENTS_STORAGE=s3);
- rendering: `pdf.render_pdf` (fpdf2 from a Jinja2 template).

`install(documents)` makes a registry the process default (the runtime and the Lambda entry do it once);
workflows use it unless a caller passes its own (tests do).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emporium.modules.documents.providers.filesystem import FilesystemStorage
from emporium.modules.documents.providers.s3 import S3Settings, S3Storage
from emporium.modules.documents.providers.storage import ObjectStorage, StoredObject

__all__ = [
    "DocumentSettings",
    "Documents",
    "FilesystemStorage",
    "ObjectStorage",
    "S3Settings",
    "S3Storage",
    "StoredObject",
    "install",
    "installed",
    "uninstall",
]


@dataclass(frozen=True, slots=True)
class DocumentSettings:
    root: Path = Path(".data") / "documents"  # filesystem storage
    s3: S3Settings | None = None  # set: S3 instead of the filesystem
    link_ttl_seconds: int = 300
    link_secret: str | None = None


class Documents:
    def __init__(
        self, settings: DocumentSettings = DocumentSettings(), *, storage: ObjectStorage | None = None
    ) -> None:
        self.settings = settings
        self.storage: ObjectStorage = storage or (
            S3Storage(settings.s3) if settings.s3 else FilesystemStorage(settings.root, settings.link_secret)
        )

    @property
    def files(self) -> FilesystemStorage | None:
        """The filesystem store, whose signed links the app itself serves; None on S3."""
        return self.storage if isinstance(self.storage, FilesystemStorage) else None

    async def close(self) -> None:
        await self.storage.close()


_installed: list[Documents] = []


def installed() -> Documents:
    if not _installed:
        _installed.append(Documents())
    return _installed[-1]


def install(documents: Documents) -> None:
    _installed.append(documents)


def uninstall(documents: Documents) -> None:
    if documents in _installed:
        _installed.remove(documents)
