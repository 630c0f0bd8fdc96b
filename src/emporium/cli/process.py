"""Commands that run or describe the service: serve, migrate, worker, openapi, config, docs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from emporium.cli.root import app, config_of, console
from emporium.config import SETTINGS


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the HTTP API and the event dispatcher (unless EVENTS_DISPATCH=false) until SIGTERM/SIGINT."""
    from emporium.bootstrap.server import serve as run_server

    run_server(config_of(ctx))


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Upgrade the database schema to the newest revision."""
    from emporium.bootstrap.server import migrate as run_migrate

    run_migrate(config_of(ctx))
    console.print("[green]database schema is at head[/green]")


@app.command()
def openapi(
    out: Annotated[Path, typer.Option(help="where to write the document")] = Path("contracts/openapi.json"),
) -> None:
    """Write the OpenAPI document generated from the code."""
    from emporium.bootstrap.contracts import render_openapi

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_openapi())
    console.print(f"wrote {out}")


def _shown(value: object, *, secret: bool) -> str:
    if value is None or value == "":
        return "<unset>"
    return "<hidden>" if secret else str(value)


@app.command("config")
def show_config(ctx: typer.Context) -> None:
    """Print every setting with its effective value (secrets are masked)."""
    config = config_of(ctx)
    rows = {s.env: _shown(getattr(config, s.attr), secret=s.secret) for s in SETTINGS}
    if config.database_url:
        rows["DATABASE_URL"] = "<set>"  # may carry a password
    if config.reporting_database_url:
        rows["REPORTING_DATABASE_URL"] = "<set>"
    typer.echo(json.dumps(rows, indent=2))


@app.command()
def worker(
    ctx: typer.Context,
    module: Annotated[
        str | None, typer.Option(help="run only this module's subscribers (with --source broker)")
    ] = None,
    source: Annotated[str, typer.Option(help="outbox (the dispatcher) or broker (NATS durable consumers)")] = "outbox",
) -> None:
    """Run event consumers without the HTTP server, until SIGTERM/SIGINT."""
    from emporium.bootstrap import bus
    from emporium.bootstrap.server import resolve_database_url
    from emporium.bootstrap.worker import WorkerMisconfigured, check_worker_options, run_worker

    config = config_of(ctx)
    if source not in {"outbox", "broker"}:
        raise typer.BadParameter("expected outbox or broker", param_hint="--source")
    try:
        check_worker_options(config, "broker" if source == "broker" else "outbox", module)
        hosted = bus.subscriptions(module)
    except (WorkerMisconfigured, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    database_url = resolve_database_url(config)
    if config.migrate_on_start:
        from emporium.bootstrap.server import migrate_stores

        migrate_stores(config, database_url)
    console.print(f"worker: {len(hosted)} subscription(s) from the {source}")
    asyncio.run(run_worker(config, database_url, hosted, source="broker" if source == "broker" else "outbox"))


@app.command("docs")
def write_docs(
    out: Annotated[Path, typer.Option(help="where to write the module map")] = Path("docs/modules.md"),
) -> None:
    """Write docs/modules.md: modules, their public api, events published and consumed, dependencies."""
    from emporium.bootstrap.module_map import render

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render())
    console.print(f"wrote {out}")
