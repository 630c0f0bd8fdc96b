"""The five-role architecture is enforced by import-linter; these tests make `make test` enforce it too."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.services import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(source_root: Path, workdir: Path, contract: str | None = None) -> subprocess.CompletedProcess[str]:
    only = ["--contract", contract] if contract else []
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(workdir / "pyproject.toml"), *only],
        cwd=workdir,
        env={"PYTHONPATH": str(source_root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_code_keeps_every_contract() -> None:
    result = _lint(ROOT / "src", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the source tree to break on purpose."""
    shutil.copytree(
        ROOT / "src" / "emporium", tmp_path / "src" / "emporium", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _write(tree: Path, relative: str, source: str) -> None:
    path = tree / "src" / "emporium" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    init = path.parent / "__init__.py"
    if not init.exists():
        init.write_text("")
    path.write_text(textwrap.dedent(source))


def _module(tree: Path, name: str) -> None:
    for part in ("handlers", "workflows", "services", "tables", "domain", "api", "events"):
        _write(tree, f"modules/{name}/{part}.py", "")


VIOLATIONS = {
    "a handler importing another module's service": (
        "modules/shop/handlers.py",
        "from emporium.modules.stock import services\n",
        "module-boundaries",
    ),
    "a handler importing its own module's service": (
        "modules/shop/handlers.py",
        "from emporium.modules.shop import services\n",
        "edge-calls-workflows",
    ),
    "a service opening a transaction": (
        "modules/shop/services.py",
        "from emporium.platform.db.transaction import transaction\n",
        "only-workflows-open-transactions",
    ),
    "a service importing a workflow": (
        "modules/shop/services.py",
        "from emporium.modules.shop import workflows\n",
        "module-layers",
    ),
    "a workflow importing another module's workflow": (
        "modules/shop/workflows.py",
        "from emporium.modules.stock import workflows\n",
        "module-boundaries",
    ),
    "domain code importing sqlalchemy": (
        "modules/shop/domain.py",
        "import sqlalchemy\n",
        "pure-domain",
    ),
    "reporting's service reading another module through its api": (
        "modules/reporting/services.py",
        "from emporium.modules.payments import api\n",
        "reporting-learns-from-events",
    ),
    "the platform importing a module": (
        "platform/leak.py",
        "from emporium.modules.shop import domain\n",
        "platform-is-the-kernel",
    ),
}


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_a_layer_violation_breaks_the_build(tree: Path, case: str) -> None:
    relative, source, contract = VIOLATIONS[case]
    _module(tree, "shop")
    _module(tree, "stock")
    assert _lint(tree / "src", tree).returncode == 0, "the copied tree should start clean"
    _write(tree, relative, source)
    result = _lint(tree / "src", tree, contract)
    assert result.returncode != 0, f"{case} was not caught by {contract}:\n{result.stdout}"
    assert "1 broken" in result.stdout, result.stdout


def test_allowed_doors_between_modules_stay_open(tree: Path) -> None:
    _module(tree, "shop")
    _module(tree, "stock")
    _write(tree, "modules/shop/services.py", "from emporium.modules.stock import api\n")
    _write(tree, "modules/shop/subscribers.py", "from emporium.modules.stock import events\n")
    _write(
        tree,
        "orchestrators/sale.py",
        "from emporium.modules.shop import workflows\nfrom emporium.modules.stock import workflows as w\n",
    )
    result = _lint(tree / "src", tree)
    assert result.returncode == 0, result.stdout
