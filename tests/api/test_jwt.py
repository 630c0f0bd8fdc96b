"""JWT authentication: the accepted token works; every forgery or misuse is a 401 (or 404 across orgs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import open_runtime
from emporium.config import Config
from emporium.modules.identity.domain import Role
from tests.support.identity import JWT_SECRET, Tenant, bearer, mint_token
from tests.support.problems import assert_problem


async def _whoami(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/auth/whoami", headers=bearer(token))


async def test_a_valid_token_authenticates_its_user(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await _whoami(app_client, tenant.token_for(Role.STAFF))
    assert response.status_code == 200, response.text
    assert response.json()["actor_id"] == tenant.members[Role.STAFF].id
    assert response.json()["role"] == "staff"


async def test_the_user_claim_may_hold_the_email(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    member = tenant.members[Role.VIEWER]
    token = mint_token({"sub": member.email.upper(), "org_id": tenant.org_id})
    assert (await _whoami(app_client, token)).json()["actor_id"] == member.id


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["org_id"] = "org_someone_else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    "case",
    [
        "alg_none",
        "expired_beyond_leeway",
        "not_yet_valid",
        "wrong_audience",
        "wrong_issuer",
        "missing_exp",
        "tampered_payload",
        "wrong_secret",
        "unknown_user",
        "user_of_another_org",
        "garbage",
    ],
)
async def test_refused_tokens_get_401(
    case: str, app_client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    staff = tenant.members[Role.STAFF].id
    now = int(time.time())
    base = {"sub": staff, "org_id": tenant.org_id}
    tokens = {
        "alg_none": _unsigned({**base, "iss": "https://idp.emporium.test/", "aud": "emporium-api", "exp": now + 300}),
        "expired_beyond_leeway": mint_token({**base, "exp": now - 120}),
        "not_yet_valid": mint_token({**base, "nbf": now + 120}),
        "wrong_audience": mint_token({**base, "aud": "someone-else"}),
        "wrong_issuer": mint_token({**base, "iss": "https://evil.example/"}),
        "missing_exp": mint_token({**base, "exp": None}),
        "tampered_payload": _tamper(mint_token(base)),
        "wrong_secret": mint_token(base, key="another-secret-that-is-long-enough-1234567"),
        "unknown_user": mint_token({"sub": "usr_doesnotexist", "org_id": tenant.org_id}),
        "user_of_another_org": mint_token({"sub": staff, "org_id": other_tenant.org_id}),
        "garbage": "not.a.jwt",
    }
    assert_problem(await _whoami(app_client, tokens[case]), 401, "unauthenticated")


async def test_a_token_within_the_leeway_is_accepted(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    token = mint_token({"sub": tenant.members[Role.STAFF].id, "org_id": tenant.org_id, "exp": int(time.time()) - 5})
    assert (await _whoami(app_client, token)).status_code == 200


async def test_a_token_of_org_a_cannot_see_org_b_resources(
    app_client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    other_user = other_tenant.members[Role.STAFF].id
    response = await app_client.get(f"/v1/users/{other_user}", headers=tenant.headers_for(Role.ADMIN))
    assert_problem(response, 404, "not_found")


# --- public-key tokens (RS256 / ES256 through a JWKS) --------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def jwks_client(
    tmp_path: Path,
    config: Config,
    database_url: str,
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> AsyncIterator[httpx.AsyncClient]:
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
    jwks = {"keys": [{**rsa_jwk, "kid": "rsa-1", "use": "sig"}, {**ec_jwk, "kid": "ec-1", "use": "sig"}]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    rs_config = replace(
        config, jwt_algorithms=("RS256", "ES256"), jwt_secret=None, jwt_jwks=str(tmp_path / "jwks.json")
    )
    app = create_app(lambda: open_runtime(rs_config, database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_rs256_and_es256_tokens_verify_against_the_jwks(
    jwks_client: httpx.AsyncClient, tenant: Tenant, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    claims = {"sub": tenant.members[Role.ADMIN].id, "org_id": tenant.org_id}
    rs = mint_token(claims, key=rsa_key, algorithm="RS256", kid="rsa-1")
    es = mint_token(claims, key=ec_key, algorithm="ES256", kid="ec-1")
    assert (await _whoami(jwks_client, rs)).status_code == 200
    assert (await _whoami(jwks_client, es)).status_code == 200


async def test_hs256_signed_with_the_rsa_public_key_is_refused(
    jwks_client: httpx.AsyncClient, tenant: Tenant, rsa_key: rsa.RSAPrivateKey
) -> None:
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {
        "sub": tenant.members[Role.ADMIN].id,
        "org_id": tenant.org_id,
        "iss": "https://idp.emporium.test/",
        "aud": "emporium-api",
        "exp": int(time.time()) + 300,
    }

    # PyJWT itself refuses to HMAC with a PEM key, so build the forgery by hand.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'rsa-1'}).encode())}.{b64(json.dumps(claims).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(signature)}"
    assert_problem(await _whoami(jwks_client, forged), 401, "unauthenticated")


async def test_an_unknown_key_id_is_refused(
    jwks_client: httpx.AsyncClient, tenant: Tenant, rsa_key: rsa.RSAPrivateKey
) -> None:
    claims = {"sub": tenant.members[Role.ADMIN].id, "org_id": tenant.org_id}
    token = mint_token(claims, key=rsa_key, algorithm="RS256", kid="rotated-away")
    assert_problem(await _whoami(jwks_client, token), 401, "unauthenticated")
    no_kid = mint_token(claims, key=rsa_key, algorithm="RS256")
    assert_problem(await _whoami(jwks_client, no_kid), 401, "unauthenticated")


async def test_an_hs256_token_is_refused_where_only_public_key_algorithms_are_accepted(
    jwks_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    token = mint_token({"sub": tenant.members[Role.ADMIN].id, "org_id": tenant.org_id}, key=JWT_SECRET)
    assert_problem(await _whoami(jwks_client, token), 401, "unauthenticated")
