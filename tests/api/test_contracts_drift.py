"""Committed contracts and docs must match the code that produces them."""

from __future__ import annotations

import json
import re

from emporium.bootstrap.contracts import render_openapi
from emporium.config import SETTINGS
from tests.services import ROOT


def test_committed_openapi_matches_the_code() -> None:
    committed = (ROOT / "contracts" / "openapi.json").read_text()
    assert committed == render_openapi(), "contracts/openapi.json is stale: run `make openapi` and commit it"


def test_every_operation_has_a_stable_operation_id() -> None:
    spec = json.loads(render_openapi())
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert len(ids) == len(set(ids))


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([A-Z0-9_]+)` \| `?([^|`]*)`? \|", readme, re.MULTILINE)}
    expected = {s.env: s.default for s in SETTINGS}
    missing = expected.keys() - rows.keys()
    assert not missing, f"README lacks settings: {sorted(missing)}"
    wrong = {k: (rows[k], v) for k, v in expected.items() if rows[k].strip() != (v or "(unset)")}
    assert not wrong, f"README defaults differ (readme, code): {wrong}"


def test_committed_module_map_matches_the_code() -> None:
    from emporium.bootstrap.module_map import render

    committed = (ROOT / "docs" / "modules.md").read_text()
    assert committed == render(), "docs/modules.md is stale: run `make docs` and commit it"
