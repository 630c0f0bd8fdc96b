"""Flag declarations and their evaluation (pure: no I/O)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

GLOBAL = "*"  # the org_id of a flag's global setting


class FlagKind(StrEnum):
    BOOLEAN = "boolean"  # on or off (stored as 100 or 0 per cent)
    PERCENTAGE = "percentage"  # on for a stable share of orgs


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    kind: FlagKind
    default: bool  # with no setting at all
    description: str


@dataclass(frozen=True, slots=True)
class Setting:
    flag: str
    org_id: str  # GLOBAL for the global default
    percentage: int  # 0..100; a boolean flag holds 0 or 100


_DECLARED: dict[str, Flag] = {}


def declare(name: str, *, default: bool, description: str, kind: FlagKind = FlagKind.BOOLEAN) -> Flag:
    """Declare a flag once, at import time of the module that reads it."""
    flag = Flag(name, kind, default, description)
    existing = _DECLARED.setdefault(name, flag)
    if existing != flag:
        raise ValueError(f"flag {name!r} is declared twice, differently")
    return flag


def declared() -> list[Flag]:
    return sorted(_DECLARED.values(), key=lambda flag: flag.name)


def find(name: str) -> Flag | None:
    return _DECLARED.get(name)


def bucket(flag_name: str, org_id: str) -> int:
    """A stable 0..99 per (flag, org): raising a percentage only ever adds orgs."""
    return zlib.crc32(f"{flag_name}:{org_id}".encode()) % 100


def index_settings(settings: Iterable[Setting]) -> dict[tuple[str, str], int]:
    return {(setting.flag, setting.org_id): setting.percentage for setting in settings}


def evaluate(flag: Flag, org_id: str | None, settings: Mapping[tuple[str, str], int]) -> bool:
    """The org's own setting, else the global one, else the declared default."""
    percentage = settings.get((flag.name, org_id)) if org_id else None
    if percentage is None:
        percentage = settings.get((flag.name, GLOBAL))
    if percentage is None:
        return flag.default
    if percentage >= 100:
        return True
    if percentage <= 0 or org_id is None:
        return False
    return bucket(flag.name, org_id) < percentage
