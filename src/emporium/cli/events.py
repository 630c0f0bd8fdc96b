"""`emporium events`: event contracts and dead letters."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emporium.cli.root import config_of, console

events_app = typer.Typer(no_args_is_help=True, help="The event bus: contracts and dead letters.")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: events a consumer gave up on.")
events_app.add_typer(dlq_app, name="dlq")


@events_app.command("contracts")
def events_contracts(
    out: Annotated[Path, typer.Option(help="the contracts directory")] = Path("contracts"),
) -> None:
    """Write every event's JSON Schema (events/<name>.v<N>.json) and asyncapi.yaml."""
    from emporium.bootstrap.contracts import write_event_contracts

    for path in write_event_contracts(out):
        console.print(f"wrote {path}")


def _dlq_database(ctx: typer.Context) -> str:
    from emporium.bootstrap.server import resolve_database_url

    return resolve_database_url(config_of(ctx))


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
    from emporium.bootstrap import bus
    from emporium.bootstrap.resources import open_module_resources
    from emporium.platform.db.engine import Database
    from emporium.platform.errors import DomainError
    from emporium.platform.events.replay import replay_dead_letter

    async def run() -> None:
        db = Database(_dlq_database(ctx))
        try:
            # Any module's subscriber may run: it sends through the configured mailer, writes the reporting store…
            async with open_module_resources(config_of(ctx), db, deliver_webhooks=False):
                await replay_dead_letter(db, bus.subscriptions(), dead_letter_id)
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except DomainError as error:
        console.print(f"[red]{error.code}: {error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]replayed {dead_letter_id}[/green]")
