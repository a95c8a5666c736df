"""The fields and scores tables: field definitions as scored against, and scores per (paper, scorer key).

Which scorer key a day is read under is the caller's decision (see core/runs.py); this module only
stores and reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from core.listing import LOOKUP
from core.models import Field, Paper, Score
from core.store.base import StoreBase
from core.store.rows import iso, to_paper, to_score


class ScoreQueries(StoreBase):
    async def save_fields(self, fields: Sequence[Field], now: datetime) -> None:
        """Upsert the current field definitions (kept for reference by scores and subscriptions)."""
        await self._executemany(
            "INSERT INTO fields (slug, name_zh, name_en, description_zh, description_en, keywords, ignore,"
            " fingerprint, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(slug) DO UPDATE SET"
            " name_zh=excluded.name_zh, name_en=excluded.name_en, description_zh=excluded.description_zh,"
            " description_en=excluded.description_en, keywords=excluded.keywords, ignore=excluded.ignore,"
            " fingerprint=excluded.fingerprint, updated_at=excluded.updated_at"
            " WHERE fields.fingerprint != excluded.fingerprint",
            [
                (f.slug, f.name_zh, f.name_en, f.description_zh, f.description_en,
                 json.dumps(f.keywords, ensure_ascii=False), json.dumps(f.ignore, ensure_ascii=False),
                 f.fingerprint, iso(now))
                for f in fields
            ],
        )

    async def field_slugs(self) -> list[str]:
        """The slug of every field ever saved, sorted."""
        return [row["slug"] for row in await self._all("SELECT slug FROM fields ORDER BY slug")]

    async def save_scores(self, scorer_key: str, scores: Iterable[Score], now: datetime) -> None:
        """Store scores under `scorer_key`, replacing earlier ones for the same papers."""
        await self._executemany(
            "INSERT INTO scores (arxiv_id, scorer_key, field_slug, value, reason, stage, field_scores,"
            " reasons, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (arxiv_id, scorer_key) DO UPDATE SET"
            " field_slug = excluded.field_slug, value = excluded.value, reason = excluded.reason,"
            " stage = excluded.stage, field_scores = excluded.field_scores, reasons = excluded.reasons,"
            " created_at = excluded.created_at",
            [
                (s.arxiv_id, scorer_key, s.field_slug, s.value, s.reason, s.stage,
                 json.dumps(dict(s.field_scores), ensure_ascii=False),
                 json.dumps(dict(s.reasons), ensure_ascii=False, sort_keys=True), iso(now))
                for s in scores
            ],
        )

    async def get_scores(self, scorer_key: str, ids: Sequence[str]) -> dict[str, Score]:
        """Return stored scores under `scorer_key` for the papers among `ids`."""
        rows = await self._select_in(
            "SELECT * FROM scores WHERE scorer_key = ? AND arxiv_id IN ({ids})", ids, (scorer_key,)
        )
        return {row["arxiv_id"]: to_score(row) for row in rows}

    async def scores_for_paper(self, arxiv_id: str) -> dict[str, Score]:
        """Every stored score of one paper, keyed by scorer key, newest first."""
        rows = await self._all("SELECT * FROM scores WHERE arxiv_id = ? ORDER BY created_at DESC", (arxiv_id,))
        return {row["scorer_key"]: to_score(row) for row in rows}

    async def scored_papers(self, day: date, scorer_key: str) -> list[tuple[Paper, Score]]:
        """The papers of `day` with their score under `scorer_key` (unscored papers are left out)."""
        rows = await self._all(
            "SELECT p.*, s.field_slug, s.value, s.reason, s.stage, s.field_scores, s.reasons FROM papers p"
            " JOIN scores s ON s.arxiv_id = p.arxiv_id AND s.scorer_key = ?"
            " WHERE p.published = ? AND p.announce_type != ? ORDER BY p.arxiv_id",
            (scorer_key, day.isoformat(), LOOKUP),
        )
        return [(to_paper(row), to_score(row)) for row in rows]
