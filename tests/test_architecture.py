"""Data flows one way: no import cycle between modules or packages, no private name borrowed.

Every ``import`` of a ``betaneutral`` module is counted, at the top of a file or inside a
function (an import deferred into a function still ties the two modules together), and
the graph must have no cycle, neither between modules nor between the package's parts
(``betaneutral.workbook``, ``betaneutral.backtest_io``, ...). No module imports another
module's underscore names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import betaneutral

ROOT = Path(betaneutral.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(("betaneutral", *parts)).removesuffix(".__init__")
        out[name] = path
    return out


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    borrowed = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.startswith("betaneutral"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    target = full if full in modules else node.module
                    if target in modules:
                        graph[name].add(target)
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and node.module != name:
                        borrowed.append(f"{name} imports {node.module}.{alias.name}")
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules)
    return graph, borrowed


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def _part(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_module_imports_in_a_cycle() -> None:
    graph, _ = _graph()
    assert _cycles(graph) == []


def test_the_package_parts_depend_on_each_other_one_way() -> None:
    graph, _ = _graph()
    parts: dict[str, set[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            if _part(module) != _part(target):
                parts.setdefault(_part(module), set()).add(_part(target))
    assert _cycles(parts) == []
    # the core depends on nothing else of the package but the errors
    assert parts.get("betaneutral.core", set()) <= {"betaneutral.errors"}


def test_no_module_borrows_another_modules_private_names() -> None:
    _, borrowed = _graph()
    assert borrowed == []
