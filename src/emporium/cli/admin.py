"""`emporium admin`: orgs and their first owner."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from emporium.cli.root import config_of, console

admin_app = typer.Typer(no_args_is_help=True, help="Administration: orgs and their first owner.")


@admin_app.command("create-org")
def create_org(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="the org's display name")],
    owner_email: Annotated[str, typer.Option(help="email of the org's first owner")],
    owner_name: Annotated[str, typer.Option(help="the owner's name")] = "Owner",
) -> None:
    """Create an org with its owner, and print an owner API key once (it is stored only as a hash)."""
    from emporium.bootstrap.server import migrate as run_migrate
    from emporium.modules.identity.workflows import create_org as create
    from emporium.platform.db.engine import Database

    url = run_migrate(config_of(ctx))

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
