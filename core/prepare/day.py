"""A scored day as the store holds it: what every reader view of that day starts from.

Owns reading a day's latest run and its scored papers (`load_day`) and finding the latest day that has
one. It must not score, call the LLM or decide what a reader sees: core/prepare/reader.py prepares a
reader, core/build/reader.py builds the digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.models import Paper, Run, Score
from core.runs import summarise_runs
from core.services import Services


@dataclass(frozen=True, slots=True)
class DayContext:
    """A scored day as the store holds it: the run summary and every paper with its score."""

    day: date
    summary: Run
    scored: tuple[tuple[Paper, Score], ...]

    @property
    def announced(self) -> bool:
        return self.summary.status != "no-announcement" or bool(self.scored)

    def field_best(self) -> dict[str, float]:
        """Each paper's field score on the day's run (0 when it has none)."""
        return {p.arxiv_id: s.value or 0.0 for p, s in self.scored}


async def load_day(services: Services, day: date) -> DayContext | None:
    """Read a day's latest run and scores from the store; None when no run has finished for it."""
    summary = summarise_runs(day, await services.store.runs_of_day(day))
    if summary is None:
        return None
    scored = await services.store.scored_papers(day, summary.scorer_key) if summary.scorer_key else []
    return DayContext(day, summary, tuple(scored))


async def latest_digest_day(services: Services) -> date | None:
    """The most recent listing day that has a finished run."""
    runs = await services.store.list_runs(limit=1)
    return runs[0].day if runs else None
