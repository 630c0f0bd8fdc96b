"""The entry point sets PROMETHEUS_MULTIPROC_DIR before anything creates a metric: prometheus_client picks
its multiprocess mode when first imported, so importing it earlier leaves every worker's samples unshared
(`/metrics` of a multi-worker server answers empty; tests/e2e/test_metrics_workers.py)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_entry_point_does_not_import_prometheus_client() -> None:
    probe = "import sys, emporium.main; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_the_command_line_loads_no_module_before_a_command_needs_it() -> None:
    """Every `emporium` command (the tests start dozens) paid ~1 s of imports for the whole application when
    one command group imported the modules at the top; a command imports what it runs."""
    probe = (
        "import sys, emporium.main, emporium.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('emporium.modules.', 'emporium.bootstrap.', 'fastapi'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
