"""The process entry point and the ONLY reader of the environment.

It builds the frozen `Config` (a bad value prints one line naming the variable
and the expected form, and exits with status 2), configures logging, and hands
the `Config` to the `emporium` command.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence

from emporium.config import Config, ConfigError, load_config, metrics_directory
from emporium.platform.telemetry.logging import configure_logging

EXIT_CONFIG_ERROR = 2


def config_from_environment() -> Config:
    try:
        return load_config(os.environ)
    except ConfigError as error:
        print(f"emporium: invalid configuration: {error}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR) from None


def share_metrics_between_workers(config: Config) -> None:
    """prometheus_client picks multiprocess mode from this variable when it is first imported."""
    directory = metrics_directory(config)
    if directory is None:
        return
    shutil.rmtree(directory, ignore_errors=True)  # samples of a previous run would be summed in
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def run(argv: Sequence[str] | None = None) -> None:
    config = config_from_environment()
    share_metrics_between_workers(config)
    configure_logging(config.log_level, config.log_format)
    # Imported only now: the commands import modules that create metrics, and prometheus_client must see
    # PROMETHEUS_MULTIPROC_DIR before that, or each worker keeps its samples to itself (/metrics empty).
    from emporium import cli

    cli.app(args=list(argv) if argv is not None else None, obj=config, prog_name="emporium")


if __name__ == "__main__":
    run()
