"""The papers table and its full-text index: storing a listing's papers, reading them back, searching.

Which papers a listing adds or claims is decided by core/listing.py; this module only reads what is
stored and performs those writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from core.listing import LOOKUP, plan_paper_writes
from core.models import Paper
from core.searchwords import search_words
from core.store.base import StoreBase, Tx
from core.store.rows import iso, to_paper


def fts_query(words: str) -> str:
    """Turn free words into a safe FTS5 query: every word quoted, all required (pure)."""
    return " ".join(f'"{t}"' for t in search_words(words))


def ts_terms(words: str) -> list[tuple[str, ...]]:
    """The words of `fts_query` for PostgreSQL (pure): each word quoted, with a word of several parts
    ("fine-tuning") also as the phrase of its parts ("fine tuning"), as FTS5's tokenizer reads it; either
    spelling matches. Every word is required."""
    terms: list[tuple[str, ...]] = []
    for word in search_words(words):
        parts = " ".join(part for part in re.split(r"[\W_]+", word) if part)
        if parts:
            terms.append((f'"{word}"',) if parts == word else (f'"{word}"', f'"{parts}"'))
    return terms


class PaperQueries(StoreBase):
    async def save_papers(self, papers: Iterable[Paper], now: datetime) -> list[Paper]:
        """Store a batch of papers in one transaction as `plan_paper_writes` decides; return those written."""
        papers = list(papers)
        writes = plan_paper_writes(papers, await self.stored_types([p.arxiv_id for p in papers]))
        async with self._tx() as tx:
            await self._promote_lookups(tx, writes.promote)
            await self._insert_papers(tx, writes.new, now)
        return writes.written

    async def stored_types(self, ids: Iterable[str]) -> dict[str, str]:
        """Map each id among `ids` that is stored to its announce type."""
        rows = await self._select_in("SELECT arxiv_id, announce_type FROM papers WHERE arxiv_id IN ({ids})", ids)
        return {row["arxiv_id"]: row["announce_type"] for row in rows}

    async def _insert_papers(self, tx: Tx, papers: Sequence[Paper], now: datetime) -> None:
        """Insert papers not stored yet, and index them for search (PostgreSQL indexes them by itself)."""
        await tx.many(
            "INSERT INTO papers (arxiv_id, version, title, abstract, authors, categories, primary_category,"
            " published, announce_type, first_seen, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            # PostgreSQL: another instance may have stored the paper since `stored_types` read (a /paper
            # lookup on two instances at once); its row stands. SQLite: one process at a time (the run lock).
            + (" ON CONFLICT (arxiv_id) DO NOTHING" if self._postgres else ""),
            [
                (p.arxiv_id, p.version, p.title, p.abstract, json.dumps(p.authors, ensure_ascii=False),
                 json.dumps(p.categories), p.primary_category, p.published.isoformat(), p.announce_type, iso(now),
                 p.comment)
                for p in papers
            ],
        )
        if self._postgres:
            return  # papers.search is a generated column
        await tx.many(
            "INSERT INTO papers_fts (arxiv_id, title, abstract, authors) VALUES (?, ?, ?, ?)",
            [(p.arxiv_id, p.title, p.abstract, " ".join(p.authors)) for p in papers],
        )

    async def _promote_lookups(self, tx: Tx, papers: Sequence[Paper]) -> None:
        """Give stored papers the listing day, announce type and version of `papers`."""
        await tx.many(
            "UPDATE papers SET published = ?, announce_type = ?,"
            " version = CASE WHEN version > ? THEN version ELSE ? END,"
            " comment = CASE WHEN ? != '' THEN ? ELSE comment END WHERE arxiv_id = ?",
            [(p.published.isoformat(), p.announce_type, p.version, p.version, p.comment, p.comment, p.arxiv_id)
             for p in papers],
        )

    async def known_ids(self, ids: Sequence[str]) -> dict[str, date]:
        """Map each id among `ids` that a listing already announced to its listing day."""
        rows = await self._select_in(
            "SELECT arxiv_id, published FROM papers WHERE announce_type != ? AND arxiv_id IN ({ids})", ids, (LOOKUP,)
        )
        return {row["arxiv_id"]: date.fromisoformat(row["published"]) for row in rows}

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        """Return one stored paper, or None."""
        row = await self._one("SELECT * FROM papers WHERE arxiv_id = ?", (arxiv_id,))
        return to_paper(row) if row else None

    async def papers_for_day(self, day: date) -> list[Paper]:
        """Every paper stored under listing day `day`, by id."""
        rows = await self._all(
            "SELECT * FROM papers WHERE published = ? AND announce_type != ? ORDER BY arxiv_id",
            (day.isoformat(), LOOKUP),
        )
        return [to_paper(row) for row in rows]

    async def count_papers(self, day: date | None = None) -> int:
        """How many papers listings announced, on `day` or on any day."""
        sql = "SELECT COUNT(*) FROM papers WHERE announce_type != ?"
        args: tuple[str, ...] = (LOOKUP,)
        if day is not None:
            sql, args = sql + " AND published = ?", (*args, day.isoformat())
        row = await self._one(sql, args)
        return int(row[0]) if row else 0

    async def search(self, words: str, limit: int = 10) -> list[Paper]:
        """Full-text search over title, abstract and authors; best match first.

        Every word but the common ones (SEARCH_STOP) is required; a query of common words alone finds nothing
        (the command layer says why: `search_words`). SQLite: FTS5 (porter stemming) ranked by bm25 with
        title > abstract > authors; PostgreSQL: the `search` tsvector (English stemming, the same three
        weights) ranked by ts_rank_cd. The same papers match; their order may differ (docs/search-ranking.md).
        """
        query = fts_query(words)
        if not query:
            return []
        if self._postgres:
            terms = ts_terms(words)
            tsquery = " && ".join(
                "(" + " || ".join("websearch_to_tsquery('english', ?)" for _ in term) + ")" for term in terms)
            spellings = [spelling for term in terms for spelling in term]
            rows = await self._all(
                f"SELECT * FROM papers WHERE search @@ ({tsquery})"
                f" ORDER BY ts_rank_cd(search, {tsquery}) DESC, published DESC, arxiv_id LIMIT ?",
                (*spellings, *spellings, limit),
            )
        else:
            rows = await self._all(
                "SELECT p.* FROM papers_fts f JOIN papers p ON p.arxiv_id = f.arxiv_id WHERE papers_fts MATCH ?"
                " ORDER BY bm25(papers_fts, 0, 10.0, 3.0, 2.0), p.published DESC LIMIT ?",
                (query, limit),
            )
        return [to_paper(row) for row in rows]
