"""Authentication middleware: resolve the caller into a `Principal`, never reject.

It reads `Authorization: Bearer <API key | JWT>`, asks the `Authenticator`
(implemented by the identity module, injected by the app) who that is, and
stores the principal — or the reason the credentials were refused — in the
request scope. `auth_gate` in each handler decides 401/403, so public
endpoints simply never call it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from emporium.platform.auth.api_keys import hash_api_key, is_well_formed_api_key, looks_like_api_key
from emporium.platform.auth.gate import AUTH_ERROR_KEY, PRINCIPAL_KEY
from emporium.platform.auth.jwt import InvalidToken, JwtVerifier
from emporium.platform.auth.principal import Principal
from emporium.platform.errors import Unavailable
from emporium.platform.http.limits import send_problem

MAX_AUTHORIZATION_BYTES = 4096


class Authenticator(Protocol):
    async def by_api_key(self, key_hash: str) -> Principal | None: ...

    async def by_user(self, org_id: str, user_ref: str) -> Principal | None: ...


class CredentialsRefused(Exception):
    pass


def _bearer_token(scope: Scope) -> str | None:
    values = [value for name, value in scope.get("headers", ()) if name == b"authorization"]
    if not values:
        return None
    if len(values) > 1:
        raise CredentialsRefused("more than one Authorization header was sent")
    raw: bytes = values[0]
    if len(raw) > MAX_AUTHORIZATION_BYTES:
        raise CredentialsRefused(f"the Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise CredentialsRefused("the Authorization header is not ASCII") from None
    scheme, _, token = text.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise CredentialsRefused("the Authorization scheme must be Bearer")
    token = token.strip()
    if not token or len(token.split(None, 1)) != 1:  # empty, or whitespace inside it
        raise CredentialsRefused("the bearer token is empty or malformed")
    return token


class AuthenticationMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        authenticator: Callable[[Scope], Authenticator | None],
        jwt_verifier: Callable[[Scope], JwtVerifier | None],
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.jwt_verifier = jwt_verifier

    async def _resolve(self, scope: Scope, token: str) -> Principal:
        authenticator = self.authenticator(scope)
        if authenticator is None:
            raise CredentialsRefused("the service is starting or stopping")
        if looks_like_api_key(token):
            if not is_well_formed_api_key(token):
                raise CredentialsRefused("the API key is malformed (wrong length or checksum)")
            principal = await authenticator.by_api_key(hash_api_key(token))
            if principal is None:
                raise CredentialsRefused("the API key is unknown, revoked or expired")
            return principal
        verifier = self.jwt_verifier(scope)
        if verifier is None:
            raise CredentialsRefused("the bearer token is not an API key, and JWT authentication is not configured")
        try:
            verified = await verifier.verify(token)
        except InvalidToken as error:
            raise CredentialsRefused(str(error)) from None
        principal = await authenticator.by_user(verified.org_id, verified.user_ref)
        if principal is None:
            raise CredentialsRefused("the token's user is not an active member of the token's org")
        return principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope.setdefault("state", {})
            try:
                token = _bearer_token(scope)
                if token is not None:
                    state[PRINCIPAL_KEY] = await self._resolve(scope, token)
            except CredentialsRefused as refused:
                state[AUTH_ERROR_KEY] = str(refused)
            except Unavailable as unavailable:
                # Not a verdict on the credentials: the database that knows them is away. Fail fast, retryable.
                await send_problem(
                    send, scope, 503, unavailable.code, unavailable.title, unavailable.detail,
                    {"Retry-After": str(unavailable.retry_after)},
                )  # fmt: skip
                return
        await self.app(scope, receive, send)
