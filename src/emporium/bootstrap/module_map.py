"""`make docs`: docs/modules.md drawn from the code (in the spirit of Spring Modulith's documentation).

For each module: its public `api.py` functions, the events it publishes
(`events.py`) and consumes (`subscribers.py`), and which modules it depends
on (imports of their `api`/`events`), plus the orchestrators that span
modules. A test regenerates it and fails when the committed file drifts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # src/emporium
MODULES = PACKAGE / "modules"
ORCHESTRATORS = PACKAGE / "orchestrators"


@dataclass
class ModuleFacts:
    name: str
    api: list[str] = field(default_factory=list)
    publishes: list[str] = field(default_factory=list)
    consumes: list[str] = field(default_factory=list)
    uses: set[str] = field(default_factory=set)


def _parse(path: Path) -> ast.Module | None:
    return ast.parse(path.read_text()) if path.exists() else None


def _public_functions(tree: ast.Module | None) -> list[str]:
    if tree is None:
        return []
    return sorted(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
    )


def _event_names(tree: ast.Module | None) -> list[str]:
    names = []
    for node in tree.body if tree else []:
        if isinstance(node, ast.ClassDef):
            values: dict[str, object] = {}
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.target, ast.Name)
                ):
                    values[stmt.target.id] = stmt.value.value
            event_name, version = values.get("event_name"), values.get("event_version", 1)
            if isinstance(event_name, str):
                names.append(f"{event_name}.v{version!s}")
    return sorted(names)


def _imported_modules(files: Iterable[Path]) -> set[str]:
    used: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] == ["emporium", "modules"] and len(parts) >= 3:
                    used.add(parts[2])
                if node.module == "emporium.modules":
                    used |= {alias.name for alias in node.names}
    return used


def _consumed() -> dict[str, list[str]]:
    from emporium.bootstrap import bus

    by_module: dict[str, set[str]] = {}
    for subscription in bus.subscriptions():
        for name, version in subscription.reads:
            by_module.setdefault(subscription.module, set()).add(f"{name}.v{version}")
    return {module: sorted(events) for module, events in by_module.items()}


def collect() -> tuple[list[ModuleFacts], dict[str, set[str]]]:
    from emporium.bootstrap.modules import INSTALLED

    consumed = _consumed()
    facts = []
    # The modules of the manifests list (the platform's own manifest has no package under modules/).
    for directory in sorted(MODULES / name for name in INSTALLED.names if (MODULES / name / "__init__.py").exists()):
        module = ModuleFacts(directory.name)
        module.api = _public_functions(_parse(directory / "api.py"))
        module.publishes = _event_names(_parse(directory / "events.py"))
        module.consumes = consumed.get(directory.name, [])
        module.uses = _imported_modules(directory.rglob("*.py")) - {directory.name}
        facts.append(module)
    orchestrators = {
        path.stem: _imported_modules([path]) for path in sorted(ORCHESTRATORS.glob("*.py")) if path.stem != "__init__"
    }
    return facts, orchestrators


def render() -> str:
    facts, orchestrators = collect()
    publishers = {event: m.name for m in facts for event in m.publishes}
    lines = [
        "# Module map",
        "",
        "Generated from the code by `make docs` (`emporium docs`); a test fails when it drifts.",
        "",
        "```mermaid",
        "graph LR",
    ]
    for module in facts:
        lines.append(f'    {module.name}["{module.name}"]')
    for name in orchestrators:
        lines.append(f'    orch_{name}(["orchestrator: {name}"])')
    for module in facts:
        for dependency in sorted(module.uses):
            lines.append(f"    {module.name} -->|api| {dependency}")
        for source in sorted({publishers[e] for e in module.consumes if e in publishers} - {module.name}):
            lines.append(f"    {source} -.->|events| {module.name}")
    for name, spanned in orchestrators.items():
        for module_name in sorted(spanned):
            lines.append(f"    orch_{name} -->|workflows| {module_name}")
    lines += ["```", ""]
    for module in facts:
        lines += [f"## {module.name}", ""]
        lines.append("- **Public api** (`api.py`): " + (", ".join(f"`{f}`" for f in module.api) or "none"))
        lines.append("- **Publishes**: " + (", ".join(f"`{e}`" for e in module.publishes) or "nothing"))
        lines.append("- **Consumes**: " + (", ".join(f"`{e}`" for e in module.consumes) or "nothing"))
        lines.append("- **Depends on**: " + (", ".join(f"`{m}`" for m in sorted(module.uses)) or "no other module"))
        lines.append("")
    lines += ["## Orchestrators", ""]
    for name, spanned in orchestrators.items():
        lines.append(f"- `{name}`: " + ", ".join(f"`{m}`" for m in sorted(spanned)))
    return "\n".join(lines) + "\n"
