"""`emporium cron`: the periodic jobs alone, and their recent runs."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from emporium.cli.root import config_of

cron_app = typer.Typer(no_args_is_help=False, invoke_without_command=True, help="Periodic jobs.")


@cron_app.callback()
def cron(ctx: typer.Context) -> None:
    """Run the periodic jobs alone (no HTTP), until SIGTERM/SIGINT; each tick runs once across replicas."""
    if ctx.invoked_subcommand is not None:
        return
    from emporium.bootstrap.worker import run_cron

    run_cron(config_of(ctx))


@cron_app.command("runs")
def cron_runs(
    ctx: typer.Context,
    job: Annotated[str, typer.Option(help="only this job")] = "",
    limit: Annotated[int, typer.Option(help="how many")] = 30,
) -> None:
    """List recent job runs: job, slot, replica, start, end, outcome."""
    from rich.table import Table

    from emporium.bootstrap.server import migrate as run_migrate
    from emporium.platform.cron_runs import JobRun, recent_runs
    from emporium.platform.db.engine import Database

    url = run_migrate(config_of(ctx))

    async def run() -> list[JobRun]:
        db = Database(url)
        try:
            return list(await recent_runs(db, job or None, limit))
        finally:
            await db.dispose()

    table = Table("job", "slot", "replica", "started", "finished", "outcome", "detail")
    for r in asyncio.run(run()):
        finished = str(r.finished_at or "")
        table.add_row(r.job, str(r.slot), r.instance, str(r.started_at), finished, r.outcome, r.detail or "")
    Console().print(table)
