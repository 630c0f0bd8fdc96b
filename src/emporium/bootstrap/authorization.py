"""Each role's permissions: the identity module's roles, granted what every module's manifest says."""

from __future__ import annotations

from emporium.bootstrap.modules import INSTALLED
from emporium.modules.identity.domain import Role
from emporium.platform.manifest import Modules


def role_permissions(modules: Modules = INSTALLED) -> dict[str, frozenset[str]]:
    return modules.role_permissions(role.value for role in Role)
