"""Local-filesystem storage (the embedded default): objects under `DATA_DIR/documents/`.

A download is a link of the app's own, `/v1/document-files?key=…&expires=…&signature=…`, signed with
HMAC-SHA256 over the key and the expiry. The secret comes from DOCUMENTS_LINK_SECRET or, when unset,
from `DATA_DIR/documents/.link-secret` (created once, 0600), which every worker on the machine shares:
filesystem storage is one machine's by nature.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

from emporium.modules.documents.providers.storage import StoredObject

LINK_PATH = "/v1/document-files"


def _write_atomically(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    with open(partial, "wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)  # a reader sees the old file or the new one, never half of one


def _link_secret(root: Path, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    path = root / ".link-secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker created it first
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
        return path.read_bytes()


class FilesystemStorage:
    def __init__(self, root: Path, link_secret: str | None = None) -> None:
        self.root = root.resolve()
        self._secret: bytes | None = None
        self._configured_secret = link_secret

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"object key escapes the storage root: {key!r}")
        return path

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = _link_secret(self.root, self._configured_secret)
        return self._secret

    def sign(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode("utf-8", "surrogatepass")  # any text a query string can carry
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verify(self, key: str, expires: int, signature: str, now: float | None = None) -> bool:
        """True for an unexpired link signed by us for this key (constant-time comparison)."""
        if expires < (time.time() if now is None else now):
            return False
        given = signature.encode("utf-8", "surrogatepass")  # bytes: compare_digest refuses non-ASCII str
        return hmac.compare_digest(self.sign(key, expires).encode(), given)

    async def put(self, key: str, body: bytes, content_type: str) -> StoredObject:
        await asyncio.to_thread(_write_atomically, self._path(key), body)
        return StoredObject(key, len(body), hashlib.sha256(body).hexdigest())

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def download_url(self, key: str, filename: str, expires_in: int) -> str:
        expires = int(time.time()) + expires_in
        query = urlencode({"key": key, "expires": expires, "signature": self.sign(key, expires)})
        return f"{LINK_PATH}?{query}"

    async def close(self) -> None:
        return None
