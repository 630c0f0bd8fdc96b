"""Bearer JWT verification (PyJWT).

The accepted algorithms come from configuration and never from the token
(so `alg=none` and HS256-signed-with-the-RSA-public-key are refused); HMAC
and public-key algorithms cannot be mixed. `exp`, `iss` and `aud` are
required, `nbf` is honoured, all with a small leeway. Keys come from a shared
secret (HS*) or a JWKS file or URL (RS*/ES*), selected by the token's `kid`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKSet

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"})


class InvalidToken(Exception):
    """The token was refused; the message says why, without echoing the token."""


@dataclass(frozen=True, slots=True)
class JwtSettings:
    algorithms: tuple[str, ...]
    issuer: str
    audience: str
    leeway_seconds: float = 30.0
    user_claim: str = "sub"
    org_claim: str = "org_id"
    secret: str | None = None
    jwks: str | None = None  # a file path, or an https:// URL

    @property
    def uses_hmac(self) -> bool:
        return bool(set(self.algorithms) & HMAC_ALGORITHMS)


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    org_id: str
    user_ref: str


class JwtVerifier:
    def __init__(self, settings: JwtSettings) -> None:
        self.settings = settings
        self._jwks: PyJWKSet | None = None
        self._jwks_client: PyJWKClient | None = None
        if settings.jwks and settings.jwks.startswith(("https://", "http://")):
            self._jwks_client = PyJWKClient(settings.jwks, cache_keys=True, lifespan=300, timeout=5)
        elif settings.jwks:
            self._jwks = PyJWKSet.from_dict(json.loads(Path(settings.jwks).read_text()))

    async def _key_for(self, token: str, header: dict[str, Any]) -> Any:
        if self.settings.uses_hmac:
            return self.settings.secret
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token has no key id (kid)")
        try:
            if self._jwks_client is not None:
                signing_key = await asyncio.to_thread(self._jwks_client.get_signing_key, kid)
                return signing_key.key
            assert self._jwks is not None
            return self._jwks[kid].key
        except (KeyError, jwt.PyJWKClientError) as error:
            raise InvalidToken("the token's key id is not known") from error

    async def verify(self, token: str) -> TokenIdentity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise InvalidToken("the bearer token is not a well-formed JWT") from error
        if header.get("alg") not in self.settings.algorithms:
            raise InvalidToken("the token's algorithm is not accepted")
        key = await self._key_for(token, header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.settings.algorithms),
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("the token has expired") from error
        except jwt.ImmatureSignatureError as error:
            raise InvalidToken("the token is not valid yet (nbf)") from error
        except jwt.InvalidAudienceError as error:
            raise InvalidToken("the token is for another audience") from error
        except jwt.InvalidIssuerError as error:
            raise InvalidToken("the token is from an unknown issuer") from error
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"the token lacks the {error.claim!r} claim") from error
        except jwt.InvalidTokenError as error:
            raise InvalidToken("the token's signature or claims are invalid") from error
        org_id, user_ref = claims.get(self.settings.org_claim), claims.get(self.settings.user_claim)
        if not isinstance(org_id, str) or not isinstance(user_ref, str) or not org_id or not user_ref:
            raise InvalidToken(f"the token lacks the {self.settings.org_claim!r} or {self.settings.user_claim!r} claim")
        return TokenIdentity(org_id=org_id, user_ref=user_ref)
