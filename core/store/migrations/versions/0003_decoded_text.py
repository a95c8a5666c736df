"""Papers stored before arxiv-digest decoded TeX: their titles, abstracts and author names, decoded.

Earlier versions stored `Schr\\"odinger`, `\\textbf{REXO}`, `99\\%` and `J\\'er\\^ome` as the feed wrote
them; the readers (RSS, Atom, JSONL) now decode them (core/fetch/tex.py, outside math only). This revision
decodes the papers already stored with the same functions, so older days read, and are found by /search,
as new ones are. On SQLite the FTS5 index is rewritten for each changed paper; on PostgreSQL the generated
`search` column follows by itself. Papers are read in batches by id; only changed rows are written.
The decoders are idempotent, so a paper stored already decoded is left as it is.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from alembic import op
from sqlalchemy import Connection, bindparam, text

from core.fetch.tex import decode_prose
from core.fetch.text import author_name

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 500  # papers read, decoded and written at a time


def decoded(row: Sequence[Any]) -> dict[str, str] | None:
    """The new text of one stored paper (arxiv_id, title, abstract, authors JSON), or None if unchanged (pure)."""
    arxiv_id, title, abstract, authors = row
    try:
        names = json.loads(authors)
    except ValueError:
        names = None
    new_names = [author_name(str(name)) for name in names] if isinstance(names, list) else names
    new = {"title": decode_prose(title), "abstract": decode_prose(abstract),
           "authors": json.dumps(new_names, ensure_ascii=False) if new_names != names else authors}
    if (new["title"], new["abstract"], new["authors"]) == (title, abstract, authors):
        return None
    # The search index's authors column: the names joined, as the store writes it (a row whose authors are not
    # a JSON list, which the store never writes, keeps its text there).
    return {"arxiv_id": arxiv_id, **new, "names": " ".join(map(str, new_names)) if isinstance(new_names, list)
            else authors}


def _rewrite(bind: Connection, changed: list[dict[str, str]]) -> None:
    bind.execute(text("UPDATE papers SET title = :title, abstract = :abstract, authors = :authors"
                      " WHERE arxiv_id = :arxiv_id"), changed)
    if bind.dialect.name == "sqlite":
        # One look-up of the batch's index rows: arxiv_id is not indexed in FTS5, so a DELETE by it would read
        # the whole index once per paper (70 s for 19,286 papers, 3,068 changed; by rowid 2.4 s).
        found = bind.execute(text("SELECT rowid FROM papers_fts WHERE arxiv_id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": [new["arxiv_id"] for new in changed]}).scalars().all()
        if found:
            bind.execute(text("DELETE FROM papers_fts WHERE rowid = :rowid"), [{"rowid": r} for r in found])
        bind.execute(text("INSERT INTO papers_fts (arxiv_id, title, abstract, authors)"
                          " VALUES (:arxiv_id, :title, :abstract, :names)"), changed)


def upgrade() -> None:
    bind = op.get_bind()
    after = ""
    while True:
        rows = bind.execute(text("SELECT arxiv_id, title, abstract, authors FROM papers WHERE arxiv_id > :after"
                                 " ORDER BY arxiv_id LIMIT :n"), {"after": after, "n": BATCH}).all()
        if not rows:
            return
        after = rows[-1][0]
        changed = [new for new in map(decoded, rows) if new is not None]
        if changed:
            _rewrite(bind, changed)


def downgrade() -> None:
    """Nothing to undo: decoded text reads the same to the earlier revision's code."""
