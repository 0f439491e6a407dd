"""The package's layout rules (README, "Development"), checked on the source, and shown to catch violations.

Wings, lowest first; a module may import autolog modules of its own wing and of the wings
its entry names, nothing else (imports inside functions and ``TYPE_CHECKING`` blocks count):

    leaf          _errors, _stats, _serialize: nothing of autolog (``_stats`` aside, for the guard)
    entities      leaves
    _tracing      leaves, entities                      (never the store or the export pipeline)
    _store        leaves, entities                      (never a span being recorded)
    _export       leaves, entities, _tracing, _store
    client        everything below, and the integrations (loaded by ``autolog.openai()``...)
    top           cli, _cli_compare, _cli_ui, _cli_db, _demo, __main__, genai, _server, utils: anything
    integrations  the ``autolog._tracing`` package namespace and public ``autolog.entities`` only

Also: no import cycles; modules of at most 400 lines; no private name of another autolog
module imported or read (``from autolog.x import _y``, ``module._y``, ``obj._y`` where only
another module defines ``_y``).
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
LEAVES = {"autolog._errors", "autolog._stats", "autolog._serialize"}
ALLOWED = {
    "leaf": {"leaf"},
    "entities": {"leaf", "entities"},
    "_tracing": {"leaf", "entities", "_tracing"},
    "_store": {"leaf", "entities", "_store"},
    "_export": {"leaf", "entities", "_tracing", "_store", "_export"},
    "client": {"leaf", "entities", "_tracing", "_store", "_export", "client", "integrations"},
    "top": {"leaf", "entities", "_tracing", "_store", "_export", "client", "top", "integrations"},
}
CLIENT = {"autolog", "autolog._client", "autolog._api", "autolog._versions", "autolog._runs", "autolog._assessments",
          "autolog._client_models", "autolog._uris", "autolog._frames", "autolog.client", "autolog.exceptions"}
TOP = {"autolog.cli", "autolog._cli_compare", "autolog._cli_ui", "autolog._cli_db", "autolog._demo", "autolog.__main__"}


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: int
    imports: list[tuple[str, str | None, int]] = field(default_factory=list)  # (module, imported name, line)


def wing(name: str) -> str:
    if name in LEAVES:
        return "leaf"
    if name in CLIENT:
        return "client"
    if name in TOP or name.startswith(("autolog.genai", "autolog._server", "autolog.utils")):
        return "top"
    if name.startswith("autolog.integrations"):
        return "integrations"
    return name.split(".")[1]


def load(root: Path) -> dict[str, Module]:
    """Every module of ``root/autolog`` and ``root/integrations`` (shipped as ``autolog.integrations``)."""
    modules: dict[str, Module] = {}
    for folder, package in (("autolog", "autolog"), ("integrations", "autolog.integrations")):
        for path in sorted((root / folder).rglob("*.py")):
            parts = [package, *path.relative_to(root / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            text = path.read_text(encoding="utf-8")
            modules[".".join(parts)] = Module(".".join(parts), path, ast.parse(text), len(text.splitlines()))
    for module in modules.values():
        is_package = module.path.name == "__init__.py"
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                module.imports += [(alias.name, None, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package
                    anchor = module.name.split(".")
                    anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    # `from package import submodule` depends on the submodule, not the package's namespace
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    module.imports.append((target, alias.name, node.lineno))
    return modules


def own_edges(module: Module, modules: dict[str, Module]) -> Iterator[tuple[str, str | None, int]]:
    for target, name, line in module.imports:
        if target in modules and target != module.name:
            yield target, name, line


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    graph = {name: sorted({t for t, _, _ in own_edges(m, modules)}) for name, m in modules.items()}
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return found


def defined_private_names(module: Module) -> set[str]:
    """Single-underscore names a module defines: module-level names, attributes set on self, slots."""
    names: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def violations(root: Path) -> list[str]:
    modules = load(root)
    found: list[str] = []
    defined = {name: defined_private_names(m) for name, m in modules.items()}
    everywhere = set().union(*defined.values())
    for name, module in modules.items():
        where = f"{module.path.relative_to(root)}"
        if module.lines > MAX_LINES:
            found.append(f"{where}: {module.lines} lines (at most {MAX_LINES})")
        own_wing = wing(name)
        for target, imported, line in own_edges(module, modules):
            target_wing = wing(target)
            if own_wing == "integrations":
                public_entities = target == "autolog.entities" or (
                    target.startswith("autolog.entities.") and not target.split(".")[2].startswith("_"))
                if not (target_wing == "integrations" or target == "autolog._tracing" or public_entities):
                    found.append(f"{where}:{line}: an integration imports {target} (only autolog._tracing and "
                                 "public autolog.entities)")
            elif target_wing not in ALLOWED[own_wing]:
                found.append(f"{where}:{line}: {own_wing} module imports {target} ({target_wing})")
            is_module = target.endswith(f".{imported}")  # private modules are the wing rules' business
            if imported is not None and imported.startswith("_") and not imported.startswith("__") and not is_module:
                found.append(f"{where}:{line}: imports the private name {imported} of {target}")
        bound_modules = {alias.asname or alias.name.split(".")[0] for node in ast.walk(module.tree)
                         if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names
                         if isinstance(node, ast.ImportFrom) and f"{node.module}.{alias.name}" in modules}
        for node in ast.walk(module.tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                continue
            from_module = isinstance(owner, ast.Name) and owner.id in bound_modules
            if from_module or (node.attr in everywhere and node.attr not in defined[name]):
                found.append(f"{where}:{node.lineno}: reads {ast.unparse(node)}, private to another module")
    found += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(modules)]
    return found


def test_the_package_follows_its_layout() -> None:
    assert violations(ROOT) == []


@pytest.fixture()
def planted(tmp_path: Path) -> Path:
    for folder in ("autolog", "integrations"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text + "\n", encoding="utf-8")


def test_a_planted_violation_of_each_rule_is_reported(planted: Path) -> None:
    assert violations(planted) == []  # the copy is clean before anything is planted
    _append(planted / "autolog/_tracing/context.py", "from autolog._store import sqlite  # tracing -> store")
    _append(planted / "autolog/entities/span.py", "from autolog._tracing.live import LiveSpan")
    _append(planted / "integrations/openai.py", "from autolog._client import get_default_client")
    _append(planted / "autolog/_store/rows.py",  # a late import is still an import
            "def _late() -> None:\n    from autolog._store.sqlite import SqliteStore")
    _append(planted / "autolog/_export/encode.py", "from autolog._tracing.live import _JSON_READY")
    _append(planted / "autolog/_export/usage.py", "def _peek(span: Span) -> object:\n    return span._trace")
    _append(planted / "autolog/_api.py", "\n".join(["#"] * MAX_LINES))
    found = violations(planted)
    expected = [
        "autolog/_tracing/context.py:", "_tracing module imports autolog._store.sqlite (_store)",
        "autolog/entities/span.py:", "entities module imports autolog._tracing.live (_tracing)",
        "integrations/openai.py:", "an integration imports autolog._client",
        "imports the private name _JSON_READY of autolog._tracing.live",
        "autolog/_export/usage.py:", "reads span._trace, private to another module",
        "autolog/_api.py: ",
    ]
    text = "\n".join(found)
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not reported in:\n{text}"
    cycles_found = [set(line.removeprefix("import cycle: ").split(" -> ")) for line in found if "cycle" in line]
    assert {"autolog._store.rows", "autolog._store.sqlite"} in cycles_found, text  # the late import made a circle
    assert {"autolog.entities.span", "autolog._tracing.live"} in cycles_found, text  # so did entities -> tracing
    assert len(found) == 8, text
