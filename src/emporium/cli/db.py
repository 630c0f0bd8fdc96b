"""`emporium db`: schema migrations."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from emporium.cli.root import config_of

db_app = typer.Typer(no_args_is_help=True, help="Database schema migrations.")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade to REVISION (default: head)."""
    from emporium.bootstrap.server import resolve_database_url
    from emporium.platform.db.migrate import upgrade

    asyncio.run(upgrade(resolve_database_url(config_of(ctx)), revision))


@db_app.command("downgrade")
def db_downgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument(help="target, e.g. -1 or base")]) -> None:
    """Downgrade to REVISION."""
    from emporium.bootstrap.server import resolve_database_url
    from emporium.platform.db.migrate import downgrade

    asyncio.run(downgrade(resolve_database_url(config_of(ctx)), revision))


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the revision the database is at, and the code's head."""
    from emporium.bootstrap.server import resolve_database_url
    from emporium.platform.db.migrate import current_revision, head_revision

    current = asyncio.run(current_revision(resolve_database_url(config_of(ctx))))
    typer.echo(f"database: {current}\nhead:     {head_revision()}")


@db_app.command("revision")
def db_revision(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("-m", "--message", help="what the revision does")],
    autogenerate: Annotated[bool, typer.Option(help="diff the table definitions against a migrated database")] = True,
) -> None:
    """Write a new revision file under src/emporium/migrations/versions/."""
    from emporium.bootstrap.server import migrate as run_migrate
    from emporium.platform.db.migrate import autogenerate_revision, write_empty_revision

    if autogenerate:
        asyncio.run(autogenerate_revision(run_migrate(config_of(ctx)), message))
    else:
        write_empty_revision(message)
