"""Oversight workflows: feature flags and the API request log."""

from emporium.modules.oversight.workflows.api_logs import (
    api_request_minutes,
    list_api_requests,
    purge_api_requests,
    record_api_requests,
)
from emporium.modules.oversight.workflows.flags import clear_flag, flag_settings, get_flag, list_flags, set_flag

__all__ = [
    "api_request_minutes",
    "clear_flag",
    "flag_settings",
    "get_flag",
    "list_api_requests",
    "list_flags",
    "purge_api_requests",
    "record_api_requests",
    "set_flag",
]
