"""`emporium catalog`: catalog tools."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from emporium.cli.root import config_of, console

catalog_app = typer.Typer(no_args_is_help=True, help="Catalog tools.")


@catalog_app.command("import")
def catalog_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON lines or CSV")],
    org: Annotated[str, typer.Option(help="the org to import into (org_...)")],
    file_format: Annotated[str, typer.Option("--format", help="jsonl or csv (default: by file extension)")] = "",
    show_failures: Annotated[int, typer.Option(help="how many failed lines to list")] = 50,
) -> None:
    """Create or update products by SKU from a file of any size; ends with a summary."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from emporium.bootstrap.resources import open_module_resources
    from emporium.bootstrap.server import migrate as run_migrate
    from emporium.cli.catalog_import import ImportSummary, import_file, import_principal
    from emporium.modules.identity.workflows import get_org
    from emporium.platform.db.engine import Database
    from emporium.platform.errors import NotFound

    fmt = file_format or ("csv" if file.suffix.lower() == ".csv" else "jsonl")
    if fmt not in {"jsonl", "csv"}:
        raise typer.BadParameter("use jsonl or csv", param_hint="--format")
    url = run_migrate(config_of(ctx))
    principal = import_principal(org)
    total_lines = sum(1 for _ in file.open("rb"))

    async def run() -> tuple[ImportSummary, float]:
        db = Database(url)
        try:
            try:
                await get_org(db, principal)
            except NotFound:
                raise typer.BadParameter(f"no org {org}", param_hint="--org") from None
            started = time.perf_counter()
            with Progress(
                TextColumn("importing"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} lines"),
                TimeRemainingColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("import", total=total_lines)
                async with open_module_resources(config_of(ctx), db, deliver_webhooks=False) as resources:
                    summary = await import_file(
                        db,
                        None,
                        principal,
                        file,
                        fmt,  # type: ignore[arg-type]
                        on_batch=lambda n: progress.advance(task, n),
                        catalog=resources.catalog,
                    )
            return summary, time.perf_counter() - started
        finally:
            await db.dispose()

    summary, elapsed = asyncio.run(run())
    processed = summary.created + summary.updated + summary.failed
    rate = processed / elapsed if elapsed > 0 else 0.0
    console.print(
        f"[green]created {summary.created}[/green], [blue]updated {summary.updated}[/blue], "
        f"[red]failed {summary.failed}[/red] in {elapsed:.1f}s ({rate:,.0f} items/s)"
    )
    for line, reason in summary.failures[:show_failures]:
        console.print(f"  line {line}: {reason}")
    if summary.failed > show_failures:
        console.print(f"  ... and {summary.failed - show_failures} more")
    if summary.failed:
        raise typer.Exit(1)


@catalog_app.command("mongo-init")
def catalog_mongo_init(ctx: typer.Context) -> None:
    """Create the indexes the catalog's MongoDB needs (CATALOG_DATABASE_URL): one behind every filter and sort."""
    from emporium.modules.catalog.resources import init_mongo_indexes

    url = config_of(ctx).catalog_database_url
    if not url:
        raise typer.BadParameter("set CATALOG_DATABASE_URL to a mongodb:// URL", param_hint="CATALOG_DATABASE_URL")
    for name in asyncio.run(init_mongo_indexes(url)):
        console.print(f"index {name}")
    console.print("[green]the catalog's MongoDB indexes are in place[/green]")
