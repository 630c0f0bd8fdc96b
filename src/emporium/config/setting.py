"""One setting: its environment variable, the `Config` attribute it fills, default, meaning and form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Setting:
    env: str
    attr: str
    default: str
    meaning: str
    expected: str
    parse: Callable[[str], Any]
    secret: bool = False


def setting(
    env: str, attr: str, default: str, meaning: str, kind: tuple[str, Callable[[str], Any]], *, secret: bool = False
) -> Setting:
    return Setting(env, attr, default, meaning, kind[0], kind[1], secret)
