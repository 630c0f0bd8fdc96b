"""The operations console in headless Chromium against a real server: the issue's "done when" list.

One server process and one browser serve every test here (tests/support/console.py); each test uses
a fresh org, so the tests share nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from emporium.modules.notifications.resources import webhook_endpoint_crud
from emporium.modules.notifications.schemas import WebhookEndpointIn
from emporium.modules.orders import workflows as orders_wf
from emporium.modules.orders.events import OrderShipped
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events import store as event_store
from emporium.platform.events.outbox import envelope_of
from tests.support.bus import wait_for
from tests.support.catalog import make_product
from tests.support.console import navigate, sign_in
from tests.support.identity import Tenant, bearer, make_tenant, setup_audit
from tests.support.orders import key, order_body
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e
SANDBOX = "payments.sandbox_provider"


async def test_owner_signs_in_and_sees_its_org_s_overview_with_a_chart(
    browser_page: Any, db: Database, console_server: ServerProcess
) -> None:
    shop = await make_tenant(db, "Console overview")
    async with httpx.AsyncClient(base_url=console_server.base_url, timeout=10) as api:
        for _ in range(3):
            assert (await api.get("/v1/orgs/me", headers=bearer(shop.owner_key))).status_code == 200
    page = await sign_in(browser_page, shop.owner_key)
    assert page.url.endswith("/console")
    assert shop.org_id in await page.inner_text("#who")

    async def counted() -> bool:  # htmx (vendored, served by the app) refreshes the panel every 5 s
        await page.reload()
        await page.wait_for_selector("#org-requests")
        return int(await page.inner_text("#org-requests")) >= 3

    await wait_for(counted, 15.0, "the console's request to be counted")
    assert await page.locator("#requests-chart polyline").count() == 1
    assert await page.locator("#outbox-backlog").count() == 0  # platform figures are for operators
    cookie = next(c for c in await page.context.cookies() if c["name"] == "emporium_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


async def test_operator_sees_the_platform_overview(browser_page: Any, operator: str) -> None:
    page = await sign_in(browser_page, operator)
    assert await page.inner_text("#who") == "operator"
    await page.wait_for_selector("#orders-per-second")
    assert await page.locator("#orders-chart polyline").count() == 1
    assert int(await page.inner_text("#outbox-backlog")) >= 0


async def test_a_storefront_key_cannot_sign_in(browser_page: Any, tenant: Tenant) -> None:
    page = await sign_in(browser_page, tenant.storefront_key)
    assert "only a platform operator key or an org owner key" in await page.inner_text("#error")
    await page.goto("/console/checkouts")
    assert page.url.endswith("/console/login")


async def test_a_stuck_checkout_is_seen_and_recovered_from_the_page(
    browser_page: Any, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Stuck checkout")
    product = await make_product(db, shop, on_hand=3)
    owner = shop.owner_principal
    # A checkout that stopped after its first transaction (no charge yet) and whose reservation ran out.
    placed = await orders_wf.place_order(
        db, owner, setup_audit(owner), None,
        orders_wf.OrderSpec(lines=[(str(product["sku"]), 1)], customer_email="stuck@example.com"),
        orders_wf.PaymentChoice("sandbox", "tok_success"), reservation_ttl=timedelta(seconds=-1),
    )  # fmt: skip
    page = await sign_in(browser_page, shop.owner_key)
    await page.goto("/console/checkouts")
    assert await page.locator(f'tr.order[data-id="{placed.order.id}"]').count() == 1
    await navigate(page, page.locator("#run-recovery"))
    assert "1 settled" in await page.inner_text("#message")
    assert await page.locator(f'tr.order[data-id="{placed.order.id}"]').count() == 0
    assert await pg.fetchval('SELECT status FROM orders."order" WHERE id = $1', placed.order.id) == "paid"


async def test_a_dead_letter_is_replayed_and_delivered(browser_page: Any, db: Database) -> None:
    shop = await make_tenant(db, "Dead letter")
    shipped = OrderShipped(
        order_id="ord_console", order_number=7, customer_email="c@example.com", customer_name="C",
        customer_phone=None, carrier="DHL", tracking_number="JJD1",
    )  # fmt: skip
    async with transaction(db) as tx:
        letter_id = await event_store.insert_dead_letter(
            tx, envelope_of(shipped, org_id=shop.org_id), "notifications.shipping_email",
            error="SMTPServerDisconnected: gone", attempts=8, first_failed_at=datetime.now(UTC),
        )  # fmt: skip
        await tx.commit()
    page = await sign_in(browser_page, shop.owner_key)
    await page.goto("/console/dead-letters")
    letter = page.locator(f'section.letter[data-id="{letter_id}"]')
    assert "SMTPServerDisconnected" in await letter.locator("pre.error").inner_text()
    assert "JJD1" in (await letter.locator("pre.payload").text_content() or "")  # inside a closed <details>
    assert await letter.locator("p.state").inner_text() == "waiting"
    await navigate(page, letter.locator("button.replay"))
    assert "replayed: delivered" in await page.inner_text("#message")
    letter = page.locator(f'section.letter[data-id="{letter_id}"]')
    assert (await letter.locator("p.state").inner_text()).startswith("delivered")


async def test_a_failing_webhook_endpoint_is_disabled_and_enabled_again(
    browser_page: Any, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Failing hooks")
    owner = shop.owner_principal
    body = WebhookEndpointIn(url="https://hooks.example.com/failing", event_types=["*"])  # type: ignore[arg-type]
    endpoint = await webhook_endpoint_crud.create(db, None, owner, setup_audit(owner), body)
    await pg.execute(
        "UPDATE notifications.webhook_endpoint SET failing_since = now() - interval '2 days' WHERE id = $1",
        endpoint["id"],
    )
    page = await sign_in(browser_page, shop.owner_key)
    await page.goto("/console/webhooks")
    section = page.locator(f'section.endpoint[data-id="{endpoint["id"]}"]')
    assert (await section.locator("p.streak").inner_text()).startswith("failing since")
    await navigate(page, section.locator("button.switch"))
    section = page.locator(f'section.endpoint[data-id="{endpoint["id"]}"]')
    assert await section.locator("p.state").inner_text() == "disabled"
    assert (
        await pg.fetchval("SELECT enabled FROM notifications.webhook_endpoint WHERE id = $1", endpoint["id"]) is False
    )
    await navigate(page, section.locator("button.switch"))
    section = page.locator(f'section.endpoint[data-id="{endpoint["id"]}"]')
    assert await section.locator("p.state").inner_text() == "enabled"
    assert await section.locator("p.streak").inner_text() == "no failure streak"  # re-enabling starts afresh


async def test_a_flag_flipped_for_one_org_changes_the_api_for_that_org_only(
    browser_page: Any, db: Database, operator: str, console_server: ServerProcess
) -> None:
    flagged, other = await make_tenant(db, "Flag on page"), await make_tenant(db, "Flag untouched")
    skus = {t.org_id: str((await make_product(db, t, on_hand=5))["sku"]) for t in (flagged, other)}
    page = await sign_in(browser_page, operator)
    await page.goto("/console/flags")
    section = page.locator(f'section.flag[data-name="{SANDBOX}"]')
    await section.locator("form.set-org input[name=org_id]").fill(flagged.org_id)
    await section.locator("form.set-org select").select_option("off")
    await navigate(page, section.locator("form.set-org button"))
    assert f"{SANDBOX} changed" in await page.inner_text("#message")
    row = page.locator(f'section.flag[data-name="{SANDBOX}"] tr.org[data-org="{flagged.org_id}"]')
    assert "off" in await row.inner_text()

    async with httpx.AsyncClient(base_url=console_server.base_url, timeout=10) as api:

        async def checkout(shop: Tenant) -> int:
            answer = await api.post(
                "/v1/orders", json=order_body((skus[shop.org_id], 1)),
                headers={**bearer(shop.owner_key), "Idempotency-Key": key()},
            )  # fmt: skip
            return answer.status_code

        try:
            assert await checkout(flagged) == 422
            assert await checkout(other) == 201
        finally:
            section = page.locator(f'section.flag[data-name="{SANDBOX}"]')
            await section.locator("form.set-org input[name=org_id]").fill(flagged.org_id)
            await section.locator("form.set-org select").select_option("inherit")
            await navigate(page, section.locator("form.set-org button"))
        assert await checkout(flagged) == 201


async def test_the_api_log_pages_through_an_org_s_requests(
    browser_page: Any, db: Database, pg: asyncpg.Connection, console_server: ServerProcess
) -> None:
    shop = await make_tenant(db, "Logged requests")
    async with httpx.AsyncClient(base_url=console_server.base_url, timeout=10) as api:
        request_ids = set()
        for _ in range(25):
            request_ids.add((await api.get("/v1/orgs/me", headers=bearer(shop.owner_key))).headers["x-request-id"])

    async def all_logged() -> bool:
        # The server's writer logs requests in batches, after they are answered. Paging before the last of
        # them is written would page past it: it is newer than the first page's cursor.
        logged = await pg.fetchval(
            "SELECT count(*) FROM oversight.api_request WHERE request_id = ANY($1::text[])", list(request_ids)
        )
        return int(logged) == len(request_ids)

    await wait_for(all_logged, 15.0, "the 25 requests in the API log")
    page = await sign_in(browser_page, shop.owner_key)
    await page.goto("/console/api-logs?route=/v1/orgs/me")
    assert await page.locator("tr.request").count() == 20
    seen = await page.locator("tr.request td.request-id").all_inner_texts()
    await navigate(page, page.locator("#next"))
    seen += await page.locator("tr.request td.request-id").all_inner_texts()
    assert await page.locator("#next").count() == 0
    assert len(seen) == 25 and set(seen) == request_ids


async def test_a_form_posted_without_its_csrf_token_is_refused(browser_page: Any, db: Database) -> None:
    shop = await make_tenant(db, "CSRF")
    page = await sign_in(browser_page, shop.owner_key)
    await page.goto("/console/checkouts")
    await page.evaluate("document.querySelector('#run-recovery').form.querySelector('[name=csrf_token]').remove()")
    await navigate(page, page.locator("#run-recovery"))
    assert "CSRF token is missing or wrong" in await page.inner_text("#refused")
