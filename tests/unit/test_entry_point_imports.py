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
