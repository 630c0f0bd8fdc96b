"""`/docs`: Swagger UI served from the pinned `swagger-ui-bundle-v2` package, so it works with no network.

FastAPI's default page loads Swagger UI from a CDN: offline (or behind a strict
proxy) `/docs` was blank. The assets ship in a wheel locked in uv.lock and are
served under `/docs/assets/`; the document's security schemes give the page its
Authorize button, so a newcomer can paste an API key and try any call.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

ASSETS = "/docs/assets"


def mount_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")

    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True, "tryItOutEnabled": True},
        )

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
