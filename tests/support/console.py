"""The console's browser tests' shared pieces: one server process, one Chromium, signed-in pages.

Chromium is Debian's (`executable_path`, never a Playwright download); every request to a host other
than the server is aborted, so a page that needed a CDN would break. A failing test leaves a
screenshot of its page under its temporary directory.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import configured
from tests.support.processes import ServerProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def console_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One `emporium serve` for the console's browser tests and the flag propagation test (Redis when set)."""
    redis_url = configured("TEST_REDIS_URL")
    env = {
        "DATABASE_URL": database_url,
        "CRON_ENABLED": "false",
        "EVENTS_DISPATCH": "false",
        "WEBHOOKS_DELIVER": "false",
        "RATE_LIMIT_PER_KEY": "100000",
        "RATE_LIMIT_PER_ORG": "100000",
        **({"REDIS_URL": redis_url} if redis_url else {}),
    }
    server = ServerProcess(env, tmp_path_factory.mktemp("console-server") / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip("playwright.async_api")
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser_page(
    chromium: Any, console_server: ServerProcess, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Any]:
    """A fresh context (its own cookies) whose requests may reach the server only."""
    context = await chromium.new_context(base_url=console_server.base_url)
    page = await context.new_page()
    outside: list[str] = []

    async def only_the_server(route: Any) -> None:
        if route.request.url.startswith(console_server.base_url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_the_server)
    try:
        yield page
        assert not outside, f"the console reached outside the server: {outside}"
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            await page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        await context.close()


async def navigate(page: Any, control: Any) -> None:
    """Click a link or a form's button and wait for the page it loads (reading before it would see the old one)."""
    async with page.expect_navigation():
        await control.click()


async def sign_in(page: Any, api_key: str) -> Any:
    await page.goto("/console/login")
    await page.fill("#api_key", api_key)
    await navigate(page, page.locator("#sign-in"))
    return page
