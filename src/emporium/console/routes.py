"""Console routes: sign-in, overview and feature flags; the org's pages are in `org_pages.py`."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from emporium.config import Config, metrics_directory
from emporium.console import org_pages
from emporium.console.overview import Trend, org_figures, read
from emporium.console.session import COOKIE, LOGIN_COOKIE, SessionSigner, same_token
from emporium.console.viewer import (
    CSRF_FIELD,
    TEMPLATES,
    Viewer,
    csrf_ok,
    form_of,
    may_sign_in,
    page,
    refused,
    runtime_of,
    signer_of,
    to_login,
    viewer_of,
)
from emporium.modules.oversight import workflows as oversight
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.api_keys import hash_api_key, is_well_formed_api_key
from emporium.platform.errors import DomainError

router = APIRouter(prefix="/console", include_in_schema=False)
ORG_OVERVIEW_MINUTES = 30


def mount_console(app: FastAPI, config: Config) -> None:
    app.state.console_signer = SessionSigner(config.console_secret, config.console_session_hours * 3600)
    app.state.console_trend = Trend()
    app.state.console_secure_cookie = False  # set True behind HTTPS (see docs/console.md)
    app.mount("/console/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="console-static")
    app.include_router(router)
    app.include_router(org_pages.router)


def _set_cookie(response: Response, name: str, value: str, max_age: int, request: Request) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/console")


@router.get("/login")
async def login_form(request: Request, error: str | None = None) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = TEMPLATES.TemplateResponse(
        request, "login.html", {"csrf": token, "csrf_field": CSRF_FIELD, "error": error}
    )
    _set_cookie(response, LOGIN_COOKIE, token, 3600, request)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await form_of(request)
    if not same_token(form.get(CSRF_FIELD), request.cookies.get(LOGIN_COOKIE) or "\0"):
        return refused("the form's CSRF token is missing or wrong; reload the sign-in page")
    secret = form.get("api_key", "").strip()
    runtime = runtime_of(request)
    if runtime is None:
        return refused("the service is starting or stopping", 503)
    principal = await runtime.authenticator.by_api_key(hash_api_key(secret)) if is_well_formed_api_key(secret) else None
    if principal is None:
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {"csrf": form.get(CSRF_FIELD), "csrf_field": CSRF_FIELD, "error": "unknown, revoked or malformed key"},
            status_code=401,
        )
    if not may_sign_in(principal):
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {
                "csrf": form.get(CSRF_FIELD),
                "csrf_field": CSRF_FIELD,
                "error": "only a platform operator key or an org owner key may sign in to the console",
            },
            status_code=403,
        )
    signer = signer_of(request)
    _, cookie = signer.issue(hash_api_key(secret))
    response = RedirectResponse("/console", status_code=303)
    _set_cookie(response, COOKIE, cookie, int(signer.lifetime_seconds), request)
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login()
    if not csrf_ok(request, await form_of(request), viewer.session.csrf):
        return refused("the form's CSRF token is missing or wrong")
    response = to_login()
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("")
async def overview(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login()
    return page(request, viewer, "overview.html")


@router.get("/overview/figures")
async def overview_figures(request: Request) -> Response:
    """The overview's panel, fetched by htmx every few seconds."""
    viewer = await viewer_of(request)
    runtime = runtime_of(request)
    if viewer is None or runtime is None:
        return HTMLResponse("", status_code=401)
    if not viewer.is_operator:  # process metrics span every org: an owner sees its org's traffic only
        rows = await oversight.api_request_minutes(runtime.db, viewer.principal, ORG_OVERVIEW_MINUTES)
        return page(request, viewer, "overview_org.html", figures=org_figures(rows, ORG_OVERVIEW_MINUTES))
    reading = read(metrics_directory(runtime.config))
    figures = request.app.state.console_trend.add(reading, runtime.backlog.reading.size)
    return page(request, viewer, "overview_figures.html", figures=figures)


def _operator(viewer: Viewer | None) -> Viewer | Response:
    if viewer is None:
        return to_login()
    if not viewer.is_operator:
        return refused("feature flags are for platform operators")
    return viewer


@router.get("/flags")
async def flags(request: Request, message: str | None = None) -> Response:
    viewer = _operator(await viewer_of(request))
    if isinstance(viewer, Response):
        return viewer
    runtime = runtime_of(request)
    assert runtime is not None  # a viewer was resolved through it
    states = await oversight.list_flags(runtime.db)
    return page(request, viewer, "flags.html", flags=states, message=message)


@router.post("/flags/{name}")
async def set_flag(request: Request, name: str) -> Response:
    """Set a flag globally (no `org_id`), for one org, or clear an org's own setting (`value` = `inherit`)."""
    viewer = _operator(await viewer_of(request))
    if isinstance(viewer, Response):
        return viewer
    form = await form_of(request)
    if not csrf_ok(request, form, viewer.session.csrf):
        return refused("the form's CSRF token is missing or wrong")
    runtime = runtime_of(request)
    assert runtime is not None
    org_id = form.get("org_id", "").strip() or None
    value = form.get("value", "")
    action = "flags_clear_for_org" if value == "inherit" else ("flags_set_for_org" if org_id else "flags_set_global")
    audit = AuditContext.of(viewer.principal, action, request.scope.get("state", {}).get("request_id"))
    try:
        if value == "inherit" and org_id:
            await oversight.clear_flag(runtime.db, viewer.principal, audit, name, org_id=org_id)
        else:
            enabled = {"on": True, "off": False}.get(value)
            percentage = int(value) if value.isdigit() else None
            await oversight.set_flag(
                runtime.db, viewer.principal, audit, name, org_id=org_id, enabled=enabled, percentage=percentage
            )
    except DomainError as error:
        return await flags(request, message=f"refused: {error}")
    return await flags(request, message=f"{name} changed")
