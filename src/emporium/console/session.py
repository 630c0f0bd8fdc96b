"""Console sessions: a signed cookie naming the key that signed in, with the session's CSRF token.

The cookie holds the key's SHA-256 (never the key) and is checked on every request by resolving that
hash again through the authenticator (its 5 s cache), so a revoked key ends its console sessions too.
`HttpOnly` (no script reads it), `SameSite=Strict` (no other site sends it), `Secure` behind HTTPS.
Every form carries the session's CSRF token, compared in constant time (synchronizer token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "emporium_console"
LOGIN_COOKIE = "emporium_console_login"  # the login form's CSRF token, before there is a session


@dataclass(frozen=True, slots=True)
class Session:
    key_hash: str
    csrf: str
    expires_at: float


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: str | None, lifetime_seconds: float) -> None:
        self._secret = (secret or secrets.token_urlsafe(32)).encode()
        self.lifetime_seconds = lifetime_seconds

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def issue(self, key_hash: str) -> tuple[Session, str]:
        session = Session(key_hash, secrets.token_urlsafe(24), time.time() + self.lifetime_seconds)
        payload = _b64(json.dumps([session.key_hash, session.csrf, session.expires_at]).encode())
        return session, f"{payload}.{self._mac(payload)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None when absent, forged, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            key_hash, csrf, expires_at = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        if not isinstance(expires_at, float | int) or expires_at < time.time():
            return None
        return Session(str(key_hash), str(csrf), float(expires_at))


def same_token(sent: str | None, expected: str) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())
