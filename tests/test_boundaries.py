"""core/ never imports a chat platform, the scheduler or bot/; product code never reads ../shared."""

from __future__ import annotations

import ast
from pathlib import Path

from core.config import PROJECT_ROOT

FORBIDDEN = {"telegram", "slack_bolt", "slack_sdk", "apscheduler", "bot"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_platform_library() -> None:
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(_imports(path) & FORBIDDEN)
        for path in (PROJECT_ROOT / "core").rglob("*.py")
        if _imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_command_layer_imports_no_platform_library() -> None:
    commands = PROJECT_ROOT / "bot" / "commands.py"
    if commands.exists():
        assert not _imports(commands) & {"telegram", "slack_bolt", "slack_sdk"}


def test_product_code_does_not_read_the_shared_folder() -> None:
    for folder in ("core", "bot", "prompts"):
        for path in (PROJECT_ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".md", ".toml"}:
                assert "../shared" not in path.read_text(encoding="utf-8"), path
