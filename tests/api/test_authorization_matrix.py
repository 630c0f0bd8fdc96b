"""Every route of the app x every kind of caller, with the expected status.

A route missing from MATRIX (and not declared public) fails
`test_every_route_is_in_the_matrix`, so no endpoint can skip authorization.
Cells that succeed act on throwaway resources made for that cell.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from emporium.bootstrap.app import create_app
from emporium.bootstrap.modules import INSTALLED
from emporium.modules.documents import workflows as documents
from emporium.modules.documents.domain import Content, DocumentKind, Line
from emporium.modules.documents.workflows import IssueRequest, utcnow
from emporium.modules.identity.domain import Role
from emporium.modules.notifications.resources import webhook_endpoint_crud
from emporium.modules.notifications.schemas import WebhookEndpointIn
from emporium.modules.orders.workflows import OrderSpec
from emporium.modules.oversight.workflows import set_flag
from emporium.orchestrators import checkout
from emporium.platform.auth.principal import ActorType, Principal
from emporium.platform.db.engine import Database
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.flags import declare
from emporium.platform.idempotency.store import IdempotencyClaim
from emporium.platform.ids import new_id
from tests.support.bus import make_dead_letter
from tests.support.catalog import make_category, make_product, new_sku
from tests.support.identity import Tenant, bearer, setup_audit, throwaway_key, throwaway_user
from tests.support.notifications import make_dead_delivery
from tests.support.orders import key, order_body
from tests.support.payments import authorized_payment

CALLERS = ("anonymous", "viewer", "staff", "admin", "owner", "storefront", "other_org_admin", "operator")


@dataclass(frozen=True)
class Call:
    path: str
    json: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


CallFactory = Callable[[Database, Tenant], Awaitable[Call]]


async def _user_target(db: Database, tenant: Tenant) -> str:
    return (await throwaway_user(db, tenant)).id


def fixed(path: str, json: dict[str, Any] | None = None) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        return Call(path, json)

    return make


def on_user(suffix: str = "", json: dict[str, Any] | None = None) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        return Call(f"/v1/users/{await _user_target(db, tenant)}{suffix}", json)

    return make


def on_key(suffix: str) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        return Call(f"/v1/api-keys/{await throwaway_key(db, tenant)}{suffix}")

    return make


def on_dead_letter(suffix: str = "") -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        return Call(f"/v1/admin/dead-letters/{await make_dead_letter(db, tenant.org_id)}{suffix}")

    return make


# A flag no product code reads: the matrix may switch it freely.
TEST_FLAG = declare("tests.matrix", default=False, description="switched by the authorization matrix")


def on_org_flag(json: dict[str, Any] | None) -> CallFactory:
    """The org's own setting of the test flag (made first, so that clearing it can succeed)."""

    async def make(db: Database, tenant: Tenant) -> Call:
        operator = Principal("platform", ActorType.OPERATOR, "opk_matrix", "operator", frozenset())
        await set_flag(
            db, operator, setup_audit(operator), TEST_FLAG.name, org_id=tenant.org_id, enabled=True, percentage=None
        )
        return Call(f"/v1/admin/flags/{TEST_FLAG.name}/orgs/{tenant.org_id}", json)

    return make


async def invite(db: Database, tenant: Tenant) -> Call:
    return Call("/v1/users", {"email": f"new-{secrets.token_hex(4)}@example.com", "name": "New", "role": "viewer"})


def on_product(suffix: str = "", json: dict[str, Any] | None = None) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        return Call(f"/v1/products/{(await make_product(db, tenant, on_hand=5))['id']}{suffix}", json)

    return make


async def product_by_sku(db: Database, tenant: Tenant) -> Call:
    return Call(f"/v1/products/by-sku/{(await make_product(db, tenant))['sku']}")


def on_category(json: dict[str, Any] | None = None) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        return Call(f"/v1/categories/{await make_category(db, tenant)}", json)

    return make


