"""The `emporium` command (edge role): parse arguments, call one thing, print the result.

`emporium.main` builds the `Config` from the environment and hands it in as
the Typer context object; no command reads the environment itself.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emporium.config import SETTINGS, Config

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Emporium commerce backend.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema migrations.")
app.add_typer(db_app, name="db")
admin_app = typer.Typer(no_args_is_help=True, help="Administration: orgs and their first owner.")
app.add_typer(admin_app, name="admin")
catalog_app = typer.Typer(no_args_is_help=True, help="Catalog tools.")
app.add_typer(catalog_app, name="catalog")

console = Console(stderr=True)


def _config(ctx: typer.Context) -> Config:
    config = ctx.find_root().obj
    if not isinstance(config, Config):
        raise typer.BadParameter("emporium must be started through emporium.main")
    return config


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the HTTP API (and, later, the event dispatcher and cron) until SIGTERM/SIGINT."""
    from emporium.server import serve as run_server

    run_server(_config(ctx))


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Upgrade the database schema to the newest revision."""
    from emporium.server import migrate as run_migrate

    run_migrate(_config(ctx))
    console.print("[green]database schema is at head[/green]")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade to REVISION (default: head)."""
    from emporium.platform.db.migrate import upgrade
    from emporium.server import resolve_database_url

    asyncio.run(upgrade(resolve_database_url(_config(ctx)), revision))


@db_app.command("downgrade")
def db_downgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument(help="target, e.g. -1 or base")]) -> None:
    """Downgrade to REVISION."""
    from emporium.platform.db.migrate import downgrade
    from emporium.server import resolve_database_url

    asyncio.run(downgrade(resolve_database_url(_config(ctx)), revision))


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the revision the database is at, and the code's head."""
    from emporium.platform.db.migrate import current_revision, head_revision
    from emporium.server import resolve_database_url

    current = asyncio.run(current_revision(resolve_database_url(_config(ctx))))
    typer.echo(f"database: {current}\nhead:     {head_revision()}")


@db_app.command("revision")
def db_revision(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("-m", "--message", help="what the revision does")],
    autogenerate: Annotated[bool, typer.Option(help="diff the table definitions against a migrated database")] = True,
) -> None:
    """Write a new revision file under src/emporium/migrations/versions/."""
    from emporium.platform.db.migrate import autogenerate_revision, write_empty_revision
    from emporium.server import migrate as run_migrate

    if autogenerate:
        asyncio.run(autogenerate_revision(run_migrate(_config(ctx)), message))
    else:
        write_empty_revision(message)


@app.command()
def openapi(
    out: Annotated[Path, typer.Option(help="where to write the document")] = Path("contracts/openapi.json"),
) -> None:
    """Write the OpenAPI document generated from the code."""
    from emporium.contracts import render_openapi

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_openapi())
    console.print(f"wrote {out}")


@app.command("config")
def show_config(ctx: typer.Context) -> None:
    """Print every setting with its effective value (secrets are masked)."""
    config = _config(ctx)
    rows = {
        s.env: "<hidden>" if s.secret and getattr(config, s.attr) else str(getattr(config, s.attr)) for s in SETTINGS
    }
    if config.database_url:
        rows["DATABASE_URL"] = "<set>"  # may carry a password
    typer.echo(json.dumps(rows, indent=2))


@admin_app.command("create-org")
def create_org(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="the org's display name")],
    owner_email: Annotated[str, typer.Option(help="email of the org's first owner")],
    owner_name: Annotated[str, typer.Option(help="the owner's name")] = "Owner",
) -> None:
    """Create an org with its owner, and print an owner API key once (it is stored only as a hash)."""
    from emporium.modules.identity.workflows import create_org as create
    from emporium.platform.db.engine import Database
    from emporium.server import migrate as run_migrate

    url = run_migrate(_config(ctx))

    async def run() -> tuple[str, str, str]:
        db = Database(url)
        try:
            issued = await create(db, name=name, owner_email=owner_email, owner_name=owner_name)
            return issued.key.org_id, issued.key.id, issued.secret
        finally:
            await db.dispose()

    org_id, key_id, secret = asyncio.run(run())
    console.print(f"[green]created org {org_id}[/green] (owner key {key_id})")
    console.print("The owner API key is shown once; store it now:")
    typer.echo(secret)


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

    from emporium.catalog_import import ImportSummary, import_file, import_principal
    from emporium.modules.identity.workflows import get_org
    from emporium.platform.db.engine import Database
    from emporium.platform.errors import NotFound
    from emporium.server import migrate as run_migrate

    fmt = file_format or ("csv" if file.suffix.lower() == ".csv" else "jsonl")
    if fmt not in {"jsonl", "csv"}:
        raise typer.BadParameter("use jsonl or csv", param_hint="--format")
    url = run_migrate(_config(ctx))
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
                summary = await import_file(
                    db,
                    None,
                    principal,
                    file,
                    fmt,  # type: ignore[arg-type]
                    on_batch=lambda n: progress.advance(task, n),
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
