"""`emporium orders`: order operations."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from emporium.cli.root import config_of, console

orders_app = typer.Typer(no_args_is_help=True, help="Order operations.")


@orders_app.command("recover")
def orders_recover(
    ctx: typer.Context,
    unknown_after: Annotated[
        float, typer.Option(help="settle checkouts whose outcome is unknown after N seconds")
    ] = 60,
) -> None:
    """Run one recovery pass now: settle or compensate stuck checkouts (the cron job does this every 10 s)."""
    from datetime import timedelta

    from emporium.bootstrap.resources import open_module_resources
    from emporium.bootstrap.server import migrate as run_migrate
    from emporium.modules.orders.jobs import recover_checkouts
    from emporium.platform.db.engine import Database

    url = run_migrate(config_of(ctx))

    async def run() -> str:
        db = Database(url)
        try:
            # The configured payment providers settle or refund, as the cron job's would.
            async with open_module_resources(config_of(ctx), db, deliver_webhooks=False):
                report = await recover_checkouts(db, timedelta(seconds=unknown_after))
        finally:
            await db.dispose()
        return (
            f"settled {report.settled}, cancelled {report.cancelled}, still unknown {report.unknown}, "
            f"released keys {report.released_keys}"
        )

    console.print(asyncio.run(run()))
