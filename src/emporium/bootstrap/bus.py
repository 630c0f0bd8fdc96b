"""What the modules declare to the event bus: their event contracts and their subscriptions.

Read from the modules' manifests (`emporium.bootstrap.modules`), for the
runtime, the worker and the contract generator.
"""

from __future__ import annotations

from emporium.bootstrap.modules import INSTALLED
from emporium.platform.events.contracts import Event
from emporium.platform.events.subscriptions import Subscriptions


def module_names() -> list[str]:
    return INSTALLED.names


def event_types() -> list[type[Event]]:
    """Every event contract the modules declare, ordered by (name, version)."""
    return INSTALLED.event_types()


def subscriptions(module: str | None = None) -> Subscriptions:
    """The modules' subscriptions (all of them, or one module's)."""
    if module is not None and module not in INSTALLED.names:
        raise ValueError(f"no module named {module!r}; modules: {', '.join(INSTALLED.names)}")
    return INSTALLED.subscriptions(module)
