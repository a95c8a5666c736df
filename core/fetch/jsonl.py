"""Papers from local JSONL files shaped like data/arxiv/*.jsonl (and data/dev-labelled, which adds `label`).

Reads files only; no network, no scoring. A bad line stops the load with a SourceError naming
file:line, so a broken sample never half-loads. Keys this loader does not use (`label`,
`source_repo`) are ignored.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from core.errors import SourceError
from core.fetch.ids import normalize_arxiv_id
from core.fetch.tex import decode_prose
from core.fetch.text import author_name
from core.models import Paper


def load_papers(path: Path) -> list[Paper]:
    """Load the papers of one JSONL file, or of every *.jsonl in a folder in name order."""
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise SourceError(f"{path}: no *.jsonl files in this folder")
    elif path.is_file():
        files = [path]
    else:
        raise SourceError(f"{path}: no such file or folder")
    papers: list[Paper] = []
    for file in files:
        papers.extend(_load_file(file))
    return papers


def _load_file(file: Path) -> list[Paper]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{file}: cannot read: {exc}") from exc
    papers = []
    # split("\n"), not splitlines(): U+2028 and friends may appear raw inside a JSON string.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            papers.append(parse_paper_line(line))
        except ValueError as exc:
            raise SourceError(f"{file}:{lineno}: {exc}") from exc
    return papers


def _text(record: dict[str, object], key: str, *, required: bool = True) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"{key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _texts(record: dict[str, object], key: str) -> tuple[str, ...]:
    value = record.get(key)
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"{key!r} must be a list of strings, got {value!r}")
    return tuple(x.strip() for x in value if x.strip())


def parse_paper_line(line: str) -> Paper:
    """Turn one JSONL line into a Paper (version 1, announce type "new"); raise ValueError if it is not."""
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    raw_id = _text(record, "id")
    arxiv_id = normalize_arxiv_id(raw_id)
    if arxiv_id is None:
        raise ValueError(f"'id' is not an arXiv id: {raw_id!r}")
    categories = _texts(record, "categories")
    primary = _text(record, "primary_category", required=False) or (categories[0] if categories else "")
    if not primary:
        raise ValueError("no 'primary_category' and no 'categories'")
    published = _text(record, "published")
    try:
        day = date.fromisoformat(published)
    except ValueError:
        raise ValueError(f"'published' must be a date like 2025-12-22, got {published!r}") from None
    return Paper(
        arxiv_id=arxiv_id,
        title=decode_prose(_text(record, "title")),
        abstract=decode_prose(_text(record, "abstract", required=False)),
        authors=tuple(author_name(name) for name in _texts(record, "authors")),
        categories=categories,
        primary_category=primary,
        published=day,
        version=1,
        announce_type="new",
        comment=_text(record, "comment", required=False),
    )
