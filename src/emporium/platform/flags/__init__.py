"""Feature flags: declared in code, set per org or globally, evaluated in-process (decision 033).

`enabled(flag, org_id)` is the one read: synchronous, from this process's
snapshot of every setting (the table is small). A change reloads the snapshot
at once on the replica that made it and, through a Redis channel, on every
other replica; a periodic reload bounds staleness when Redis is away.
"""

from emporium.platform.flags.cache import FlagCache, announce_change, enabled, install, uninstall
from emporium.platform.flags.definitions import GLOBAL, Flag, FlagKind, Setting, declare, declared, evaluate, find

__all__ = [
    "GLOBAL",
    "Flag",
    "FlagCache",
    "FlagKind",
    "Setting",
    "announce_change",
    "declare",
    "declared",
    "enabled",
    "evaluate",
    "find",
    "install",
    "uninstall",
]
