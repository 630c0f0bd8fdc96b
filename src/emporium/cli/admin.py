"""`emporium admin`: orgs and their first owner; platform operators' keys."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from emporium.cli.root import config_of, console

admin_app = typer.Typer(no_args_is_help=True, help="Administration: orgs, their first owner, platform operator keys.")


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


@admin_app.command("create-operator-key")
def create_operator_key(
    ctx: typer.Context, name: Annotated[str, typer.Option(help="whose key, e.g. the operator's name")]
) -> None:
    """Create a platform operator key (feature flags, the console; no org) and print it once."""
    from emporium.bootstrap.server import migrate as run_migrate
    from emporium.modules.identity.workflows import create_operator_key as create
    from emporium.platform.audit.entries import AuditContext
    from emporium.platform.db.engine import Database

    url = run_migrate(config_of(ctx))
    audit = AuditContext("platform", "system", "cli", "operator_keys_create", None, 201)

    async def run() -> tuple[str, str]:
        db = Database(url)
        try:
            issued = await create(db, audit, name=name)
            return issued.key_id, issued.secret
        finally:
            await db.dispose()

    key_id, secret = asyncio.run(run())
    console.print(f"[green]created operator key {key_id}[/green]; it is shown once, store it now:")
    typer.echo(secret)


@admin_app.command("revoke-operator-key")
def revoke_operator_key(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="opk_...")]) -> None:
    """Revoke a platform operator key (other replicas stop accepting it within 5 s)."""
    from emporium.bootstrap.server import migrate as run_migrate
    from emporium.modules.identity.workflows import revoke_operator_key as revoke
    from emporium.platform.audit.entries import AuditContext
    from emporium.platform.db.engine import Database
    from emporium.platform.errors import NotFound

    url = run_migrate(config_of(ctx))
    audit = AuditContext("platform", "system", "cli", "operator_keys_revoke", None, 200)

    async def run() -> bool:
        db = Database(url)
        try:
            await revoke(db, audit, key_id)
            return True
        except NotFound:
            return False
        finally:
            await db.dispose()

    if not asyncio.run(run()):
        console.print(f"[red]no usable operator key {key_id}[/red] (unknown or already revoked)")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")
