"""Schemathesis hooks for the in-suite run (`SCHEMATHESIS_HOOKS=tests.fuzz.hooks`).

Two things a generator cannot know, and nothing else:
- a `cursor` is opaque: only a `next_cursor` the API issued is valid, so generated
  ones are dropped (garbage cursors are covered by the hostile-input table);
- every call is a new intended operation, so it gets a fresh Idempotency-Key (a
  generator reusing one value for two bodies would rightly get a 422; replays have
  their own tests);
- the run must not cut off its own access: revoking the run's API key or
  deactivating/demoting the run's user is sent to an id that does not exist
  instead (those operations are still called, with every other id they find).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import schemathesis

PROTECTED = {value for value in os.environ.get("FUZZ_PROTECTED_IDS", "").split(",") if value}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
    for headers in (case.headers, kwargs.get("headers")):
        for name in list(headers or ()):
            if name.lower() == "idempotency-key":
                headers[name] = str(uuid.uuid4())
    path_parameters = case.path_parameters or {}
    for name, value in list(path_parameters.items()):
        if value in PROTECTED:
            path_parameters[name] = f"{value}_other"