def on_endpoint(json: dict[str, Any] | None = None) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        owner = tenant.owner_principal
        body = WebhookEndpointIn(url="https://hooks.example.com/x", event_types=["OrderCreated"])  # type: ignore[arg-type]
        row = await webhook_endpoint_crud.create(db, None, owner, setup_audit(owner), body)
        return Call(f"/v1/webhook-endpoints/{row['id']}", json)

    return make


def on_endpoint_action(suffix: str) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        call = await on_endpoint()(db, tenant)
        return Call(call.path + suffix)

    return make


def on_delivery(suffix: str) -> CallFactory:
    """A dead delivery of a fresh (enabled) endpoint, so a replay can succeed."""

    async def make(db: Database, tenant: Tenant) -> Call:
        endpoint_id = (await on_endpoint()(db, tenant)).path.rsplit("/", 1)[1]
        delivery_id = await make_dead_delivery(db, tenant.org_id, endpoint_id)
        return Call(f"/v1/webhook-deliveries/{delivery_id}{suffix}")

    return make


def on_payment(suffix: str = "", json: dict[str, Any] | None = None) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        return Call(f"/v1/payments/{(await authorized_payment(db, tenant.org_id)).id}{suffix}", json)

    return make


async def _paid_order(db: Database, tenant: Tenant) -> str:
    product = await make_product(db, tenant, price=10_000, on_hand=1)
    owner = tenant.owner_principal
    placed = await checkout.place_order(
        db, owner, setup_audit(owner), IdempotencyClaim(tenant.org_id, key(), "f" * 64),
        OrderSpec(lines=[(str(product["sku"]), 1)], customer_email="m@example.com"),
        checkout.PaymentChoice("sandbox", "tok_success"), reservation_ttl=timedelta(minutes=15),
    )  # fmt: skip
    return placed.order.id


def on_order(
    suffix: str = "", json: dict[str, Any] | None = None, *, shipped: bool = False, idem: bool = False
) -> CallFactory:
    async def make(db: Database, tenant: Tenant) -> Call:
        order_id = await _paid_order(db, tenant)
        if shipped:
            owner = tenant.owner_principal
            await checkout.fulfill(db, owner, setup_audit(owner), order_id, carrier="DHL", tracking_number="1")
        return Call(f"/v1/orders/{order_id}{suffix}", json, {"Idempotency-Key": key()} if idem else None)

    return make


async def on_document(db: Database, tenant: Tenant) -> Call:
    order_id = await _paid_order(db, tenant)
    content = Content(1, "EUR", "buyer@example.com", None, (Line("SKU", "Thing", 1, 100, 100),), 100, 0, 100)
    request = IssueRequest(DocumentKind.INVOICE, tenant.org_id, order_id, content=content)
    delivery = Delivery(
        Envelope(new_id("evt"), "orders.order_paid", 2, "order", order_id, tenant.org_id, {}, utcnow()),
        "documents.invoices",
    )
    doc = await documents.issue_document(db, delivery, request)
    assert doc is not None
    return Call(f"/v1/documents/{doc.id}/download")


async def new_order(db: Database, tenant: Tenant) -> Call:
    product = await make_product(db, tenant, on_hand=1)
    return Call("/v1/orders", order_body((str(product["sku"]), 1)), {"Idempotency-Key": key()})


async def new_product(db: Database, tenant: Tenant) -> Call:
    return Call("/v1/products", {"sku": new_sku(), "name": "New", "price": {"amount": 100, "currency": "EUR"}})


async def bulk(db: Database, tenant: Tenant) -> Call:
    item = {"sku": new_sku(), "name": "Bulk", "price": {"amount": 100, "currency": "EUR"}}
    return Call("/v1/products:bulk", {"items": [item]})


def _expect(
    anonymous: int, viewer: int, staff: int, admin: int, owner: int, storefront: int, other: int, operator: int = 403
) -> dict[str, int]:
    """`operator`: a platform operator's key holds no org permission, so org routes refuse it by default."""
    return dict(zip(CALLERS, (anonymous, viewer, staff, admin, owner, storefront, other, operator), strict=True))


