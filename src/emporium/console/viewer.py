"""Who is looking at the console: the session's key, resolved again on every request."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from emporium.bootstrap.runtime import Runtime
from emporium.console.session import COOKIE, Session, SessionSigner, same_token
from emporium.modules.identity.domain import Role
from emporium.platform.auth.principal import ActorType, Principal

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    session: Session

    @property
    def is_operator(self) -> bool:
        return self.principal.actor_type is ActorType.OPERATOR

    @property
    def org_id(self) -> str | None:
        return None if self.is_operator else self.principal.org_id


def may_sign_in(principal: Principal) -> bool:
    """Platform operators and org owners; a storefront, backoffice, staff or viewer key never."""
    return principal.actor_type is ActorType.OPERATOR or principal.role == Role.OWNER.value


def runtime_of(request: Request) -> Runtime | None:
    runtime = getattr(request.app.state, "runtime", None)
    return runtime if isinstance(runtime, Runtime) else None


def signer_of(request: Request) -> SessionSigner:
    signer = request.app.state.console_signer
    assert isinstance(signer, SessionSigner)
    return signer


async def viewer_of(request: Request) -> Viewer | None:
    session = signer_of(request).read(request.cookies.get(COOKIE))
    runtime = runtime_of(request)
    if session is None or runtime is None:
        return None
    principal = await runtime.authenticator.by_api_key(session.key_hash)
    if principal is None or not may_sign_in(principal):
        return None
    return Viewer(principal, session)


def to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form (what the console's forms and htmx send), last value of each field."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def csrf_ok(request: Request, form: dict[str, str], expected: str) -> bool:
    return same_token(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER), expected)


def refused(reason: str, status: int = 403) -> HTMLResponse:
    body = f"<!doctype html><title>Refused</title><h1>Refused</h1><p id='refused'>{html.escape(reason)}</p>"
    return HTMLResponse(body, status_code=status)


def page(request: Request, viewer: Viewer, template: str, **context: Any) -> Response:
    return TEMPLATES.TemplateResponse(
        request, template, {"viewer": viewer, "csrf": viewer.session.csrf, "csrf_field": CSRF_FIELD, **context}
    )
