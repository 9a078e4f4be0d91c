"""The shape of chalicelib, kept by an AST walk: the wings import only downward, with no circles.

edge → flows → store / views → core, with site/ (the renderer) and mail/ beside the edge: they read the
store and the views and never call back into a flow. wiring.py, the composition root, may import all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "chalicelib"
MAX_LINES = 500
MAX_LOCAL_IMPORTS = 20


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> str:
    name = _module(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


MODULES = {_module(p): p for p in LIB.rglob("*.py")}


def _target(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path) -> list[tuple[str, ast.stmt, bool]]:
    """(module imported, the statement, whether it sits inside a function) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, ast.stmt, bool]] = []

    def walk(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((a.name, child, local) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                target = _target(child, _package(path))
                for a in child.names:
                    full = f"{target}.{a.name}"
                    found.append((full if full in MODULES else target, child, local))
            walk(child, inner)

    walk(tree, False)
    return found


def _wing(module: str) -> str:
    """core, store, views, site, mail, edge, wiring, or flow (a module at the top of chalicelib)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in ("core", "store", "site", "mail", "edge"):
        return parts[1]
    if parts[1] in ("views", "wiring"):
        return parts[1]
    return "flow"


# What each wing may import from chalicelib (besides itself).
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "views": {"core", "store", "views"},
    "flow": {"core", "store", "views", "flow"},
    "site": {"core", "store", "views", "site"},
    "mail": {"core", "store", "views", "mail"},
    "edge": {"core", "store", "views", "flow", "site", "edge"},
    "wiring": {"core", "store", "views", "flow", "site", "mail", "edge", "wiring"},
    "package": set(),
}


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        graph[name] = {t for t, _, _ in _imports(path) if t in MODULES and t != name}
    return graph


def test_each_wing_imports_only_downward():
    wrong = []
    for name, targets in _graph().items():
        for target in targets:
            if _wing(target) not in ALLOWED[_wing(name)] and not MODULES[target].name == "__init__.py" == "":
                wrong.append(f"{name} ({_wing(name)}) imports {target} ({_wing(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_flow_store_or_view_imports_chalice():
    wrong = [
        f"{name} imports {t}"
        for name, path in MODULES.items()
        if _wing(name) in ("store", "views", "flow")
        for t, _, _ in _imports(path)
        if t == "chalice" or t.startswith("chalice.")
    ]
    assert not wrong, wrong


def test_no_import_circle_inside_chalicelib():
    graph = _graph()
    # Importing a package runs its __init__; a module importing its own package's __init__ is not a circle.
    circles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                circles.append(stack[stack.index(nxt) :] + [nxt])
            elif not state.get(nxt):
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node)
    assert not circles, "\n".join(" → ".join(c) for c in circles)


def test_no_file_in_chalicelib_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n for p in LIB.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_function_local_imports_of_our_own_modules_are_few_and_say_why():
    local = []
    unexplained = []
    for name, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        seen = set()
        for target, stmt, inside in _imports(path):
            if not inside or not target.startswith("chalicelib") or id(stmt) in seen:
                continue
            seen.add(id(stmt))
            local.append(f"{name}:{stmt.lineno}")
            line, above = lines[stmt.lineno - 1], lines[stmt.lineno - 2].strip()
            if "#" not in line and not above.startswith("#"):
                unexplained.append(f"{path.relative_to(ROOT)}:{stmt.lineno}")
    assert len(local) < MAX_LOCAL_IMPORTS, local
    assert not unexplained, "each late import says why (cold start): " + ", ".join(unexplained)


@pytest.mark.parametrize("path", sorted((ROOT / "tests").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_test_module_imports_another(path):
    wrong = [t for t, _, _ in _imports(path) if t.startswith("tests.") and t.rpartition(".")[2].startswith("test_")]
    assert not wrong, wrong
