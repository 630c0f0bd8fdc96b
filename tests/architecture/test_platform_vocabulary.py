"""`platform/` keeps mechanisms only: no module's name, route prefix or permission name in its code.

The vocabulary comes from the modules' manifests, so a module added later is covered too.
Docstrings and comments may cite a module as an example; string literals and identifiers may not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from emporium.bootstrap.modules import INSTALLED
from tests.services import ROOT

PLATFORM = ROOT / "src" / "emporium" / "platform"


def _prefix(path: str) -> str:
    """'/v1/orders/{id}/refunds' -> '/v1/orders': the part of a route that names the module's resource."""
    parts = [p for p in path.split("/") if p]
    if parts[1:2] == ["admin"]:  # a namespace the platform (dead letters) and modules (flags) share
        return "/" + "/".join(parts[:3]) if len(parts) >= 3 else path
    return "/" + "/".join(parts[:2]) if len(parts) >= 2 else path


def vocabulary() -> tuple[set[str], set[str], set[str]]:
    modules = {m.name for m in INSTALLED.manifests if m.schema != "platform"}
    prefixes = {_prefix(getattr(route, "path", "")) for m in INSTALLED.manifests if m.schema != "platform"
                for router in m.routers for route in router.routes}  # fmt: skip
    prefixes |= {r.prefix for m in INSTALLED.manifests for r in m.shedding}
    permissions = {str(p) for m in INSTALLED.manifests for p in m.permissions}
    return modules, {p for p in prefixes if p.count("/") >= 2}, permissions


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _identifiers(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, ast.alias):
        yield from node.name.split(".")
    elif isinstance(node, ast.ImportFrom) and node.module:
        yield from node.module.split(".")


def offences(source: str, modules: set[str], prefixes: set[str], permissions: set[str]) -> list[str]:
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    words = re.compile(r"\b(" + "|".join(sorted(map(re.escape, modules))) + r")\b") if modules else None
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            found += [
                f"{node.lineno}: module name {m.group(0)!r}" for m in ([words.search(text)] if words else []) if m
            ]
            found += [f"{node.lineno}: route prefix {p!r}" for p in prefixes if p in text]
            found += [f"{node.lineno}: permission {p!r}" for p in permissions if p in text]
        for name in _identifiers(node):
            tokens = set(name.lower().split("_"))
            found += [f"{getattr(node, 'lineno', 0)}: identifier {name!r}" for m in modules if m in tokens]
    return sorted(set(found))


def test_the_manifests_give_a_vocabulary() -> None:
    modules, prefixes, permissions = vocabulary()
    assert {"catalog", "orders"} <= modules and "/v1/orders" in prefixes and "catalog:read" in permissions


def test_platform_names_no_module_route_prefix_or_permission() -> None:
    modules, prefixes, permissions = vocabulary()
    found = {
        str(path.relative_to(ROOT)): hits
        for path in sorted(PLATFORM.rglob("*.py"))
        if (hits := offences(path.read_text(), modules, prefixes, permissions))
    }
    assert found == {}


def test_the_check_catches_each_kind_of_word() -> None:
    modules, prefixes, permissions = {"orders"}, {"/v1/orders"}, {"orders:read"}
    assert offences('CRITICAL = ("/v1/orders/x",)', modules, prefixes, permissions)
    assert offences('PERM = "orders:read"', modules, prefixes, permissions)
    assert offences('SCHEMAS = ("orders",)', modules, prefixes, permissions)
    assert offences("from emporium.modules.orders import api", modules, prefixes, permissions)
    assert offences("def place_orders(): pass", modules, prefixes, permissions)
    assert not offences('"""Sheds /v1/orders last."""\nX = "ordersx"', modules, prefixes, permissions)


def test_platform_files_exist() -> None:
    assert any(Path(PLATFORM).rglob("*.py"))
