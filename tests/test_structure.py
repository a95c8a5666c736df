"""The shape of the code: no import cycles in core/ or bot/, and no module over the size guide.

Imports are read with `ast`, so those under `if TYPE_CHECKING:` and inside functions count too: a
cycle hidden there still means two modules that each need the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

from core.config import PROJECT_ROOT

PACKAGES = ("core", "bot")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((PROJECT_ROOT / pkg).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from core import pipeline`
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    """Each module of core/ and bot/ with the project modules it imports."""
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_no_import_cycles_in_core_or_bot() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_sees_cycles_through_type_checking_and_function_imports(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.x import Y\n"
              "def f():\n    import core.z\n")
    path = tmp_path / "m.py"
    path.write_text(source, encoding="utf-8")
    assert _imports("core.m", path, {"core.x", "core.z", "core.m"}) == {"core.x", "core.z"}


def test_core_never_imports_bot() -> None:
    assert {m: sorted(i) for m, i in import_graph().items() if m.startswith("core") and any(
        x.startswith("bot") for x in i)} == {}


def test_no_module_in_core_or_bot_is_over_the_size_guide() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
