"""The interest judgements table: one interests profile's LLM score of a paper, apart from field scores.

Owns migration 3 (the table, and moving the judgements that version 2 kept in `scores` under a
profile-prefixed scorer key) and the two queries over the table. A judgement belongs to a normalised
interests profile (core/score/interests.py: `Profile.key`), never to a chat, and is never a paper's field
score: `scores_for_paper` and `/search` cannot see it. It must not decide what a key means.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from core.models import Score

# Version 3: interest judgements in their own table. Version 2 stored them in `scores` under the scorer key
# "interests:<profile key (16 hex)>:<judge key (12 hex)>"; the migration splits that key once, here, and
# moves the rows, so no code needs to know that spelling again.
JUDGEMENTS = """
CREATE TABLE IF NOT EXISTS judgements (
    arxiv_id TEXT NOT NULL REFERENCES papers(arxiv_id),
    profile_key TEXT NOT NULL,      -- the normalised interests profile
    judge_key TEXT NOT NULL,        -- model + prompt version + summary key + language
    field_slug TEXT,
    value REAL,
    reason TEXT NOT NULL,
    stage TEXT NOT NULL,
    field_scores TEXT NOT NULL,     -- JSON object slug -> value
    created_at TEXT NOT NULL,
    PRIMARY KEY (arxiv_id, profile_key, judge_key)
);

INSERT OR REPLACE INTO judgements
    (arxiv_id, profile_key, judge_key, field_slug, value, reason, stage, field_scores, created_at)
SELECT arxiv_id, substr(scorer_key, 11, 16), substr(scorer_key, 28), field_slug, value, reason, stage,
       field_scores, created_at
FROM scores WHERE scorer_key LIKE 'interests:%';

DELETE FROM scores WHERE scorer_key LIKE 'interests:%';
"""

_CHUNK = 500


class JudgementQueries:
    """Store's queries over `judgements` (mixed into core.store.Store, which provides the connection)."""

    _db: aiosqlite.Connection

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:  # pragma: no cover
        raise NotImplementedError  # Store's own, which closes its cursor in aiosqlite's thread

    async def save_judgements(
        self, profile_key: str, judge_key: str, scores: Iterable[Score], now: datetime,
    ) -> None:
        """Store one profile's judgements under `judge_key`, replacing earlier ones for the same papers."""
        await self._executemany(
            "INSERT OR REPLACE INTO judgements (arxiv_id, profile_key, judge_key, field_slug, value, reason, stage,"
            " field_scores, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (s.arxiv_id, profile_key, judge_key, s.field_slug, s.value, s.reason, s.stage,
                 json.dumps(dict(s.field_scores), ensure_ascii=False),
                 now.astimezone(UTC).isoformat(timespec="seconds"))
                for s in scores
            ],
        )
        await self._db.commit()

    async def get_judgements(self, profile_key: str, judge_key: str, ids: Sequence[str]) -> dict[str, Score]:
        """One profile's stored judgements under `judge_key` for the papers among `ids`."""
        out: dict[str, Score] = {}
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(
                "SELECT * FROM judgements WHERE profile_key = ? AND judge_key = ?"
                f" AND arxiv_id IN ({marks})", (profile_key, judge_key, *chunk),
            ) as cur:
                async for row in cur:
                    out[row["arxiv_id"]] = Score(
                        arxiv_id=row["arxiv_id"], field_slug=row["field_slug"], value=row["value"],
                        reason=row["reason"], stage=row["stage"], field_scores=json.loads(row["field_scores"]),
                    )
        return out
