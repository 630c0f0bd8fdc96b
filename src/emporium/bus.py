"""What the modules declare to the event bus: their event contracts and their subscriptions.

Each module may have `events.py` (its `Event` classes) and `subscribers.py`
(a `SUBSCRIPTIONS` list). The platform never imports modules; this
application-level module finds them, for the runtime, the worker and the
contract generator.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil

import emporium.modules
from emporium.platform.events.contracts import Event
from emporium.platform.events.subscriptions import Subscription, Subscriptions


def module_names() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(emporium.modules.__path__) if info.ispkg)


def _optional(module: str, part: str) -> object | None:
    name = f"emporium.modules.{module}.{part}"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def event_types() -> list[type[Event]]:
    """Every event contract the modules declare, ordered by (name, version)."""
    found: list[type[Event]] = []
    for module in module_names():
        events = _optional(module, "events")
        if events is None:
            continue
        found.extend(
            cls
            for _, cls in inspect.getmembers(events, inspect.isclass)
            if issubclass(cls, Event) and cls is not Event and cls.__module__ == events.__name__  # type: ignore[attr-defined]
        )
    return sorted(found, key=lambda cls: cls.key())


def subscriptions(module: str | None = None) -> Subscriptions:
    """The modules' subscriptions (all of them, or one module's)."""
    if module is not None and module not in module_names():
        raise ValueError(f"no module named {module!r}; modules: {', '.join(module_names())}")
    found: list[Subscription] = []
    for name in module_names():
        if module is not None and name != module:
            continue
        subscribers = _optional(name, "subscribers")
        declared = getattr(subscribers, "SUBSCRIPTIONS", ()) if subscribers is not None else ()
        found.extend(declared)
    return Subscriptions(found)
