"""A scored day as the store holds it: what every reader view of that day starts from.

Owns reading a day's latest run and its scored papers (`load_day`), and which day is "today" for readers
and for a delivery pass (`latest_digest_day`, `delivery_day`). It must not score, call the LLM or
decide what a reader sees: core/prepare/reader.py prepares a reader, core/build/reader.py builds the
digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.build.digest import OFFLINE_MODEL
from core.calendar import announced_at, is_announcement_weekday, latest_listing_day
from core.models import LLMShare, Paper, Run, Score
from core.runs import llm_share, summarise_runs
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

    @property
    def llm(self) -> LLMShare | None:
        """How the LLM fared on the day's papers, from their stored score stages (None: no LLM scored it)."""
        if self.summary.model == OFFLINE_MODEL:
            return None
        return llm_share(s for _, s in self.scored)

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


async def latest_digest_day(services: Services, now: datetime) -> date | None:
    """Which day is "today" at `now`: the newest listing day with a finished run that found an announcement,
    at or before the newest listing arXiv has announced (core/calendar.py), whatever day was run last.

    So back-filling an older day (`run --date`, `run --input` of an old file) never makes it "today",
    and a day run ahead of its announcement (a sample file's) waits for it.
    """
    return await services.store.latest_run_day(latest_listing_day(now))


def _next_listing_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_announcement_weekday(day):
        day += timedelta(days=1)
    return day


async def delivery_day(services: Services, now: datetime) -> tuple[date | None, str]:
    """The day a delivery pass sends at `now` unless told otherwise, or why it sends none.

    The newest announced listing day with a finished run (`latest_digest_day`), never
    simply the last day run. A day first scored only after a newer listing was announced was back-filled
    (`run --date`, `run --input` of an old file): it is never pushed on its own; `deliver --date` sends it.
    """
    day = await latest_digest_day(services, now)
    if day is None:
        return None, "no scored day yet"
    runs = [r for r in await services.store.runs_of_day(day) if r.status == "done"]
    superseded = announced_at(_next_listing_day(day))
    if runs and min(r.started_at for r in runs) >= superseded:
        return None, (f"{day} was scored after a newer listing was announced (a back-fill): not pushed;"
                      f" deliver --date {day} sends it")
    return day, ""
