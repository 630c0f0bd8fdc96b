"""Documents through the API: an order paid, shipped and refunded gets an invoice, a packing slip and a
credit note, each listed, downloadable through a short-lived signed link, and private to its org.

The documents subscribers run from a dispatcher of the test's own; files go to a temporary directory
(filesystem storage, the embedded default).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import httpx
import pytest

from emporium.modules.documents import providers
from emporium.platform.db.engine import Database
from tests.support.catalog import make_product
from tests.support.documents import dispatch_until, pdf_text
from tests.support.identity import Tenant, bearer, make_tenant
from tests.support.orders import key, order_body, place


@pytest.fixture
async def documents(tmp_path: Path) -> AsyncIterator[providers.Documents]:
    registry = providers.Documents(providers.DocumentSettings(root=tmp_path / "documents", link_ttl_seconds=60))
    providers.install(registry)  # the app's handlers and the subscribers use it while the test runs
    yield registry
    providers.uninstall(registry)
    await registry.close()


async def stored_kinds(pg: asyncpg.Connection, order_id: str) -> set[str]:
    rows = await pg.fetch("SELECT kind FROM documents.document WHERE order_id = $1 AND state = 'stored'", order_id)
    return {row["kind"] for row in rows}


async def paid_shipped_refunded_order(app_client: httpx.AsyncClient, db: Database, shop: Tenant) -> dict[str, object]:
    shirt = await make_product(db, shop, price=1500, on_hand=5, name="Linen shirt")
    mug = await make_product(db, shop, price=799, on_hand=5, name="Mug")
    placed = await place(
        app_client, shop.storefront_key, order_body((str(shirt["sku"]), 2), (str(mug["sku"]), 1), shipping=490)
    )
    assert placed.status_code == 201, placed.text
    order: dict[str, object] = placed.json()
    owner = bearer(shop.owner_key)
    shipped = await app_client.post(
        f"/v1/orders/{order['id']}/fulfill", headers=owner, json={"carrier": "DHL", "tracking_number": "TRACK-77"}
    )
    assert shipped.status_code == 200, shipped.text
    refund = await app_client.post(
        f"/v1/orders/{order['id']}/refunds", headers={**owner, "Idempotency-Key": key()}, json={"amount": 799}
    )
    assert refund.status_code == 201, refund.text
    order["skus"] = (shirt["sku"], mug["sku"])
    return order


async def download(app_client: httpx.AsyncClient, headers: dict[str, str], document_id: str) -> tuple[str, bytes]:
    redirect = await app_client.get(f"/v1/documents/{document_id}/download", headers=headers)
    assert redirect.status_code == 303, redirect.text
    location = redirect.headers["location"]
    assert redirect.headers["cache-control"] == "no-store"
    file = await app_client.get(location)  # no credentials: the link's signature is enough
    assert file.status_code == 200, file.text
    assert file.headers["content-type"] == "application/pdf"
    return location, file.content


async def test_paid_shipped_refunded_order_has_an_invoice_a_packing_slip_and_a_credit_note(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, documents: providers.Documents
) -> None:
    shop = await make_tenant(db, "Paper shop")
    order = await paid_shipped_refunded_order(app_client, db, shop)
    order_id = str(order["id"])

    async def all_stored() -> bool:
        return await stored_kinds(pg, order_id) == {"invoice", "packing_slip", "credit_note"}

    await dispatch_until(db, all_stored, "the three documents")
    listed = await app_client.get(f"/v1/orders/{order_id}/documents", headers=bearer(shop.owner_key))
    assert listed.status_code == 200, listed.text
    docs = {doc["kind"]: doc for doc in listed.json()["data"]}
    assert set(docs) == {"invoice", "packing_slip", "credit_note"}
    assert {doc["number"] for doc in docs.values()} == {1}  # the org's first of each kind
    assert docs["invoice"]["display_number"] == "INV-000001"
    number = order["number"]
    shirt, mug = order["skus"]  # type: ignore[misc]
    texts = {}
    for kind, doc in docs.items():
        assert doc["state"] == "stored"
        _, body = await download(app_client, bearer(shop.owner_key), doc["id"])
        assert len(body) == doc["size_bytes"]
        text = pdf_text(body)
        texts[kind] = text
        assert f"Order #{number}" in text
        assert doc["display_number"] in text
        assert f"{shirt}" in text and "Linen shirt" in text and "15.00 EUR" in text and "30.00 EUR" in text
        assert f"{mug}" in text and "7.99 EUR" in text
        assert "Subtotal: 37.99 EUR" in text and "Shipping: 4.90 EUR" in text and "Total: 42.89 EUR" in text
    assert "Refunded: 7.99 EUR" in texts["credit_note"]
    assert "DHL" in texts["packing_slip"] and "TRACK-77" in texts["packing_slip"]
    stored = await pg.fetchrow(
        "SELECT content_sha256, issued_at, org_id FROM documents.document WHERE id = $1", docs["invoice"]["id"]
    )
    issued = stored["issued_at"]
    path = documents.settings.root / shop.org_id / f"{issued:%Y}" / f"{issued:%m}" / "invoice" / "1.pdf"
    assert path.is_file()  # the key: {org}/{yyyy}/{mm}/{kind}/{number}.pdf


async def test_documents_of_one_org_are_not_listed_or_downloadable_by_another(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, documents: providers.Documents
) -> None:
    shop, other = await asyncio.gather(make_tenant(db, "Shop with papers"), make_tenant(db, "Nosy shop"))
    product = await make_product(db, shop, price=1000, on_hand=1)
    placed = await place(app_client, shop.storefront_key, order_body((str(product["sku"]), 1)))
    order_id = placed.json()["id"]

    async def invoiced() -> bool:
        return await stored_kinds(pg, order_id) == {"invoice"}

    await dispatch_until(db, invoiced, "the invoice")
    [doc] = (await app_client.get(f"/v1/orders/{order_id}/documents", headers=bearer(shop.owner_key))).json()["data"]
    nosy = bearer(other.owner_key)
    for path in (f"/v1/orders/{order_id}/documents", f"/v1/documents/{doc['id']}/download"):
        answer = await app_client.get(path, headers=nosy)
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "not_found"
    unknown = await app_client.get("/v1/orders/ord_unknown/documents", headers=bearer(shop.owner_key))
    assert unknown.status_code == 404


async def test_the_apps_own_links_refuse_tampering_expiry_and_another_documents_key(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, documents: providers.Documents
) -> None:
    shop = await make_tenant(db, "Link shop")
    product = await make_product(db, shop, price=1000, on_hand=2)
    order_ids = []
    for _ in range(2):
        placed = await place(app_client, shop.storefront_key, order_body((str(product["sku"]), 1)))
        order_ids.append(placed.json()["id"])

    async def invoiced() -> bool:
        count = await pg.fetchval(
            "SELECT count(*) FROM documents.document WHERE org_id = $1 AND state = 'stored'", shop.org_id
        )
        return bool(count == 2)

    await dispatch_until(db, invoiced, "two invoices")
    ids = [
        (await app_client.get(f"/v1/orders/{oid}/documents", headers=bearer(shop.owner_key))).json()["data"][0]["id"]
        for oid in order_ids
    ]
    first, _ = await download(app_client, bearer(shop.owner_key), ids[0])
    second, _ = await download(app_client, bearer(shop.owner_key), ids[1])
    parts, other = urlsplit(first), urlsplit(second)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tampered_signature = {**query, "signature": ("0" if query["signature"][0] != "0" else "1") + query["signature"][1:]}
    later = {**query, "expires": str(int(query["expires"]) + 3600)}
    expired_expiry = int(query["expires"]) - 3600
    assert documents.files is not None
    expired = {**query, "expires": str(expired_expiry), "signature": documents.files.sign(query["key"], expired_expiry)}
    other_key = {**query, "key": parse_qs(other.query)["key"][0]}
    refused = [
        f"{parts.path}?{urlencode(tampered_signature)}",
        f"{parts.path}?{urlencode(later)}",  # a longer life is a different message
        f"{parts.path}?{urlencode(other_key)}",  # one document's signature on another's key
        f"{parts.path}?{urlencode(expired)}",  # correctly signed, but expired
        f"{parts.path}?key={query['key']}",  # no signature at all
        f"{parts.path}?{urlencode({**query, 'signature': 'é' * 64})}",  # not even hex (was a 500)
    ]
    for url in refused:
        answer = await app_client.get(url)
        assert answer.status_code in (403, 422), (url, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert b"%PDF" not in answer.content
    assert (await app_client.get(refused[0])).json()["code"] == "link_refused"
    assert (await app_client.get(refused[3])).json()["code"] == "link_refused"
