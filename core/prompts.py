"""Load prompt templates from `prompts/` and fill them in. No prompt text lives in code.

The repo's `prompts/` folder is installed as the package `arxiv_digest_data.prompts` (pyproject.toml maps
it), so templates are found with importlib.resources in an editable install and in a wheel alike.
A template is one Markdown file using `$name` placeholders (string.Template), so curly braces and
anything else inside paper text pass through untouched. This module never calls an LLM.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from core.errors import ConfigError

PROMPTS_PACKAGE = "arxiv_digest_data.prompts"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Prompt:
    """A loaded template. `version` changes whenever the text does, so it can key a score cache."""

    name: str
    text: str
    version: str

    @property
    def variables(self) -> frozenset[str]:
        """Return the placeholder names the template uses."""
        names = set()
        for match in string.Template.pattern.finditer(self.text):
            name = match.group("named") or match.group("braced")
            if name:
                names.add(name)
        return frozenset(names)

    def render(self, **variables: object) -> str:
        """Fill every placeholder; raise ConfigError naming any the caller did not supply."""
        missing = sorted(self.variables - variables.keys())
        if missing:
            raise ConfigError(f"prompt {self.name!r} needs {', '.join(missing)}")
        try:
            # Values are inserted verbatim: a `$` or `{` inside paper text is never re-read as a placeholder.
            return string.Template(self.text).substitute({k: str(v) for k, v in variables.items()})
        except ValueError as exc:  # a stray `$` in the template itself
            raise ConfigError(f"prompt {self.name!r} is not a valid template: {exc}") from exc


def prompts_dir() -> Traversable:
    """The installed templates folder; ConfigError when the package data is missing (a stale install)."""
    try:
        return resources.files(PROMPTS_PACKAGE)
    except ModuleNotFoundError:
        raise ConfigError(f"prompt templates not installed (package {PROMPTS_PACKAGE}): reinstall arxiv-digest, "
                          "e.g. `pip install -e .` in a checkout") from None


def load_prompt(name: str, root: Path | None = None) -> Prompt:
    """Read `<name>.md` from `root`, else from the installed templates; ConfigError when missing or empty."""
    if not NAME_RE.match(name):
        raise ConfigError(f"invalid prompt name {name!r}")
    path = (root or prompts_dir()) / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"prompt template not found: {path}") from exc
    except OSError as exc:
        raise ConfigError(f"prompt template unreadable: {path}: {exc}") from exc
    if not text.strip():
        raise ConfigError(f"prompt template is empty: {path}")
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Prompt(name=name, text=text, version=version)
