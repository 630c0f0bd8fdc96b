"""The S3 storage adapter against real S3 servers started by the suite (tests/support/s3_servers.py).

moto: behaviour (put/get, overwrite, missing keys, hashes, presigned download with its headers, one client
reused). nanio, which checks SigV4: a presigned link works as issued, and a tampered, re-keyed (another
org's key), wrong-secret or expired one is refused with 403. Then a document issued and stored on S3 is
downloaded through the workflow's link and its PDF read.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from emporium.modules.documents import providers, workflows
from emporium.modules.documents.domain import Content, DocumentKind, Line
from emporium.modules.documents.workflows import IssueRequest
from emporium.platform.db.engine import Database
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.ids import new_id
from tests.support.bus import wait_for
from tests.support.documents import pdf_text
from tests.support.s3_servers import S3Endpoint, moto_s3, nanio_s3  # noqa: F401 (fixtures)


async def bucket_on(endpoint: S3Endpoint) -> AsyncIterator[providers.S3Storage]:
    settings = providers.S3Settings(
        bucket=f"docs-{secrets.token_hex(4)}",
        endpoint_url=endpoint.url,
        access_key_id=endpoint.access_key,
        secret_access_key=endpoint.secret_key,
        path_style=True,
    )
    storage = providers.S3Storage(settings)
    await (await storage.client()).create_bucket(Bucket=settings.bucket)
    yield storage
    await storage.close()


@pytest.fixture
async def moto_bucket(moto_s3: S3Endpoint) -> AsyncIterator[providers.S3Storage]:  # noqa: F811
    async for storage in bucket_on(moto_s3):
        yield storage


@pytest.fixture
async def nanio_bucket(nanio_s3: S3Endpoint) -> AsyncIterator[providers.S3Storage]:  # noqa: F811
    async for storage in bucket_on(nanio_s3):
        yield storage


PDF = b"%PDF-1.4 test body " + bytes(range(256))


async def test_objects_round_trip_are_overwritten_in_place_and_missing_keys_are_none(
    moto_bucket: providers.S3Storage,
) -> None:
    key = "org_a/2026/12/invoice/1.pdf"
    stored = await moto_bucket.put(key, PDF, "application/pdf")
    assert (stored.key, stored.size_bytes, stored.content_sha256) == (key, len(PDF), hashlib.sha256(PDF).hexdigest())
    assert await moto_bucket.get(key) == PDF
    client = await moto_bucket.client()
    again = await moto_bucket.put(key, b"%PDF-2", "application/pdf")  # a retried render overwrites its own key
    assert again.size_bytes == 6 and await moto_bucket.get(key) == b"%PDF-2"
    assert await moto_bucket.client() is client  # one client (and connection pool) for the process
    assert await moto_bucket.get("org_a/2026/12/invoice/2.pdf") is None
    head = await client.head_object(Bucket=moto_bucket.settings.bucket, Key=key)
    assert head["ContentType"] == "application/pdf"


async def test_a_presigned_link_downloads_the_pdf_with_an_attachment_name(moto_bucket: providers.S3Storage) -> None:
    key = "org_a/2026/12/credit_note/3.pdf"
    await moto_bucket.put(key, PDF, "application/pdf")
    url = await moto_bucket.download_url(key, "CRN-000003.pdf", 60)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["60"]
    async with httpx.AsyncClient() as http:
        answer = await http.get(url)
    assert answer.status_code == 200 and answer.content == PDF
    assert answer.headers["content-disposition"] == 'attachment; filename="CRN-000003.pdf"'


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_the_signature_checking_server_refuses_tampered_rekeyed_wrong_secret_and_expired_links(
    nanio_bucket: providers.S3Storage,
    nanio_s3: S3Endpoint,  # noqa: F811
) -> None:
    mine, theirs = "org_a/2026/12/invoice/1.pdf", "org_b/2026/12/invoice/1.pdf"
    await nanio_bucket.put(mine, PDF, "application/pdf")
    await nanio_bucket.put(theirs, b"%PDF-org-b", "application/pdf")
    url = await nanio_bucket.download_url(mine, "INV-000001.pdf", 60)
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    forged = await providers.S3Storage(
        providers.S3Settings(
            bucket=nanio_bucket.settings.bucket, endpoint_url=nanio_s3.url, access_key_id=nanio_s3.access_key,
            secret_access_key="not-the-secret-key-0000000000", path_style=True,
        )
    ).download_url(theirs, "x.pdf", 60)  # fmt: skip
    short = await nanio_bucket.download_url(mine, "INV-000001.pdf", 1)
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).content == PDF  # as issued: valid
        refused = {
            "tampered signature": _with_query(
                url, **{"X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]}
            ),
            "longer expiry": _with_query(url, **{"X-Amz-Expires": "604800"}),
            "another org's key": url.replace("/org_a/", "/org_b/"),
            "wrong secret key": forged,
        }
        for what, bad in refused.items():
            answer = await http.get(bad)
            assert answer.status_code == 403, (what, answer.status_code, answer.text)
            assert b"%PDF" not in answer.content, what

        async def expired() -> bool:
            return (await http.get(short)).status_code == 403

        await wait_for(expired, 15, "the 1-second link to expire")  # polls until refused, bounded


async def test_a_document_stored_on_s3_downloads_through_its_presigned_link(
    db: Database, nanio_bucket: providers.S3Storage
) -> None:
    registry = providers.Documents(providers.DocumentSettings(link_ttl_seconds=30), storage=nanio_bucket)
    org_id, order_id = new_id("org"), new_id("ord")
    content = Content(4242, "JPY", "b@example.com", "Bo", (Line("TEA-1", "Green tea", 3, 1200, 3600),), 3600, 500, 4100)
    delivery = Delivery(
        Envelope(new_id("evt"), "orders.order_paid", 2, "order", order_id, org_id, {}, workflows.utcnow()),
        "documents.invoices",
    )
    doc = await workflows.issue_document(
        db, delivery, IssueRequest(DocumentKind.INVOICE, org_id, order_id, content=content), registry
    )
    assert doc is not None and doc.state.value == "stored"
    link = await workflows.download_link(db, org_id, doc.id, registry)
    assert urlsplit(link).path == f"/{nanio_bucket.settings.bucket}/{doc.key}"
    async with httpx.AsyncClient() as http:
        body = (await http.get(link)).content
    assert hashlib.sha256(body).hexdigest() == doc.content_sha256
    text = pdf_text(body)
    assert "Order #4242" in text and "Green tea" in text and "1200 JPY" in text and "Total: 4100 JPY" in text
