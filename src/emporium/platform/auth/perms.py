"""Permissions: names of the form `<area>:<action>` checked by `auth_gate`.

The platform holds no list of them: each module declares its own (an enum in
`modules/<m>/permissions.py`) and, in its manifest, which roles hold each.
The identity module turns those grants into each role's permissions.
"""

from __future__ import annotations

from typing import TypeAlias

# A permission name; the modules' `Perm` enums are `StrEnum`s, so their members are these.
Perm: TypeAlias = str

# The holders of a permission granted to every role the identity module defines.
EVERY_ROLE: frozenset[str] = frozenset({"*"})
