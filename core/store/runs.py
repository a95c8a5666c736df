"""The runs table: one row per scoring run of a listing day, and the day's token spending.

What a day's runs add up to (which run's times a digest shows) is decided by core/runs.py; this module
only records runs and reads them back.
"""

from __future__ import annotations

from datetime import date, datetime

from core.models import Run
from core.store.base import StoreBase
from core.store.rows import iso, to_run


class RunQueries(StoreBase):
    async def start_run(self, day: date, scorer_key: str, model: str, now: datetime) -> int:
        """Record that a run for `day` started; return its id."""
        row = await self._one(
            "INSERT INTO runs (day, scorer_key, model, started_at, status) VALUES (?, ?, ?, ?, 'running') RETURNING id",
            (day.isoformat(), scorer_key, model, iso(now)),
        )
        assert row is not None
        return int(row[0])

    async def finish_run(
        self, run_id: int, *, status: str, now: datetime, papers_read: int = 0, scored: int = 0,
        tokens_in: int = 0, tokens_out: int = 0, note: str = "",
    ) -> None:
        """Record a run's outcome."""
        await self._run(
            "UPDATE runs SET status = ?, finished_at = ?, papers_read = ?, scored = ?, tokens_in = ?,"
            " tokens_out = ?, note = ? WHERE id = ?",
            (status, iso(now), papers_read, scored, tokens_in, tokens_out, note, run_id),
        )

    async def runs_of_day(self, day: date) -> list[Run]:
        """Every finished run of listing day `day`, oldest first."""
        rows = await self._all("SELECT * FROM runs WHERE day = ? AND status != 'running' ORDER BY id",
                               (day.isoformat(),))
        return [to_run(row) for row in rows]

    async def tokens_spent(self, day: date) -> int:
        """Tokens spent on `day` (for the daily budget): its runs, plus summaries and interest profiles."""
        row = await self._one(
            "SELECT COALESCE((SELECT SUM(tokens_in + tokens_out) FROM runs WHERE day = ?), 0)"
            " + COALESCE((SELECT SUM(tokens_in + tokens_out) FROM llm_usage WHERE day = ?), 0)",
            (day.isoformat(), day.isoformat()),
        )
        return int(row[0]) if row else 0

    async def latest_run_day(self, at_or_before: date) -> date | None:
        """The newest listing day at or before `at_or_before` with a finished run that found an announcement."""
        row = await self._one("SELECT MAX(day) FROM runs WHERE status = 'done' AND day <= ?",
                              (at_or_before.isoformat(),))
        return date.fromisoformat(row[0]) if row and row[0] else None

    async def list_runs(self, limit: int = 30) -> list[Run]:
        """The most recent runs, newest first."""
        return [to_run(row) for row in await self._all("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]

    async def run_days(self) -> list[date]:
        """Every listing day with a finished run, oldest first."""
        rows = await self._all("SELECT DISTINCT day FROM runs WHERE status != 'running' ORDER BY day")
        return [date.fromisoformat(row[0]) for row in rows]
