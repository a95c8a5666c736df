"""The documentation keeps up with the code: every setting is in the README's Configuration table and in
`.env.example`, with its default, one test per setting so a failure names the one that is missing.

That `.env.example` is exactly `render_env_example()` is checked in tests/test_config.py.
"""

from __future__ import annotations

import re

import pytest

from core.config import PROJECT_ROOT, documented_settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
SETTINGS = documented_settings()


def section(markdown: str, title: str) -> str:
    """Return the text under a `## title` heading, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.MULTILINE | re.DOTALL)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def table_rows(markdown: str) -> dict[str, list[str]]:
    """Map each table row that starts with a `NAME` cell to its other cells."""
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(r"`[A-Z][A-Z0-9_]*`", cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


CONFIGURATION = table_rows(section(README, "Configuration"))


@pytest.mark.parametrize(("env", "default"), [(env, default) for env, default, _ in SETTINGS])
def test_setting_is_in_the_readme_configuration_table_with_its_default(env: str, default: str) -> None:
    assert env in CONFIGURATION, f"add a row for {env} to the README's Configuration section"
    cells = CONFIGURATION[env]
    assert cells[0] == (f"`{default}`" if default else "(empty)"), f"{env}'s default in the README is not {default!r}"
    assert cells[1], f"{env} has no meaning in the README"


def test_the_readme_configuration_table_names_no_setting_the_code_does_not_have() -> None:
    assert set(CONFIGURATION) == {env for env, _, _ in SETTINGS}


@pytest.mark.parametrize(("env", "default"), [(env, default) for env, default, _ in SETTINGS])
def test_setting_is_in_env_example_with_its_default(env: str, default: str) -> None:
    line = f"{env}={default}"
    assert line in ENV_EXAMPLE.splitlines(), f"{line} is not in .env.example"


def test_the_table_reader_finds_rows_and_sections() -> None:
    text = "## A\n| `X_Y` | `1` | one |\n| not | a | row |\n## B\n| `Z` | (empty) | two |\n"
    assert table_rows(section(text, "A")) == {"X_Y": ["`1`", "one"]}
    assert table_rows(section(text, "B")) == {"Z": ["(empty)", "two"]}
