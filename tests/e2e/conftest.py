"""Fixtures shared by the end-to-end tests: the console's server process and browser."""

from tests.support.console import browser_page, chromium, console_server

__all__ = ["browser_page", "chromium", "console_server"]
