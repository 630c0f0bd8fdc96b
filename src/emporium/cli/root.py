"""The root `emporium` command, the console commands print to, and the `Config` every command receives.

`emporium.main` builds the `Config` from the environment and hands it in as
the Typer context object; no command reads the environment itself.
"""

from __future__ import annotations

import typer
from rich.console import Console

from emporium.config import Config

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Emporium commerce backend.")
console = Console(stderr=True)


def config_of(ctx: typer.Context) -> Config:
    config = ctx.find_root().obj
    if not isinstance(config, Config):
        raise typer.BadParameter("emporium must be started through emporium.main")
    return config
