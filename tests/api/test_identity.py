"""Identity through the API: members, roles, API keys, audit log, tenant isolation, bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from emporium.modules.identity.domain import Role
from emporium.platform.db.engine import Database
from tests.support.identity import Tenant, bearer, make_tenant, throwaway_user
from tests.support.problems import assert_problem


async def test_whoami_and_org(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    me = (await app_client.get("/v1/auth/whoami", headers=bearer(tenant.storefront_key))).json()
    assert me["org_id"] == tenant.org_id
    assert me["actor_type"] == "api_key"
    assert me["role"] == "storefront"
    assert "users:write" not in me["permissions"]
    org = (await app_client.get("/v1/orgs/me", headers=tenant.headers_for(Role.VIEWER))).json()
    assert org["id"] == tenant.org_id
    assert org["name"] == "Shop A"


async def test_invite_then_list_every_page_once(app_client: httpx.AsyncClient, db: Database) -> None:
    shop = await make_tenant(db, "Paging shop")
    owner = bearer(shop.owner_key)
    for i in range(7):
        response = await app_client.post(
            "/v1/users", headers=owner, json={"email": f"Member{i}@Example.com", "name": f"M{i}", "role": "staff"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["email"] == f"member{i}@example.com"
        assert response.json()["status"] == "invited"
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await app_client.get("/v1/users", headers=owner, params=params)).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7 + 5  # invited + the founder + the tenant's four members
    assert_problem(await app_client.get("/v1/users", headers=owner, params={"cursor": "!!"}), 422, "validation_failed")


async def test_inviting_the_same_email_twice_is_a_conflict(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"email": "twice@example.com", "name": "Twice", "role": "viewer"}
    assert (await app_client.post("/v1/users", headers=bearer(tenant.owner_key), json=body)).status_code == 201
    again = await app_client.post(
        "/v1/users", headers=bearer(tenant.owner_key), json={**body, "email": "TWICE@example.com"}
    )
    assert_problem(again, 409, "email_taken")


async def test_an_admin_cannot_grant_owner_or_touch_an_owner(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    admin = tenant.headers_for(Role.ADMIN)
    grant = await app_client.post(
        "/v1/users", headers=admin, json={"email": "boss@example.com", "name": "B", "role": "owner"}
    )
    assert_problem(grant, 403, "role_not_grantable")
    owner_id = tenant.members[Role.OWNER].id
    assert_problem(await app_client.post(f"/v1/users/{owner_id}/deactivate", headers=admin), 403, "forbidden")
    assert_problem(
        await app_client.put(f"/v1/users/{owner_id}/role", headers=admin, json={"role": "viewer"}), 403, "forbidden"
    )


async def test_a_key_role_is_not_a_people_role(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await app_client.post(
        "/v1/users",
        headers=bearer(tenant.owner_key),
        json={"email": "bot@example.com", "name": "Bot", "role": "storefront"},
    )
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"][0]["field"] == "role"  # type: ignore[index]


async def test_the_last_owner_cannot_be_demoted_or_deactivated(app_client: httpx.AsyncClient, db: Database) -> None:
    shop = await make_tenant(db, "Owners")
    owner = bearer(shop.owner_key)
    founder = (await app_client.get("/v1/users", headers=owner)).json()["items"]
    owners = [u["id"] for u in founder if u["role"] == "owner"]
    assert len(owners) == 2  # the founder and the invited owner member
    assert (await app_client.post(f"/v1/users/{owners[0]}/deactivate", headers=owner)).status_code == 200
    assert_problem(await app_client.post(f"/v1/users/{owners[1]}/deactivate", headers=owner), 409, "last_owner")
    assert_problem(
        await app_client.put(f"/v1/users/{owners[1]}/role", headers=owner, json={"role": "admin"}), 409, "last_owner"
    )


async def test_concurrent_demotions_never_leave_an_org_without_an_owner(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    for _ in range(10):
        shop = await make_tenant(db, "Race")
        owner = bearer(shop.owner_key)
        owners = [
            u["id"] for u in (await app_client.get("/v1/users", headers=owner)).json()["items"] if u["role"] == "owner"
        ]
        results = await asyncio.gather(
            *(app_client.put(f"/v1/users/{uid}/role", headers=owner, json={"role": "admin"}) for uid in owners)
        )
        assert sorted(r.status_code for r in results) == [200, 409]
        remaining = await pg.fetchval(
            "SELECT count(*) FROM identity.user WHERE org_id = $1 AND role = 'owner' AND status <> 'deactivated'",
            shop.org_id,
        )
        assert remaining == 1


async def test_a_deactivated_user_can_no_longer_sign_in(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    from tests.support.identity import mint_token

    member = await throwaway_user(db, tenant, Role.STAFF)
    token = mint_token({"sub": member.id, "org_id": tenant.org_id})
    first = await app_client.get("/v1/auth/whoami", headers=bearer(token))
    assert first.status_code == 200
    assert (await app_client.get(f"/v1/users/{member.id}", headers=bearer(tenant.owner_key))).json()[
        "status"
    ] == "active"
    assert (
        await app_client.post(f"/v1/users/{member.id}/deactivate", headers=bearer(tenant.owner_key))
    ).status_code == 200
    assert_problem(await app_client.get("/v1/auth/whoami", headers=bearer(token)), 401, "unauthenticated")


async def test_api_key_secret_is_shown_once_and_works_until_revoked(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await app_client.post(
        "/v1/api-keys", headers=bearer(tenant.owner_key), json={"name": "pos", "role": "staff"}
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    key_id = created.json()["id"]
    assert secret.startswith("emp_live_")
    assert created.json()["display_prefix"] == secret[:15]

    listed = (await app_client.get("/v1/api-keys", headers=bearer(tenant.owner_key), params={"limit": 200})).json()
    assert key_id in [k["id"] for k in listed["items"]]
    assert secret not in str(listed)
    assert all("secret" not in k for k in listed["items"])

    assert (await app_client.get("/v1/auth/whoami", headers=bearer(secret))).status_code == 200
    revoked = await app_client.post(f"/v1/api-keys/{key_id}/revoke", headers=bearer(tenant.owner_key))
    assert revoked.json()["revoked_at"] is not None
    # The revoking instance forgets the key at once, despite its principal cache.
    assert_problem(await app_client.get("/v1/auth/whoami", headers=bearer(secret)), 401, "unauthenticated")


async def test_an_expired_key_is_refused_and_a_past_expiry_is_invalid(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    body = assert_problem(
        await app_client.post(
            "/v1/api-keys", headers=bearer(tenant.owner_key), json={"name": "x", "role": "viewer", "expires_at": past}
        ),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["field"] == "expires_at"  # type: ignore[index]
    naive = await app_client.post(
        "/v1/api-keys",
        headers=bearer(tenant.owner_key),
        json={"name": "x", "role": "viewer", "expires_at": "2030-01-01T00:00:00"},
    )
    assert_problem(naive, 422, "validation_failed")


async def test_an_admin_cannot_mint_an_owner_key(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await app_client.post(
        "/v1/api-keys", headers=tenant.headers_for(Role.ADMIN), json={"name": "x", "role": "owner"}
    )
    assert_problem(response, 403, "role_not_grantable")


async def test_no_plaintext_key_is_stored(
    app_client: httpx.AsyncClient, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    created = await app_client.post(
        "/v1/api-keys", headers=bearer(tenant.owner_key), json={"name": "scan", "role": "viewer"}
    )
    secret = created.json()["secret"]
    columns = await pg.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'identity' AND table_name = 'api_key' AND data_type = 'text'"
    )
    assert len(columns) >= 5
    rows = await pg.fetch("SELECT * FROM identity.api_key")
    everything = " ".join(str(row[c["column_name"]]) for row in rows for c in columns)
    for known in (secret, tenant.owner_key, tenant.storefront_key):
        assert known not in everything
        assert known[15:] not in everything  # not even the secret part


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/users", {"email": "m@example.com", "name": "M", "role": "viewer", "org_id": "org_x"}),
        ("/v1/users", {"email": "m@example.com", "name": "M", "role": "viewer", "id": "usr_x"}),
        ("/v1/users", {"email": "m@example.com", "name": "M", "role": "viewer", "created_at": "2020-01-01T00:00:00Z"}),
        ("/v1/users", {"email": "m@example.com", "name": "M", "role": "viewer", "status": "active"}),
        ("/v1/api-keys", {"name": "k", "role": "viewer", "org_id": "org_x"}),
        ("/v1/api-keys", {"name": "k", "role": "viewer", "id": "key_x"}),
        ("/v1/api-keys", {"name": "k", "role": "viewer", "created_at": "2020-01-01T00:00:00Z"}),
    ],
)
async def test_mass_assignment_is_refused(
    app_client: httpx.AsyncClient, tenant: Tenant, pg: asyncpg.Connection, path: str, body: dict[str, str]
) -> None:
    response = await app_client.post(path, headers=bearer(tenant.owner_key), json=body)
    problem = assert_problem(response, 422, "validation_failed")
    extra = next(k for k in body if k in {"org_id", "id", "created_at", "status"})
    assert [e["field"] for e in problem["errors"]] == [extra]  # type: ignore[union-attr, index]
    assert await pg.fetchval("SELECT count(*) FROM identity.user WHERE email = 'm@example.com'") == 0
    assert await pg.fetchval("SELECT count(*) FROM identity.api_key WHERE id = 'key_x'") == 0


@pytest.mark.parametrize("field", ["org_id", "role", "id", "created_at"])
async def test_mass_assignment_on_update_is_refused(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, field: str
) -> None:
    member = await throwaway_user(db, tenant)
    value = {"org_id": "org_x", "role": "owner", "id": "usr_x", "created_at": "2020-01-01T00:00:00Z"}[field]
    response = await app_client.patch(
        f"/v1/users/{member.id}", headers=bearer(tenant.owner_key), json={"name": "N", field: value}
    )
    assert_problem(response, 422, "validation_failed")
    after = (await app_client.get(f"/v1/users/{member.id}", headers=bearer(tenant.owner_key))).json()
    assert after["role"] == "staff"
    assert after["name"] == "Temp"
    assert after["id"] == member.id


@pytest.mark.parametrize(
    "headers",
    [
        [(b"authorization", b"Bearer")],
        [(b"authorization", b"Basic dXNlcjpwYXNz")],
        [(b"authorization", b"Bearer emp_live_short")],
        [(b"authorization", b"Bearer " + b"a" * 10_240)],
        [(b"authorization", b"Bearer \xff\xfe\xfd")],
        [(b"authorization", b"Bearer a.b.c"), (b"authorization", b"Bearer d.e.f")],
        [(b"authorization", b"Bearer two tokens")],
    ],
    ids=["empty", "basic", "short_key", "10kb", "non_utf8", "duplicated", "spaces"],
)
async def test_malformed_credentials_get_a_401_problem(
    app_client: httpx.AsyncClient, headers: list[tuple[bytes, bytes]]
) -> None:
    request = app_client.build_request("GET", "/v1/auth/whoami")
    request.headers = httpx.Headers(headers)
    assert_problem(await app_client.send(request), 401, "unauthenticated")


async def test_an_anonymous_bad_body_is_401_not_422(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post("/v1/users", content=b"{broken", headers={"content-type": "application/json"})
    assert_problem(response, 401, "unauthenticated")


async def test_key_with_a_valid_checksum_but_unknown_is_401(app_client: httpx.AsyncClient) -> None:
    from emporium.platform.auth.api_keys import generate_api_key

    response = await app_client.get("/v1/auth/whoami", headers=bearer(generate_api_key()))
    body = assert_problem(response, 401, "unauthenticated")
    assert "unknown, revoked or expired" in str(body["detail"])


async def test_audit_log_records_successes_in_the_same_transaction_and_failures_too(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await make_tenant(db, "Audited")
    admin = shop.headers_for(Role.ADMIN)
    created = await app_client.post(
        "/v1/users",
        headers={**admin, "X-Request-ID": "req-audit-1"},
        json={"email": "a1@example.com", "name": "A", "role": "staff"},
    )
    new_id = created.json()["id"]
    denied = await app_client.post(
        "/v1/users",
        headers={**admin, "X-Request-ID": "req-audit-2"},
        json={"email": "a2@example.com", "name": "B", "role": "owner"},
    )
    assert denied.status_code == 403
    conflict = await app_client.post(
        "/v1/users", headers=admin, json={"email": "a1@example.com", "name": "A", "role": "staff"}
    )
    assert conflict.status_code == 409

    log = (
        await app_client.get("/v1/audit-log", headers=bearer(shop.owner_key), params={"action": "users_invite"})
    ).json()
    by_request = {e["request_id"]: e for e in log["items"]}
    success = by_request["req-audit-1"]
    assert (success["status"], success["target_id"], success["actor_id"]) == (201, new_id, shop.members[Role.ADMIN].id)
    assert by_request["req-audit-2"]["status"] == 403
    assert sorted(e["status"] for e in log["items"] if e["actor_type"] == "user") == [201, 403, 409]

    by_target = (
        await app_client.get("/v1/audit-log", headers=bearer(shop.owner_key), params={"target": new_id})
    ).json()
    assert [e["request_id"] for e in by_target["items"]] == ["req-audit-1"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    empty = await app_client.get("/v1/audit-log", headers=bearer(shop.owner_key), params={"from": future})
    assert empty.json()["items"] == []
    assert_problem(
        await app_client.get("/v1/audit-log", headers=bearer(shop.owner_key), params={"colour": "red"}),
        422,
        "validation_failed",
    )


async def test_a_write_rolled_back_leaves_no_success_audit(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Rollback")
    response = await app_client.post(
        "/v1/users",
        headers={**bearer(shop.owner_key), "X-Request-ID": "req-dup"},
        json={"email": shop.members[Role.STAFF].email, "name": "x", "role": "staff"},
    )
    assert response.status_code == 409
    statuses = [
        r["status"] for r in await pg.fetch("SELECT status FROM platform.audit_log WHERE request_id = 'req-dup'")
    ]
    assert statuses == [409]
