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
events_app = typer.Typer(no_args_is_help=True, help="The event bus: contracts and dead letters.")
app.add_typer(events_app, name="events")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: events a consumer gave up on.")
events_app.add_typer(dlq_app, name="dlq")

console = Console(stderr=True)


def _config(ctx: typer.Context) -> Config:
    config = ctx.find_root().obj
    if not isinstance(config, Config):
        raise typer.BadParameter("emporium must be started through emporium.main")
    return config


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the HTTP API and the event dispatcher (unless EVENTS_DISPATCH=false) until SIGTERM/SIGINT."""
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


def _shown(value: object, *, secret: bool) -> str:
    if value is None or value == "":
        return "<unset>"
    return "<hidden>" if secret else str(value)


@app.command("config")
def show_config(ctx: typer.Context) -> None:
    """Print every setting with its effective value (secrets are masked)."""
    config = _config(ctx)
    rows = {s.env: _shown(getattr(config, s.attr), secret=s.secret) for s in SETTINGS}
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


@app.command()
def worker(
    ctx: typer.Context,
    module: Annotated[
        str | None, typer.Option(help="run only this module's subscribers (with --source broker)")
    ] = None,
    source: Annotated[str, typer.Option(help="outbox (the dispatcher) or broker (NATS durable consumers)")] = "outbox",
) -> None:
    """Run event consumers without the HTTP server, until SIGTERM/SIGINT."""
    from emporium import bus
    from emporium.server import resolve_database_url
    from emporium.worker import WorkerMisconfigured, check_worker_options, run_worker

    config = _config(ctx)
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
        from emporium.platform.db.migrate import run_upgrade

        run_upgrade(database_url)
    console.print(f"worker: {len(hosted)} subscription(s) from the {source}")
    asyncio.run(run_worker(config, database_url, hosted, source="broker" if source == "broker" else "outbox"))


@events_app.command("contracts")
def events_contracts(
    out: Annotated[Path, typer.Option(help="the contracts directory")] = Path("contracts"),
) -> None:
    """Write every event's JSON Schema (events/<name>.v<N>.json) and asyncapi.yaml."""
    from emporium.contracts import write_event_contracts

    for path in write_event_contracts(out):
        console.print(f"wrote {path}")


def _dlq_database(ctx: typer.Context) -> str:
    from emporium.server import resolve_database_url

    return resolve_database_url(_config(ctx))


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    include_replayed: Annotated[bool, typer.Option("--all", help="include replayed letters")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    cursor: Annotated[str | None, typer.Option(help="next page cursor")] = None,
) -> None:
    """List dead letters, newest first (every org)."""
    from rich.table import Table

    from emporium.platform.db.engine import Database
    from emporium.platform.events.workflows import list_dead_letters

    async def run() -> None:
        db = Database(_dlq_database(ctx))
        try:
            page = await list_dead_letters(
                db, org_id=None, include_replayed=include_replayed, cursor=cursor, limit=limit
            )
        finally:
            await db.dispose()
        table = Table("id", "consumer", "event", "org", "attempts", "last failure", "replayed", "error")
        for letter in page.items:
            table.add_row(
                letter.id,
                letter.consumer,
                f"{letter.event_name} v{letter.event_version}",
                letter.org_id or "-",
                str(letter.attempts),
                letter.last_failed_at.isoformat(timespec="seconds"),
                letter.replayed_at.isoformat(timespec="seconds") if letter.replayed_at else "-",
                letter.error[:60],
            )
        Console().print(table)
        if page.next_cursor:
            console.print(f"next page: --cursor {page.next_cursor}")

    asyncio.run(run())


@dlq_app.command("show")
def dlq_show(ctx: typer.Context, dead_letter_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Print one dead letter with its event, as JSON."""
    from emporium.platform.db.engine import Database
    from emporium.platform.errors import NotFound
    from emporium.platform.events.workflows import get_dead_letter

    async def run() -> dict[str, object]:
        db = Database(_dlq_database(ctx))
        try:
            letter = await get_dead_letter(db, dead_letter_id, org_id=None)
        finally:
            await db.dispose()
        return {
            "id": letter.id,
            "consumer": letter.consumer,
            "event_id": letter.event_id,
            "org_id": letter.org_id,
            "error": letter.error,
            "attempts": letter.attempts,
            "first_failed_at": letter.first_failed_at.isoformat(),
            "last_failed_at": letter.last_failed_at.isoformat(),
            "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
            "event": letter.event.to_json(),
        }

    try:
        typer.echo(json.dumps(asyncio.run(run()), indent=2))
    except NotFound as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


@dlq_app.command("replay")
def dlq_replay(ctx: typer.Context, dead_letter_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Run the dead letter's consumer on its event again, now; the consumer's inbox keeps it once."""
    from emporium import bus
    from emporium.platform.db.engine import Database
    from emporium.platform.errors import DomainError
    from emporium.platform.events.replay import replay_dead_letter

    async def run() -> None:
        db = Database(_dlq_database(ctx))
        try:
            await replay_dead_letter(db, bus.subscriptions(), dead_letter_id)
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except DomainError as error:
        console.print(f"[red]{error.code}: {error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]replayed {dead_letter_id}[/green]")


orders_app = typer.Typer(no_args_is_help=True, help="Order operations.")
app.add_typer(orders_app, name="orders")


@orders_app.command("recover")
def orders_recover(
    ctx: typer.Context,
    unknown_after: Annotated[
        float, typer.Option(help="settle checkouts whose outcome is unknown after N seconds")
    ] = 60,
) -> None:
    """Run one recovery pass now: settle or compensate stuck checkouts (the cron job does this every 10 s)."""
    from datetime import timedelta

    from emporium.modules.orders.jobs import recover_checkouts
    from emporium.platform.db.engine import Database
    from emporium.server import migrate as run_migrate

    url = run_migrate(_config(ctx))

    async def run() -> str:
        db = Database(url)
        try:
            report = await recover_checkouts(db, timedelta(seconds=unknown_after))
        finally:
            await db.dispose()
        return (
            f"settled {report.settled}, cancelled {report.cancelled}, still unknown {report.unknown}, "
            f"released keys {report.released_keys}"
        )

    console.print(asyncio.run(run()))


@app.command("docs")
def write_docs(
    out: Annotated[Path, typer.Option(help="where to write the module map")] = Path("docs/modules.md"),
) -> None:
    """Write docs/modules.md: modules, their public api, events published and consumed, dependencies."""
    from emporium.module_map import render

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render())
    console.print(f"wrote {out}")


cron_app = typer.Typer(no_args_is_help=False, invoke_without_command=True, help="Periodic jobs.")
app.add_typer(cron_app, name="cron")


@cron_app.callback()
def cron(ctx: typer.Context) -> None:
    """Run the periodic jobs alone (no HTTP), until SIGTERM/SIGINT; each tick runs once across replicas."""
    if ctx.invoked_subcommand is not None:
        return
    from emporium.worker import run_cron

    run_cron(_config(ctx))


@cron_app.command("runs")
def cron_runs(
    ctx: typer.Context,
    job: Annotated[str, typer.Option(help="only this job")] = "",
    limit: Annotated[int, typer.Option(help="how many")] = 30,
) -> None:
    """List recent job runs: job, slot, replica, start, end, outcome."""
    from rich.table import Table

    from emporium.platform.cron_runs import JobRun, recent_runs
    from emporium.platform.db.engine import Database
    from emporium.server import migrate as run_migrate

    url = run_migrate(_config(ctx))

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
