"""Generated contracts, rendered deterministically so they can be drift-checked:
the OpenAPI document, and the event contracts (JSON Schema per event version, AsyncAPI)."""

from __future__ import annotations

import json
from pathlib import Path

from emporium import __version__
from emporium.bootstrap import bus
from emporium.bootstrap.app import create_app
from emporium.platform.events.schema_docs import render_event_contracts


def render_openapi() -> str:
    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"


def render_module_event_contracts() -> dict[str, str]:
    return render_event_contracts(bus.event_types(), __version__)


def write_event_contracts(out: Path) -> list[Path]:
    """Write the event contracts under `out` and remove schema files of events that no longer exist."""
    files = render_module_event_contracts()
    written = []
    (out / "events").mkdir(parents=True, exist_ok=True)
    for stale in (out / "events").glob("*.json"):
        if f"events/{stale.name}" not in files:
            stale.unlink()
    for relative, content in files.items():
        path = out / relative
        path.write_text(content)
        written.append(path)
    return written
