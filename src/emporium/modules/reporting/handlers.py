"""Reporting HTTP routes: sales, products and payment outcomes of the caller's org, as JSON or CSV.

Each opens with `auth_gate(..., Perm.REPORTS_READ)` (owner, admin, backoffice); every query is scoped by the
principal's org. `Accept: text/csv` returns the same rows as CSV.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from emporium.modules.reporting import workflows
from emporium.modules.reporting.permissions import Perm
from emporium.modules.reporting.schemas import (
    CSV_MEDIA_TYPE,
    CSV_RESPONSE,
    BucketedQuery,
    PaymentsReportOut,
    PaymentsRowOut,
    ProductRowOut,
    ProductsQuery,
    ProductsReportOut,
    SalesReportOut,
    SalesRowOut,
    to_csv,
    wants_csv,
)
from emporium.platform.auth.gate import GatedRoute, auth_gate

router = APIRouter(route_class=GatedRoute, tags=["reports"])


def _answer(
    request: Request, report: BaseModel, rows: list[BaseModel], row_type: type[BaseModel], name: str
) -> Response:
    if wants_csv(request.headers.get("accept")):
        return Response(
            to_csv(rows, row_type),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(report.model_dump_json(by_alias=True), media_type="application/json")


@router.get("/v1/reports/sales", operation_id="reports_sales", response_model=SalesReportOut, responses=CSV_RESPONSE)
async def sales_report(request: Request, query: Annotated[BucketedQuery, Query()]) -> Response:
    principal = auth_gate(request, Perm.REPORTS_READ)
    start, end = query.checked()
    rows = await workflows.sales_report(
        workflows.installed_store(), principal.org_id, start, end, query.granularity, query.currency
    )
    out = [SalesRowOut.of(r) for r in rows]
    report = SalesReportOut(start=start, end=end, granularity=query.granularity, rows=out)
    return _answer(request, report, list(out), SalesRowOut, "sales")


@router.get(
    "/v1/reports/products", operation_id="reports_products", response_model=ProductsReportOut, responses=CSV_RESPONSE
)
async def products_report(request: Request, query: Annotated[ProductsQuery, Query()]) -> Response:
    principal = auth_gate(request, Perm.REPORTS_READ)
    start, end = query.checked()
    rows = await workflows.products_report(
        workflows.installed_store(), principal.org_id, start, end, query.currency, query.sort, query.limit
    )
    out = [ProductRowOut.of(r) for r in rows]
    report = ProductsReportOut(start=start, end=end, sort=query.sort, rows=out)
    return _answer(request, report, list(out), ProductRowOut, "products")


@router.get(
    "/v1/reports/payments", operation_id="reports_payments", response_model=PaymentsReportOut, responses=CSV_RESPONSE
)
async def payments_report(request: Request, query: Annotated[BucketedQuery, Query()]) -> Response:
    principal = auth_gate(request, Perm.REPORTS_READ)
    start, end = query.checked()
    rows = await workflows.payments_report(
        workflows.installed_store(), principal.org_id, start, end, query.granularity, query.currency
    )
    out = [PaymentsRowOut.of(r) for r in rows]
    report = PaymentsReportOut(start=start, end=end, granularity=query.granularity, rows=out)
    return _answer(request, report, list(out), PaymentsRowOut, "payments")
