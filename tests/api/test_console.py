"""The console's sessions and forms through the ASGI app (the browser tests drive the pages themselves).

Every console route without a session sends the browser to the sign-in page; a form posted without
the session's CSRF token is refused; the cookie is HttpOnly and SameSite=Strict; only an operator or
an org owner may sign in.
"""

from __future__ import annotations

import re

import httpx
import pytest

from emporium.modules.identity.domain import Role
from emporium.platform.db.engine import Database
from tests.support.bus import make_dead_letter
from tests.support.identity import Tenant, bearer

GET_PAGES = ["/console", "/console/overview/figures", "/console/checkouts", "/console/dead-letters",
             "/console/webhooks", "/console/api-logs", "/console/flags"]  # fmt: skip
POST_ACTIONS = ["/console/logout", "/console/checkouts/recover", "/console/dead-letters/dlq_x/replay",
                "/console/dead-letters/dlq_x/discard",
                "/console/webhooks/whe_x/disable", "/console/flags/payments.sandbox_provider"]  # fmt: skip


def _console(app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client of its own (its own cookie jar) on the shared app."""
    return httpx.AsyncClient(transport=app_client._transport, base_url="http://emporium.test")


async def _sign_in(client: httpx.AsyncClient, api_key: str) -> httpx.Response:
    form = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post("/console/login", data={"csrf_token": token.group(1), "api_key": api_key})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("path", GET_PAGES)
async def test_a_page_without_a_session_sends_to_sign_in(app_client: httpx.AsyncClient, path: str) -> None:
    async with _console(app_client) as client:
        answer = await client.get(path)
    assert answer.status_code in {303, 401}
    if answer.status_code == 303:
        assert answer.headers["location"] == "/console/login"


@pytest.mark.parametrize("path", POST_ACTIONS)
async def test_an_action_without_a_session_does_nothing(app_client: httpx.AsyncClient, path: str) -> None:
    async with _console(app_client) as client:
        answer = await client.post(path, data={"csrf_token": "guess"})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


async def test_owner_signs_in_with_a_strict_httponly_cookie(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    async with _console(app_client) as client:
        answer = await _sign_in(client, tenant.owner_key)
        assert answer.status_code == 303, answer.text
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        overview = await client.get("/console")
        assert overview.status_code == 200 and tenant.org_id in overview.text


@pytest.mark.parametrize("which", ["storefront", "garbage"])
async def test_a_storefront_key_or_garbage_cannot_sign_in(
    app_client: httpx.AsyncClient, tenant: Tenant, which: str
) -> None:
    async with _console(app_client) as client:
        answer = await _sign_in(client, tenant.storefront_key if which == "storefront" else "emp_live_nope")
        assert answer.status_code == (403 if which == "storefront" else 401)
        assert (await client.get("/console")).status_code == 303


async def test_login_and_actions_without_their_csrf_token_are_refused(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with _console(app_client) as client:
        await client.get("/console/login")
        refused_login = await client.post("/console/login", data={"api_key": tenant.owner_key})
        assert refused_login.status_code == 403
        assert (await _sign_in(client, tenant.owner_key)).status_code == 303
        page = await client.get("/console/checkouts")
        token = _csrf(page.text)
        assert (await client.post("/console/checkouts/recover", data={})).status_code == 403
        assert (await client.post("/console/checkouts/recover", data={"csrf_token": "x" + token})).status_code == 403
        accepted = await client.post("/console/checkouts/recover", data={"csrf_token": token})
        assert accepted.status_code == 200 and "recovery:" in accepted.text


async def test_operator_sees_flags_and_owner_does_not(
    app_client: httpx.AsyncClient, tenant: Tenant, operator: str
) -> None:
    async with _console(app_client) as client:
        assert (await _sign_in(client, operator)).status_code == 303
        flags = await client.get("/console/flags")
        assert flags.status_code == 200 and "payments.sandbox_provider" in flags.text
        assert (await client.get("/console/webhooks")).status_code == 403  # one org's page
        assert "outbox-backlog" in (await client.get("/console/overview/figures")).text
    async with _console(app_client) as client:
        await _sign_in(client, tenant.owner_key)
        assert (await client.get("/console/flags")).status_code == 403
        assert (await client.get("/console/api-logs")).status_code == 200
        assert (await client.get("/console/webhooks")).status_code == 200
        assert (await client.get("/console/dead-letters")).status_code == 200
        figures = await client.get("/console/overview/figures")
        assert figures.status_code == 200 and "org-requests" in figures.text
        assert "outbox-backlog" not in figures.text  # the platform's figures span every org


async def test_an_owner_discards_its_dead_letter_and_it_is_audited(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine, theirs = await make_dead_letter(db, tenant.org_id), await make_dead_letter(db, other_tenant.org_id)
    async with _console(app_client) as client:
        await _sign_in(client, tenant.owner_key)
        token = _csrf((await client.get("/console/dead-letters")).text)
        refused = await client.post(f"/console/dead-letters/{theirs}/discard", data={"csrf_token": token})
        assert "not found" in refused.text.lower() or "no dead letter" in refused.text
        done = await client.post(f"/console/dead-letters/{mine}/discard", data={"csrf_token": token})
        assert f"{mine} discarded" in done.text
    audit = await app_client.get("/v1/audit-log?action=dead_letters_discard", headers=bearer(tenant.owner_key))
    assert mine in {entry["target_id"] for entry in audit.json()["items"]}
    still = await app_client.get(f"/v1/admin/dead-letters/{theirs}", headers=other_tenant.headers_for(Role.ADMIN))
    assert still.status_code == 200
