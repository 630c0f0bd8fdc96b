"""The `emporium` command (edge role): parse arguments, call one thing, print the result.

One file per command group; `root` holds the Typer application and the
`Config` accessor. `emporium.main` hands the `Config` in.
"""

from __future__ import annotations

from emporium.cli import process  # noqa: F401  (registers the top-level commands on `app`)
from emporium.cli.admin import admin_app
from emporium.cli.catalog import catalog_app
from emporium.cli.cron import cron_app
from emporium.cli.db import db_app
from emporium.cli.events import events_app
from emporium.cli.orders import orders_app
from emporium.cli.reporting import reporting_app
from emporium.cli.root import app

app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(catalog_app, name="catalog")
app.add_typer(events_app, name="events")
app.add_typer(orders_app, name="orders")
app.add_typer(cron_app, name="cron")
app.add_typer(reporting_app, name="reporting")

__all__ = ["app"]
