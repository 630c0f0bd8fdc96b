"""Feature flags through the admin API: operators only, per org or global, audited, and the real one works.

The sandbox payment provider's flag switched off for one org refuses that org's checkouts naming the
sandbox (422 naming `payment.provider`) while another org's still succeed.
"""

from __future__ import annotations

import httpx
import pytest

from emporium.platform.db.engine import Database
from emporium.platform.flags import FlagKind, declare, enabled, find
from tests.support.catalog import make_product
from tests.support.identity import Tenant, bearer, make_tenant
from tests.support.orders import order_body, place

SANDBOX = "payments.sandbox_provider"
ROLLOUT = declare("tests.rollout", default=False, description="a test flag", kind=FlagKind.PERCENTAGE)


async def test_sandbox_off_for_one_org_refuses_its_checkout_only(
    app_client: httpx.AsyncClient, db: Database, operator: str, tenant: Tenant
) -> None:
    shop = await make_tenant(db, "Flagged shop")
    mine = await make_product(db, shop, on_hand=5)
    theirs = await make_product(db, tenant, on_hand=5)
    assert (await place(app_client, shop.owner_key, order_body((str(mine["sku"]), 1)))).status_code == 201

    off = await app_client.put(
        f"/v1/admin/flags/{SANDBOX}/orgs/{shop.org_id}", json={"enabled": False}, headers=bearer(operator)
    )
    assert off.status_code == 200, off.text
    assert off.json()["orgs"] == {shop.org_id: 0}
    try:
        refused = await place(app_client, shop.owner_key, order_body((str(mine["sku"]), 1)))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "payment.provider"
        assert (await place(app_client, tenant.owner_key, order_body((str(theirs["sku"]), 1)))).status_code == 201
    finally:
        cleared = await app_client.delete(f"/v1/admin/flags/{SANDBOX}/orgs/{shop.org_id}", headers=bearer(operator))
        assert cleared.status_code == 200
    assert (await place(app_client, shop.owner_key, order_body((str(mine["sku"]), 1)))).status_code == 201

    audit = await app_client.get("/v1/audit-log?action=flags_set_for_org", headers=bearer(shop.owner_key))
    assert [(e["actor_type"], e["target_id"]) for e in audit.json()["items"]] == [("operator", SANDBOX)]


async def test_percentage_flag_is_stable_and_grows_monotonically(app_client: httpx.AsyncClient, operator: str) -> None:
    orgs = [f"org_{i:06d}" for i in range(300)]
    seen: list[set[str]] = []
    try:
        for share in (0, 10, 50, 100):
            answer = await app_client.put(
                f"/v1/admin/flags/{ROLLOUT.name}", json={"percentage": share}, headers=bearer(operator)
            )
            assert answer.status_code == 200, answer.text
            seen.append({org for org in orgs if enabled(ROLLOUT, org)})
    finally:
        await app_client.put(f"/v1/admin/flags/{ROLLOUT.name}", json={"percentage": 0}, headers=bearer(operator))
    assert [len(s) for s in (seen[0], seen[3])] == [0, 300]
    assert seen[0] <= seen[1] <= seen[2] <= seen[3]  # raising the share only adds orgs
    assert 10 < len(seen[1]) < 60 and 100 < len(seen[2]) < 200


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (f"/v1/admin/flags/{SANDBOX}", {"percentage": 50}, 422, "validation_failed"),  # a boolean flag
        (f"/v1/admin/flags/{SANDBOX}", {"enabled": True, "percentage": 100}, 422, "validation_failed"),
        (f"/v1/admin/flags/{SANDBOX}", {}, 422, "validation_failed"),
        (f"/v1/admin/flags/{SANDBOX}", {"enabled": "yes"}, 422, "validation_failed"),
        ("/v1/admin/flags/no.such_flag", {"enabled": True}, 404, "not_found"),
        (f"/v1/admin/flags/{SANDBOX}/orgs/org_nosuchorg", {"enabled": True}, 404, "not_found"),
    ],
)
async def test_bad_changes_are_problems(
    app_client: httpx.AsyncClient, operator: str, path: str, body: dict[str, object], status: int, code: str
) -> None:
    answer = await app_client.put(path, json=body, headers=bearer(operator))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code


async def test_operators_list_flags_and_org_keys_cannot(
    app_client: httpx.AsyncClient, operator: str, tenant: Tenant
) -> None:
    listed = await app_client.get("/v1/admin/flags", headers=bearer(operator))
    assert listed.status_code == 200
    assert SANDBOX in {flag["name"] for flag in listed.json()["items"]}
    assert find(SANDBOX) is not None
    assert (await app_client.get("/v1/admin/flags", headers=bearer(tenant.owner_key))).status_code == 403
    who = await app_client.get("/v1/auth/whoami", headers=bearer(operator))
    assert who.status_code == 200 and who.json()["role"] == "operator"
    # An operator is in no org: org-scoped reads are refused, not answered with an empty org.
    assert (await app_client.get("/v1/orders", headers=bearer(operator))).status_code == 403
