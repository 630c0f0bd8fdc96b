"""The README's first-order walkthrough runs as written against a real server, every curl succeeding."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path

import pytest

from emporium.platform.db.engine import Database
from tests.services import ROOT
from tests.support.identity import make_tenant
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- walkthrough:[^>]*-->\n```bash\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md has no walkthrough block"
    return match.group(1)


async def test_the_readme_walkthrough_runs_as_written(database_url: str, db: Database, tmp_path: Path) -> None:
    shop = await make_tenant(db, "Readme shop")
    script = tmp_path / "walkthrough.sh"
    script.write_text("set -euo pipefail\n" + walkthrough())
    server = ServerProcess({"DATABASE_URL": database_url, "CRON_ENABLED": "false"}, tmp_path / "server.log")
    try:
        await asyncio.to_thread(server.wait_ready)
        env = {**os.environ, "EMPORIUM": server.base_url, "KEY": shop.owner_key}
        result = await asyncio.to_thread(
            subprocess.run, ["bash", str(script)], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        server.stop()
    assert result.returncode == 0, (
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nserver:\n{server.output()[-3000:]}"
    )
    assert '"carrier":"DHL"' in result.stdout  # shipped
    lines = result.stdout.splitlines()
    assert "'amount': 1200" in lines[-3], result.stdout  # one mug refunded
    assert lines[-2:] == ["cancelled", "0"], result.stdout  # cancelled: its mug released; the shipped ones left
