"""The interest judgements table: one interests profile's LLM score of a paper, apart from field scores.

The table and its migration (version 3, which moved the judgements version 2 kept in `scores` under a
profile-prefixed scorer key) are in core/store/tables.py and legacy.py; this module owns the two queries over it. A
judgement belongs to a normalised interests profile (core/score/profile.py: `Profile.key`), never to a
chat, and is never a paper's field score: `scores_for_paper` and `/search` cannot see it. It must not
decide what a key means.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from core.models import Score
from core.store.base import StoreBase
from core.store.rows import iso, to_score


class JudgementQueries(StoreBase):
    async def save_judgements(
        self, profile_key: str, judge_key: str, scores: Iterable[Score], now: datetime,
    ) -> None:
        """Store one profile's judgements under `judge_key`, replacing earlier ones for the same papers."""
        await self._executemany(
            "INSERT INTO judgements (arxiv_id, profile_key, judge_key, field_slug, value, reason, stage,"
            " field_scores, reasons, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (arxiv_id, profile_key, judge_key) DO UPDATE SET field_slug = excluded.field_slug,"
            " value = excluded.value, reason = excluded.reason, stage = excluded.stage,"
            " field_scores = excluded.field_scores, reasons = excluded.reasons, created_at = excluded.created_at",
            [
                (s.arxiv_id, profile_key, judge_key, s.field_slug, s.value, s.reason, s.stage,
                 json.dumps(dict(s.field_scores), ensure_ascii=False),
                 json.dumps(dict(s.reasons), ensure_ascii=False, sort_keys=True), iso(now))
                for s in scores
            ],
        )

    async def get_judgements(self, profile_key: str, judge_key: str, ids: Sequence[str]) -> dict[str, Score]:
        """One profile's stored judgements under `judge_key` for the papers among `ids`."""
        rows = await self._select_in(
            "SELECT * FROM judgements WHERE profile_key = ? AND judge_key = ? AND arxiv_id IN ({ids})",
            ids, (profile_key, judge_key),
        )
        return {row["arxiv_id"]: to_score(row) for row in rows}
