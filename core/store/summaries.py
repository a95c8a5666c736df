"""The summaries and llm_usage tables: per-language LLM summaries of papers, and the tokens spent on
LLM work outside the daily field run (summaries, interest profiles).

Whether a summary is worth storing or an LLM call fits the budget is decided by core/score/; this module
only stores and reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from core.models import Summary
from core.store.base import StoreBase
from core.store.rows import iso


class SummaryQueries(StoreBase):
    async def save_summaries(self, summary_key: str, summaries: Iterable[Summary], now: datetime) -> None:
        """Store LLM summaries under `summary_key`; excerpts are never stored (they cost nothing)."""
        await self._executemany(
            "INSERT INTO summaries (arxiv_id, lang, summary_key, text, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (arxiv_id, lang, summary_key) DO UPDATE SET text = excluded.text,"
            " created_at = excluded.created_at",
            [(s.arxiv_id, s.lang, summary_key, s.text, iso(now)) for s in summaries if s.source == "llm"],
        )

    async def get_summaries(self, summary_key: str, lang: str, ids: Sequence[str]) -> dict[str, Summary]:
        """Return stored summaries in `lang` under `summary_key` for the papers among `ids`."""
        rows = await self._select_in(
            "SELECT arxiv_id, text FROM summaries WHERE summary_key = ? AND lang = ? AND arxiv_id IN ({ids})",
            ids, (summary_key, lang),
        )
        return {row["arxiv_id"]: Summary(row["arxiv_id"], lang, row["text"], "llm") for row in rows}

    async def add_usage(
        self, day: date, purpose: str, *, tokens_in: int, tokens_out: int, requests: int, now: datetime,
    ) -> None:
        """Add LLM usage for `purpose` ("summaries", "interests") to `day`'s tally."""
        if not (tokens_in or tokens_out or requests):
            return
        await self._run(
            "INSERT INTO llm_usage (day, purpose, tokens_in, tokens_out, requests, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(day, purpose)"
            " DO UPDATE SET tokens_in = llm_usage.tokens_in + excluded.tokens_in,"
            " tokens_out = llm_usage.tokens_out + excluded.tokens_out,"
            " requests = llm_usage.requests + excluded.requests,"
            " updated_at = excluded.updated_at",
            (day.isoformat(), purpose, tokens_in, tokens_out, requests, iso(now)),
        )

    async def usage_for_day(self, day: date) -> dict[str, tuple[int, int, int]]:
        """`day`'s LLM usage outside the field run: purpose -> (tokens_in, tokens_out, requests)."""
        rows = await self._all(
            "SELECT purpose, tokens_in, tokens_out, requests FROM llm_usage WHERE day = ? ORDER BY purpose",
            (day.isoformat(),),
        )
        return {row["purpose"]: (int(row["tokens_in"]), int(row["tokens_out"]), int(row["requests"]))
                for row in rows}
