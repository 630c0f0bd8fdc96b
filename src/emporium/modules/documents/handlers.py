"""Documents HTTP routes: an order's documents, and a short-lived download link for one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from emporium.modules.documents import workflows
from emporium.modules.documents.permissions import Perm
from emporium.modules.documents.schemas import DocumentList, DocumentOut
from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.http.state import database_of

router = APIRouter(prefix="/v1", route_class=GatedRoute, tags=["documents"])

_REDIRECT: dict[int | str, dict[str, Any]] = {
    303: {
        "description": "See Other: `Location` is a link to the PDF valid for DOCUMENTS_LINK_TTL seconds "
        "(an S3 presigned URL, or the app's own signed link with filesystem storage).",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    409: {"description": "The document is not stored yet (`document_not_ready`); try again shortly."},
}


_TO_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "links": {
            "documents_download": {
                "operationId": "documents_download",
                "parameters": {"path.id": "$response.body#/data/0/id"},
                "description": "The first document's id, for GET /v1/documents/{id}/download",
            }
        }
    }
}


@router.get("/orders/{id}/documents", operation_id="documents_list_for_order", responses=_TO_DOWNLOAD)
async def list_order_documents(request: Request, id: str) -> DocumentList:
    principal = auth_gate(request, Perm.DOCUMENTS_READ)
    found = await workflows.list_documents(database_of(request), principal.org_id, id)
    return DocumentList(data=[DocumentOut.of(doc) for doc in found])


@router.get(
    "/documents/{id}/download",
    operation_id="documents_download",
    status_code=303,
    response_class=RedirectResponse,
    responses=_REDIRECT,
)
async def download_document(request: Request, id: str) -> RedirectResponse:
    principal = auth_gate(request, Perm.DOCUMENTS_READ)
    url = await workflows.download_link(database_of(request), principal.org_id, id)
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
