"""The operations console at `/console`: server-rendered pages (Jinja2 + htmx, vendored) for operators and owners.

Edge code like the CLI: each page or action authenticates the session, checks the CSRF token on a
form, and calls the same workflows (or orchestrators, or jobs) as the API. No SQL here.
"""

from emporium.console.routes import mount_console

__all__ = ["mount_console"]
