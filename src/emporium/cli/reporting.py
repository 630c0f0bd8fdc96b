"""`emporium reporting ...` (edge role): migrate the reporting store, rebuild it from the event history, status.

`rebuild [--org ORG]` forgets the read model (of one org, or all) and applies the published events again from
the outbox, with a progress bar and a summary; the live projection keeps running meanwhile (decision 028).
`status` says how far behind the read model is: now minus the newest applied event's time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from emporium.cli.root import config_of, console
from emporium.config import Config

if TYPE_CHECKING:  # imported by the commands that run: every `emporium` command would pay for the modules
    from emporium.modules.reporting import workflows
    from emporium.platform.db.engine import Database

reporting_app = typer.Typer(no_args_is_help=True, help="The reporting read model: migrate, rebuild, status.")


@asynccontextmanager
async def _stores(config: Config) -> AsyncIterator[tuple[Database, Database]]:
    from emporium.bootstrap.resources import open_module_resources
    from emporium.bootstrap.server import resolve_database_url
    from emporium.platform.db.engine import Database

    db = Database(resolve_database_url(config), application_name="emporium-reporting-cli")
    try:
        async with open_module_resources(config, db, deliver_webhooks=False) as resources:
            yield db, resources.reporting_store
    finally:
        await db.dispose()


@reporting_app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Upgrade the reporting store's schema (REPORTING_DATABASE_URL, or the main PostgreSQL) to head."""
    from emporium.bootstrap.server import resolve_database_url
    from emporium.modules.reporting.migrate import upgrade as upgrade_reporting

    config = config_of(ctx)
    asyncio.run(upgrade_reporting(config.reporting_database_url or resolve_database_url(config)))
    console.print("[green]reporting store is at head[/green]")


@reporting_app.command("rebuild")
def rebuild(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option(help="rebuild only this org's reports")] = None,
    page_size: Annotated[int, typer.Option(min=1, max=50_000, help="events per transaction")] = 2000,
) -> None:
    """Recompute the read model from the event history (the outbox keeps every published event)."""
    from emporium.modules.reporting import subscribers

    config = config_of(ctx)

    async def run() -> workflows.RebuildSummary:
        async with _stores(config) as (db, store):
            columns = (
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,} events"),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                task = progress.add_task(f"rebuilding {org or 'every org'}", total=None)
                return await subscribers.rebuild_from_history(
                    db, store, org_id=org, page_size=page_size, progress=lambda n: progress.advance(task, n)
                )

    summary = asyncio.run(run())
    typer.echo(
        json.dumps(
            {
                "org_id": summary.org_id,
                "events": summary.events,
                "facts": summary.facts,
                "seconds": round(summary.seconds, 3),
                "events_per_second": round(summary.events_per_second, 1),
            }
        )
    )


@reporting_app.command("status")
def status(ctx: typer.Context) -> None:
    """The store's dialect, how many events it applied, the newest one's time and the lag in seconds."""
    from emporium.modules.reporting import workflows

    config = config_of(ctx)

    async def run() -> workflows.Status:
        async with _stores(config) as (_db, store):
            return await workflows.status(store)

    current = asyncio.run(run())
    typer.echo(
        json.dumps(
            {
                "store": current.dialect,
                "applied_events": current.applied_events,
                "newest_event_at": current.newest_event_at.isoformat() if current.newest_event_at else None,
                "lag_seconds": round(current.lag_seconds, 3) if current.lag_seconds is not None else None,
            }
        )
    )
