"""The chat adapters talk to the command layer only: nothing under bot/telegram/ or bot/slack/ touches
`.store` or imports core.store, and neither adapter imports the other's platform library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT

ADAPTERS = ("telegram", "slack")
OTHER_PLATFORM = {"telegram": {"slack_bolt", "slack_sdk", "bot.slack"}, "slack": {"telegram", "bot.telegram"}}


def _files(adapter: str) -> list[Path]:
    return sorted((PROJECT_ROOT / "bot" / adapter).rglob("*.py"))


def store_uses(path: Path) -> list[str]:
    """Where a module imports core.store or reaches for a `.store` attribute, as "line: what"."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.startswith("core.store")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("core.store") or (node.module == "core" and any(
                    a.name == "store" for a in node.names)):
                found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr == "store":
            found.append(f"{node.lineno}: .store")
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_never_touch_the_store(adapter: str) -> None:
    files = _files(adapter)
    assert len(files) >= 3, f"bot/{adapter}/ should be a package of modules"
    offenders = {str(p.relative_to(PROJECT_ROOT)): store_uses(p) for p in files if store_uses(p)}
    assert offenders == {}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_adapter_never_imports_the_other_platform(adapter: str) -> None:
    for path in _files(adapter):
        bad = {n for n in imported(path) for other in OTHER_PLATFORM[adapter]
               if n == other or n.startswith(other + ".")}
        assert not bad, (path, bad)


def test_the_check_catches_a_store_write(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from core.store import Store\n"
                      "async def f(commands):\n    await commands.services.store.set_active(1, False, 2)\n")
    assert store_uses(sample) == ["1: from core.store import ...", "3: .store"]