OPERATOR_ONLY = _expect(401, 403, 403, 403, 403, 403, 403, 200)
READ_BY_EVERYONE = _expect(401, 200, 200, 200, 200, 200, 200)
READ_BY_PEOPLE = _expect(401, 200, 200, 200, 200, 403, 200)
ADMIN_ONLY_LIST = _expect(401, 403, 403, 200, 200, 403, 200)
CATALOG_READ_ONE = _expect(401, 200, 200, 200, 200, 200, 404)
CATALOG_CREATE = _expect(401, 403, 201, 201, 201, 403, 201)
CATALOG_CHANGE = _expect(401, 403, 200, 200, 200, 403, 404)
CATALOG_DELETE = _expect(401, 403, 204, 204, 204, 403, 404)
REPORTS = _expect(401, 403, 403, 200, 200, 403, 200)

MATRIX: dict[tuple[str, str], tuple[CallFactory, dict[str, int]]] = {
    ("GET", "/v1/auth/whoami"): (fixed("/v1/auth/whoami"), _expect(401, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/v1/orgs/me"): (fixed("/v1/orgs/me"), READ_BY_EVERYONE),
    ("PATCH", "/v1/orgs/me"): (
        fixed("/v1/orgs/me", {"capture_mode": "immediate"}),  # a no-op change: the shared tenants stay as they are
        _expect(401, 403, 403, 200, 200, 403, 200),
    ),
    ("GET", "/v1/orders"): (fixed("/v1/orders?limit=5"), _expect(401, 200, 200, 200, 200, 403, 200)),
    # Another org's admin names org A's SKU, which its own catalog does not have: 422.
    ("POST", "/v1/orders"): (new_order, _expect(401, 403, 201, 201, 201, 201, 422)),
    ("GET", "/v1/orders/{id}"): (on_order(), _expect(401, 200, 200, 200, 200, 403, 404)),
    ("GET", "/v1/orders/{id}/documents"): (on_order("/documents"), _expect(401, 200, 200, 200, 200, 403, 404)),
    ("GET", "/v1/documents/{id}/download"): (on_document, _expect(401, 303, 303, 303, 303, 403, 404)),
    ("POST", "/v1/orders/{id}/cancel"): (on_order("/cancel"), _expect(401, 403, 200, 200, 200, 403, 404)),
    ("POST", "/v1/orders/{id}/fulfill"): (
        on_order("/fulfill", {"carrier": "DHL", "tracking_number": "42"}),
        _expect(401, 403, 200, 200, 200, 403, 404),
    ),
    ("POST", "/v1/orders/{id}/deliver"): (
        on_order("/deliver", shipped=True),
        _expect(401, 403, 200, 200, 200, 403, 404),
    ),
    ("POST", "/v1/orders/{id}/refunds"): (
        on_order("/refunds", {"amount": 100}, idem=True),
        _expect(401, 403, 403, 201, 201, 403, 404),
    ),
    ("GET", "/v1/users"): (fixed("/v1/users"), READ_BY_PEOPLE),
    ("GET", "/v1/users/{id}"): (on_user(), _expect(401, 200, 200, 200, 200, 403, 404)),
    ("POST", "/v1/users"): (invite, _expect(401, 403, 403, 201, 201, 403, 201)),
    ("PATCH", "/v1/users/{id}"): (on_user(json={"name": "Renamed"}), _expect(401, 403, 403, 200, 200, 403, 404)),
    ("PUT", "/v1/users/{id}/role"): (on_user("/role", {"role": "viewer"}), _expect(401, 403, 403, 200, 200, 403, 404)),
    ("POST", "/v1/users/{id}/deactivate"): (on_user("/deactivate"), _expect(401, 403, 403, 200, 200, 403, 404)),
    ("GET", "/v1/api-keys"): (fixed("/v1/api-keys"), ADMIN_ONLY_LIST),
    ("POST", "/v1/api-keys"): (
        fixed("/v1/api-keys", {"name": "ci", "role": "storefront"}),
        _expect(401, 403, 403, 201, 201, 403, 201),
    ),
    ("POST", "/v1/api-keys/{id}/revoke"): (on_key("/revoke"), _expect(401, 403, 403, 200, 200, 403, 404)),
    ("GET", "/v1/audit-log"): (fixed("/v1/audit-log"), ADMIN_ONLY_LIST),
    ("GET", "/v1/products"): (fixed("/v1/products?limit=5"), READ_BY_EVERYONE),
    ("POST", "/v1/products"): (new_product, CATALOG_CREATE),
    ("GET", "/v1/products/{id}"): (on_product(), CATALOG_READ_ONE),
    ("GET", "/v1/products/by-sku/{value}"): (product_by_sku, CATALOG_READ_ONE),
    ("PATCH", "/v1/products/{id}"): (on_product(json={"name": "Renamed"}), CATALOG_CHANGE),
    ("DELETE", "/v1/products/{id}"): (on_product(), CATALOG_DELETE),
    ("GET", "/v1/products:cheaper_than"): (fixed("/v1/products:cheaper_than?max_amount=500"), READ_BY_EVERYONE),
    ("POST", "/v1/products:bulk"): (bulk, _expect(401, 403, 200, 200, 200, 403, 200)),
    ("GET", "/v1/products/{id}/inventory"): (on_product("/inventory"), CATALOG_READ_ONE),
    ("GET", "/v1/products/{id}/inventory/adjustments"): (on_product("/inventory/adjustments"), CATALOG_READ_ONE),
    ("POST", "/v1/products/{id}/inventory/adjustments"): (
        on_product("/inventory/adjustments", {"kind": "restock", "quantity": 3, "reason": "PO-1"}),
        _expect(401, 403, 201, 201, 201, 403, 404),
    ),
    ("GET", "/v1/categories"): (fixed("/v1/categories"), READ_BY_EVERYONE),
    ("POST", "/v1/categories"): (fixed("/v1/categories", {"name": "Hats"}), CATALOG_CREATE),
    ("GET", "/v1/categories/{id}"): (on_category(), CATALOG_READ_ONE),
    ("PATCH", "/v1/categories/{id}"): (on_category({"name": "Caps"}), CATALOG_CHANGE),
    ("DELETE", "/v1/categories/{id}"): (on_category(), CATALOG_DELETE),
    ("GET", "/v1/webhook-endpoints"): (fixed("/v1/webhook-endpoints"), ADMIN_ONLY_LIST),
    ("POST", "/v1/webhook-endpoints"): (
        fixed("/v1/webhook-endpoints", {"url": "https://hooks.example.com/new", "event_types": ["*"]}),
        _expect(401, 403, 403, 201, 201, 403, 201),
    ),
    ("GET", "/v1/webhook-endpoints/{id}"): (on_endpoint(), _expect(401, 403, 403, 200, 200, 403, 404)),
    ("PATCH", "/v1/webhook-endpoints/{id}"): (
        on_endpoint({"enabled": False}),
        _expect(401, 403, 403, 200, 200, 403, 404),
    ),
    ("DELETE", "/v1/webhook-endpoints/{id}"): (on_endpoint(), _expect(401, 403, 403, 204, 204, 403, 404)),
    ("POST", "/v1/webhook-endpoints/{id}/rotate-secret"): (
        on_endpoint_action("/rotate-secret"),
        _expect(401, 403, 403, 200, 200, 403, 404),
    ),
    ("GET", "/v1/webhook-deliveries"): (fixed("/v1/webhook-deliveries?limit=5"), ADMIN_ONLY_LIST),
    ("GET", "/v1/webhook-deliveries/{id}/attempts"): (
        on_delivery("/attempts"),
        _expect(401, 403, 403, 200, 200, 403, 404),
    ),
    ("POST", "/v1/webhook-deliveries/{id}/replay"): (
        on_delivery("/replay"),
        _expect(401, 403, 403, 200, 200, 403, 404),
    ),
    ("GET", "/v1/admin/dead-letters"): (fixed("/v1/admin/dead-letters"), ADMIN_ONLY_LIST),
    ("GET", "/v1/admin/dead-letters/{id}"): (on_dead_letter(), _expect(401, 403, 403, 200, 200, 403, 404)),
    ("POST", "/v1/admin/dead-letters/{id}/replay"): (
        on_dead_letter("/replay"),
        _expect(401, 403, 403, 200, 200, 403, 404),
    ),
    ("GET", "/v1/payments/{id}"): (on_payment(), _expect(401, 200, 200, 200, 200, 403, 404)),
    ("POST", "/v1/payments/{id}/capture"): (on_payment("/capture"), _expect(401, 403, 403, 200, 200, 403, 404)),
    # Reports: owner, admin and backoffice (not in this table's columns: tests/api/test_reports_api.py); another
    # org's admin reads their own org's figures.
    ("GET", "/v1/reports/sales"): (fixed("/v1/reports/sales?from=2026-01-01&to=2026-01-31"), REPORTS),
    ("GET", "/v1/reports/products"): (fixed("/v1/reports/products?from=2026-01-01&to=2026-01-31"), REPORTS),
    ("GET", "/v1/reports/payments"): (fixed("/v1/reports/payments?from=2026-01-01&to=2026-01-31"), REPORTS),
    # Feature flags: platform operators only; an org's own people, even its owner, never.
    ("GET", "/v1/admin/flags"): (fixed("/v1/admin/flags"), OPERATOR_ONLY),
    ("GET", "/v1/admin/flags/{name}"): (fixed(f"/v1/admin/flags/{TEST_FLAG.name}"), OPERATOR_ONLY),
    ("PUT", "/v1/admin/flags/{name}"): (fixed(f"/v1/admin/flags/{TEST_FLAG.name}", {"enabled": False}), OPERATOR_ONLY),
    ("PUT", "/v1/admin/flags/{name}/orgs/{org_id}"): (on_org_flag({"enabled": True}), OPERATOR_ONLY),
    ("DELETE", "/v1/admin/flags/{name}/orgs/{org_id}"): (on_org_flag(None), OPERATOR_ONLY),
    ("GET", "/v1/api-logs"): (fixed("/v1/api-logs?limit=5"), ADMIN_ONLY_LIST),
}


def _app_routes() -> set[tuple[str, str]]:
    """Every operation the app serves: its OpenAPI operations plus the docs routes FastAPI adds."""
    app = create_app()
    routes = {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}
    for route in app.routes:
        if isinstance(route, Route) and route.methods:
            routes |= {(method, route.path) for method in route.methods if method != "HEAD"}
    return routes


def test_every_route_is_in_the_matrix_or_declared_public() -> None:
    app_routes = _app_routes()
    unlisted = app_routes - MATRIX.keys() - INSTALLED.public_routes
    assert not unlisted, f"routes without an authorization matrix row: {sorted(unlisted)}"
    stale = MATRIX.keys() - app_routes
    assert not stale, f"matrix rows for routes that no longer exist: {sorted(stale)}"


def test_public_routes_are_exactly_the_probes_and_docs() -> None:
    assert {path for _, path in INSTALLED.public_routes} == {
        "/livez",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/v1/provider-webhooks/{provider}",  # signed by the provider instead (tests/api/test_payments_api.py)
        "/v1/document-files",  # the app's own signed links (tests/api/test_documents.py)
    }


def _headers(caller: str, tenant: Tenant, other: Tenant, operator: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "storefront":
        return bearer(tenant.storefront_key)
    if caller == "other_org_admin":
        return other.headers_for(Role.ADMIN)
    if caller == "operator":
        return bearer(operator)
    return tenant.headers_for(Role(caller))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
async def test_matrix_cell(
    route: tuple[str, str],
    caller: str,
    app_client: httpx.AsyncClient,
    db: Database,
    tenant: Tenant,
    other_tenant: Tenant,
    operator: str,
) -> None:
    make_call, expected = MATRIX[route]
    call = await make_call(db, tenant)
    response = await app_client.request(
        route[0],
        call.path,
        json=call.json,
        headers={**_headers(caller, tenant, other_tenant, operator), **(call.headers or {})},
    )
    assert response.status_code == expected[caller], response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
