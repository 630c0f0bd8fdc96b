"""Flag changes (audited, announced to every replica) and reads for the admin API and the console."""

from __future__ import annotations

import dataclasses

from emporium.modules.oversight import services as store
from emporium.modules.oversight.domain import PLATFORM_SCOPE, FlagState, percentage_of
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import NotFound
from emporium.platform.flags import GLOBAL, Flag, Setting, announce_change, declared, find
from emporium.platform.telemetry.tracing import traced


async def flag_settings(db: Database) -> list[Setting]:
    """Every stored setting: what each replica's flag cache loads."""
    async with transaction(db) as tx:
        return await store.all_settings(tx)


def _states(flags: list[Flag], settings: list[Setting]) -> list[FlagState]:
    states = []
    for flag in flags:
        mine = [s for s in settings if s.flag == flag.name]
        global_setting = next((s.percentage for s in mine if s.org_id == GLOBAL), None)
        per_org = {s.org_id: s.percentage for s in mine if s.org_id != GLOBAL}
        states.append(FlagState(flag, global_setting, per_org))
    return states


def _declared(name: str) -> Flag:
    flag = find(name)
    if flag is None:
        raise NotFound(f"no feature flag {name!r}")
    return flag


async def list_flags(db: Database) -> list[FlagState]:
    return _states(declared(), await flag_settings(db))


async def get_flag(db: Database, name: str) -> FlagState:
    flag = _declared(name)
    return _states([flag], await flag_settings(db))[0]


@traced
async def set_flag(
    db: Database,
    principal: Principal,
    audit: AuditContext,
    name: str,
    *,
    org_id: str | None,
    enabled: bool | None,
    percentage: int | None,
) -> FlagState:
    """Set the flag globally (`org_id` None) or for one org; every replica sees it within a second."""
    flag = _declared(name)
    share = percentage_of(flag, enabled, percentage)
    async with transaction(db) as tx:
        if org_id is not None and not await store.org_exists(tx, org_id):
            raise NotFound(f"no org {org_id}")
        await store.put_setting(tx, flag.name, org_id or GLOBAL, share, principal.actor_id)
        # The org's own audit log shows what an operator switched for it.
        await audit_store.record(tx, dataclasses.replace(audit, org_id=org_id or PLATFORM_SCOPE), flag.name)
        await tx.commit()
    await announce_change()
    return await get_flag(db, name)


@traced
async def clear_flag(db: Database, principal: Principal, audit: AuditContext, name: str, *, org_id: str) -> FlagState:
    """Remove the org's own setting: the global one applies to it again."""
    flag = _declared(name)
    async with transaction(db) as tx:
        if not await store.delete_setting(tx, flag.name, org_id):
            raise NotFound(f"flag {name} has no setting for org {org_id}")
        await audit_store.record(tx, dataclasses.replace(audit, org_id=org_id), flag.name)
        await tx.commit()
    await announce_change()
    return await get_flag(db, name)
