"""The configuration oversight' jobs read (field names are `Config` settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OversightSettings:
    api_log_retention_days: int
