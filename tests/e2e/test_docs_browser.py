"""`/docs` works in a real browser with no network: it renders, Authorize takes an API key, a call shows 200.

Driven by Playwright for Python against Debian's Chromium (`executable_path`, no
browser download). Every request the page makes to a host other than the
server is aborted, so a CDN-loaded asset would leave the page blank and fail.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.support.identity import Tenant
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium")


async def test_docs_render_offline_authorize_and_execute_a_call(
    database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    server = ServerProcess({"DATABASE_URL": database_url, "CRON_ENABLED": "false"}, tmp_path / "server.log")
    outside: list[str] = []
    try:
        await asyncio.to_thread(server.wait_ready)
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = await browser.new_page()

            async def only_the_server(route: object) -> None:
                request = route.request  # type: ignore[attr-defined]
                if request.url.startswith(server.base_url):
                    await route.continue_()  # type: ignore[attr-defined]
                else:
                    outside.append(request.url)
                    await route.abort()  # type: ignore[attr-defined]

            await page.route("**/*", only_the_server)
            await page.goto(f"{server.base_url}/docs")
            await page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)

            await page.click("button.authorize")
            dialog = page.locator(".dialog-ux .modal-ux")
            await dialog.locator("input").first.fill(tenant.owner_key)
            await dialog.locator("button.authorize").first.click()
            await dialog.locator("button.btn-done").first.click()

            operation = page.locator("#operations-products-products_list")
            await operation.locator(".opblock-summary").click()
            await operation.locator("button.execute").click()
            status = operation.locator(".live-responses-table tr.response .response-col_status").first
            await status.wait_for(timeout=30_000)
            assert (await status.inner_text()).strip() == "200"
            await browser.close()
    finally:
        server.stop()
    assert not outside, f"/docs reached outside the server: {outside}"
