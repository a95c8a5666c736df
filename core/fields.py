"""Load and validate field definitions from `data/fields/*.toml`. Pure apart from reading the files.

The repo's `data/fields/` is installed as the package `arxiv_digest_data.fields` (pyproject.toml maps it):
with FIELDS_PATH unset, `load_fields(None)` reads those shipped defaults with importlib.resources.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from core.errors import ConfigError
from core.models import Field

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
TERM_WEIGHT_RE = re.compile(r"^(?P<phrase>.*?)\s*\^\s*(?P<weight>-?\d+(?:\.\d+)?)$")
FIELDS_PACKAGE = "arxiv_digest_data.fields"


def parse_term(text: str) -> tuple[str, float]:
    """Split a `terms` entry such as "KV cache^3" into its phrase and weight (1 when not given)."""
    text = text.strip()
    match = TERM_WEIGHT_RE.match(text)
    phrase, weight = (match["phrase"].strip(), float(match["weight"])) if match else (text, 1.0)
    if "^" in phrase:
        raise ValueError(f"term {text!r}: the weight goes last, as in \"phrase^2\"")
    if not any(ch.isalnum() for ch in phrase):
        raise ValueError(f"term {text!r} has no words")
    if "*" in phrase.rstrip("*") or phrase.endswith("**"):
        raise ValueError(f"term {text!r}: \"*\" may only end the phrase, as in \"quantiz*\"")
    if weight > 10 or weight < -10:
        raise ValueError(f"term {text!r}: weight must be between -10 and 10")
    return phrase, weight


def parse_fields(text: str, source: str = "<fields>") -> list[Field]:
    """Parse one TOML document of [[field]] tables into Fields; raise ConfigError naming the source."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    tables = doc.get("field", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: expected [[field]] tables")
    fields = []
    for i, t in enumerate(tables, 1):
        where = f"{source}: field #{i}"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: expected a table")
        slug = str(t.get("slug", ""))
        if not SLUG_RE.match(slug):
            raise ConfigError(f"{where}: slug {slug!r} must be lowercase letters, digits and dashes")
        missing = [k for k in ("name_en", "description_en") if not str(t.get(k, "")).strip()]
        if missing:
            raise ConfigError(f"{where} ({slug}): missing {', '.join(missing)}")
        for key in ("keywords", "ignore", "terms"):
            if not isinstance(t.get(key, []), list):
                raise ConfigError(f"{where} ({slug}): {key} must be a list of strings")
        terms = tuple(str(k).strip() for k in t.get("terms", []) if str(k).strip())
        for term in terms:
            try:
                parse_term(term)
            except ValueError as exc:
                raise ConfigError(f"{where} ({slug}): {exc}") from exc
        fields.append(
            Field(
                slug=slug,
                name_zh=str(t.get("name_zh") or t["name_en"]).strip(),
                name_en=str(t["name_en"]).strip(),
                description_zh=str(t.get("description_zh") or t["description_en"]).strip(),
                description_en=str(t["description_en"]).strip(),
                keywords=tuple(str(k).strip() for k in t.get("keywords", []) if str(k).strip()),
                ignore=tuple(str(k).strip() for k in t.get("ignore", []) if str(k).strip()),
                terms=terms,
            )
        )
    return fields


def check_unique(fields: Sequence[Field]) -> None:
    """Raise ConfigError when two fields share a slug or no field is defined."""
    if not fields:
        raise ConfigError("no fields are defined")
    seen: set[str] = set()
    for f in fields:
        if f.slug in seen:
            raise ConfigError(f"field slug {f.slug!r} is defined twice")
        seen.add(f.slug)


def shipped_fields() -> Traversable:
    """The default fields' folder as installed; ConfigError when the package data is missing."""
    try:
        return resources.files(FIELDS_PACKAGE)
    except ModuleNotFoundError:
        raise ConfigError(f"default fields not installed (package {FIELDS_PACKAGE}): set FIELDS_PATH or reinstall "
                          "arxiv-digest, e.g. `pip install -e .` in a checkout") from None


def read_fields_file(path: Path | Traversable) -> str:
    """The text of one fields file: UTF-8, with or without a byte-order mark (Windows editors add one)."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 (byte {exc.start} is 0x{exc.object[exc.start]:02x}); save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read fields file {path}: {exc.strerror or exc}") from None


def load_fields(path: Path | None = None) -> list[Field]:
    """Read a .toml file, or every .toml file in a folder (sorted by name), and validate the result.

    None (FIELDS_PATH unset) reads the shipped default fields.
    """
    files: Sequence[Traversable]
    if path is None:
        files = sorted((f for f in shipped_fields().iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)
    elif path.is_dir():
        files = sorted(path.glob("*.toml"))
    elif path.is_file():
        files = [path]
    else:
        raise ConfigError(f"fields file not found: {path}")
    fields: list[Field] = []
    for f in files:
        fields.extend(parse_fields(read_fields_file(f), str(f)))
    check_unique(fields)
    return fields
