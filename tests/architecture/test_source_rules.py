"""Rules import-linter cannot express, checked on the syntax tree of every source file."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.services import ROOT

SRC = ROOT / "src" / "emporium"


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _reads_environment(tree: ast.Module) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb", "putenv"}) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in {"environ", "getenv", "environb"} for alias in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_only_main_reads_the_environment() -> None:
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path, tree in _sources()
        if path.name != "main.py" and (lines := _reads_environment(tree))
    }
    assert offenders == {}


def test_the_environment_check_would_catch_a_reader() -> None:
    for snippet in ("import os\nx = os.environ['A']", "import os\nx = os.getenv('A')", "from os import environ"):
        assert _reads_environment(ast.parse(snippet))


def test_services_never_commit_or_roll_back() -> None:
    offenders = []
    for path, tree in _sources():
        if path.name != "services.py" and path.parent.name != "services":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"commit", "rollback", "begin"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_nothing_opens_database_engines_at_import_time() -> None:
    offenders = []
    for path, tree in _sources():
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                for call in ast.walk(node.value):
                    if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) in {
                        "create_async_engine",
                        "create_engine",
                        "Database",
                    }:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def _status_literals(tree: ast.Module, statuses: set[str]) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in statuses
    ]


def test_orchestrators_hold_no_status_literal() -> None:
    """Orchestrators sequence workflows; what a status means is decided by the domains' predicates."""
    from emporium.modules.orders.domain import OrderStatus
    from emporium.modules.payments.domain import PaymentStatus

    statuses = {s.value for s in OrderStatus} | {s.value for s in PaymentStatus}
    found = {
        str(path.relative_to(SRC)): hits
        for path, tree in _sources()
        if path.is_relative_to(SRC / "orchestrators") and (hits := _status_literals(tree, statuses))
    }
    assert found == {}


def test_the_status_literal_check_would_catch_one() -> None:
    tree = ast.parse('if payment.status == "captured":\n    pass\n')
    assert _status_literals(tree, {"captured"}) == [(1, "captured")]


def _engine_sessions(tree: ast.Module) -> list[int]:
    """Lines that open a connection or transaction on an engine directly (`x.engine.begin()` / `.connect()`)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"begin", "connect"}
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "engine"
    ]


def test_only_platform_db_opens_engine_connections() -> None:
    """Business outcomes use `transaction()` (workflows only); the rest goes through `platform.db.standalone`,
    whose importers an import-linter contract names. Nothing reaches for `db.engine` to bypass both."""
    found = {
        str(path.relative_to(SRC)): lines
        for path, tree in _sources()
        if not path.is_relative_to(SRC / "platform" / "db") and (lines := _engine_sessions(tree))
    }
    assert found == {}


def test_the_engine_check_would_catch_a_service_opening_a_transaction() -> None:
    tree = ast.parse("async def insert(db):\n    async with db.engine.begin() as conn:\n        pass\n")
    assert _engine_sessions(tree) == [2]


MAX_LINES = 450  # DESIGN says ~400; 450 is the hard limit a file may not pass (decision 024)


def _too_long(paths: list[Path], root: Path = ROOT) -> dict[str, int]:
    return {str(p.relative_to(root)): n for p in paths if (n := len(p.read_text().splitlines())) > MAX_LINES}


def test_no_source_file_is_over_450_lines() -> None:
    assert _too_long(sorted(SRC.rglob("*.py"))) == {}


def test_the_length_check_would_catch_a_long_file(tmp_path: Path) -> None:
    (tmp_path / "long_module.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "short_module.py").write_text("x = 1\n" * MAX_LINES)
    paths = sorted(tmp_path.glob("*.py"))
    assert _too_long(paths, tmp_path) == {"long_module.py": MAX_LINES + 1}


def test_tests_share_helpers_through_tests_support_only() -> None:
    """A helper two test files use lives in tests/support/, never inside a test module another one imports."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1].startswith("test_"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}")
    assert offenders == []


# The modules' resources are opened in one place (bootstrap/resources.py) that every entry point enters:
# an entry point that picks its own openers can forget one (the Lambda consumer once forgot the reporting store).
RESOURCE_OPENERS = {
    "open_catalog",
    "open_payment_providers",
    "open_notifiers",
    "open_documents",
    "open_reporting_store",
}
RESOURCES_FILE = Path("bootstrap") / "resources.py"


def _opener_calls(tree: ast.Module) -> list[tuple[int, str]]:
    return [
        (node.lineno, name)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (name := getattr(node.func, "id", getattr(node.func, "attr", ""))) in RESOURCE_OPENERS
    ]


def test_module_resources_are_opened_only_by_open_module_resources() -> None:
    offenders = [
        f"{path}:{line} {name}"
        for path, tree in _sources()
        if not path.as_posix().endswith(RESOURCES_FILE.as_posix())
        for line, name in _opener_calls(tree)
    ]
    assert offenders == [], f"open module resources with bootstrap.resources.open_module_resources: {offenders}"


def test_the_opener_check_would_catch_an_entry_point_opening_one_itself() -> None:
    source = "async def consumer(config, db):\n    async with open_reporting_store(config, db):\n        pass\n"
    tree = ast.parse(source)
    assert _opener_calls(tree) == [(2, "open_reporting_store")]
