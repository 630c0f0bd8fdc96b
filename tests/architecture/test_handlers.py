"""Every handler opens with `principal = auth_gate(request, Perm.X)`: one permission per endpoint."""

from __future__ import annotations

import ast
from pathlib import Path

from emporium.platform.auth.perms import Perm
from tests.services import ROOT

HANDLER_FILES = sorted(
    [
        *(ROOT / "src" / "emporium" / "modules").glob("*/handlers.py"),
        *(ROOT / "src" / "emporium" / "platform").glob("*/handlers.py"),
    ]
)
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete"}


def _routes(path: Path) -> list[ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text())
    return [
        node
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef)
        and any(
            isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_DECORATORS
            for d in node.decorator_list
        )
    ]


def _gate_permission(function: ast.AsyncFunctionDef) -> str | None:
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):  # a docstring
        first = function.body[1]
    if not (isinstance(first, ast.Assign) and isinstance(first.value, ast.Call)):
        return None
    call = first.value
    if not (isinstance(call.func, ast.Name) and call.func.id == "auth_gate" and len(call.args) == 2):
        return None
    perm = call.args[1]
    if isinstance(perm, ast.Attribute) and isinstance(perm.value, ast.Name) and perm.value.id == "Perm":
        return perm.attr
    return None


def test_there_are_handler_files() -> None:
    assert HANDLER_FILES


def test_every_handler_starts_with_auth_gate_and_one_permission() -> None:
    missing = []
    used: set[str] = set()
    for path in HANDLER_FILES:
        for function in _routes(path):
            perm = _gate_permission(function)
            if perm is None:
                missing.append(f"{path.relative_to(ROOT)}:{function.lineno} {function.name}")
            else:
                used.add(perm)
    assert missing == [], "handlers whose first line is not `principal = auth_gate(request, Perm.X)`"
    assert used == {p.name for p in Perm}, "a permission no endpoint uses, or an unknown one"


def test_the_check_catches_a_handler_without_the_gate() -> None:
    source = "@router.get('/x')\nasync def x(request):\n    return 1\n"
    function = next(n for n in ast.parse(source).body if isinstance(n, ast.AsyncFunctionDef))
    assert _gate_permission(function) is None
