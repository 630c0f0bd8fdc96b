"""Generated contracts: the OpenAPI document, rendered deterministically so it can be drift-checked."""

from __future__ import annotations

import json

from emporium.app import create_app


def render_openapi() -> str:
    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"
