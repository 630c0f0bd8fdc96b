"""The app's own signed, expiring download links (filesystem storage): public, never behind `GatedRoute`.

`GET /v1/documents/{id}/download` (authenticated, org-scoped) answers 303 to such a link; the link's
HMAC signature over the key and the expiry is the credential here, as a presigned URL is on S3.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from emporium.modules.documents import workflows

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get(
    "/document-files",
    operation_id="documents_signed_file",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF."},
        403: {"description": "The link is expired, altered, or not one of ours (`link_refused`)."},
        404: {"description": "The link is valid but the file is no longer there."},
    },
)
async def signed_file(
    key: Annotated[str, Query(max_length=512)],
    expires: Annotated[int, Query(ge=0)],
    signature: Annotated[str, Query(max_length=128, description="HMAC-SHA256, hex, as the 303 gave it.")],
) -> Response:
    body = await workflows.read_linked_file(key, expires, signature)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
