"""`emporium admin create-operator-key` prints a working operator key once; `revoke-operator-key` ends it.

The commands run in-process (typer's runner, with the `Config` `emporium.main` would pass); the key is
used against the console's shared server (tests/support/console.py): whoami says `operator`, an org
route refuses it, the flags answer; once revoked it is refused (within the 5 s principal cache).
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from typer.testing import CliRunner

from emporium.cli import app
from emporium.config import Config
from tests.support.identity import bearer
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e
KEY = re.compile(r"emp_live_[0-9A-Za-z]{46}")
KEY_ID = re.compile(r"opk_[0-9A-Za-z]{27}")


def test_an_operator_key_is_printed_once_works_and_is_revoked(database_url: str, console_server: ServerProcess) -> None:
    runner, config = CliRunner(), Config(database_url=database_url, log_level="warning")
    made = runner.invoke(app, ["admin", "create-operator-key", "--name", "ops-oncall"], obj=config)
    assert made.exit_code == 0, made.output
    [secret] = KEY.findall(made.output)
    [key_id] = set(KEY_ID.findall(made.output))

    with httpx.Client(base_url=console_server.base_url, timeout=10) as api:
        me = api.get("/v1/auth/whoami", headers=bearer(secret))
        assert me.status_code == 200 and me.json()["role"] == "operator"
        assert key_id in me.text
        assert api.get("/v1/orders", headers=bearer(secret)).status_code == 403
        assert api.get("/v1/admin/flags", headers=bearer(secret)).status_code == 200

        revoked = runner.invoke(app, ["admin", "revoke-operator-key", key_id], obj=config)
        assert revoked.exit_code == 0, revoked.output
        again = runner.invoke(app, ["admin", "revoke-operator-key", key_id], obj=config)
        assert again.exit_code == 1 and "no usable operator key" in again.output
        deadline = time.monotonic() + 10  # the server's principal cache keeps a key for at most 5 s
        while api.get("/v1/auth/whoami", headers=bearer(secret)).status_code != 401:
            assert time.monotonic() < deadline, "a revoked operator key still works after the cache's 5 s"
            time.sleep(0.2)
