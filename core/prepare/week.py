"""A week of scored days as the store holds them: what the weekly digest (core/build/weekly.py) starts from.

Owns which days make "the past week" and reading them (`load_week`), and a chat's own signals over the
week (`prepare_week_reader`: its votes and follows, and its /interests judged for each day, which the
daily runs have cached). It must not score the days, decide what a reader sees or read the
clock: `now` is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.models import Field, Paper, Score, Subscription
from core.prepare.day import DayContext, latest_digest_day, load_day
from core.prepare.reader import load_feedback, score_interests
from core.score.feedback import Feedback
from core.score.profile import parse_interests
from core.services import Services

WEEK_DAYS = 7


@dataclass(frozen=True, slots=True)
class WeekContext:
    """The scored listing days of one week (oldest first), and the papers of the week before it (for the
    week's rising terms)."""

    start: date
    end: date
    days: tuple[DayContext, ...]
    before: tuple[tuple[Paper, Score], ...]

    @property
    def scored(self) -> tuple[tuple[Paper, Score], ...]:
        return tuple(ps for ctx in self.days for ps in ctx.scored)


async def _days(services: Services, start: date, end: date) -> list[DayContext]:
    found = []
    day = start
    while day <= end:
        ctx = await load_day(services, day)
        if ctx is not None:
            found.append(ctx)
        day += timedelta(days=1)
    return found


async def load_week(services: Services, end: date) -> WeekContext:
    """The seven calendar days ending at `end` (the listing days among them that were scored), and the
    seven before them."""
    start = end - timedelta(days=WEEK_DAYS - 1)
    days = await _days(services, start, end)
    before = await _days(services, start - timedelta(days=WEEK_DAYS), start - timedelta(days=1))
    return WeekContext(start, end, tuple(days), tuple(ps for ctx in before for ps in ctx.scored))


async def week_for(services: Services, now: datetime) -> WeekContext | None:
    """The past week at `now`: the seven days ending at "today"'s listing day (core/prepare/day.py), or None
    when no day was scored yet."""
    end = await latest_digest_day(services, now)
    return None if end is None else await load_week(services, end)


@dataclass(frozen=True, slots=True)
class WeekReader:
    """A chat's own signals over a week: its interests as a field and their scores on each day (empty without
    interests), its votes and follows, and the topics its interests avoid."""

    interests: Field | None = None
    interest_scores: tuple[tuple[Paper, Score], ...] = ()
    feedback: Feedback | None = None
    avoid: tuple[str, ...] = ()


async def prepare_week_reader(services: Services, sub: Subscription, week: WeekContext, *, now: datetime) -> WeekReader:
    """Gather what `sub`'s weekly digest needs beyond the stored scores. Each day's interest judgement is the
    one its digests used (cached by the daily run); a day judged for no chat with these interests is judged
    now, or scored offline without an LLM."""
    profile = parse_interests(sub.interests)
    scored: list[tuple[Paper, Score]] = []
    if profile.has_interests:
        for ctx in week.days:
            scored.extend(await score_interests(services, sub.interests, ctx.day, now=now, ctx=ctx))
    return WeekReader(profile.field() if profile.has_interests else None, tuple(scored),
                      await load_feedback(services, sub.chat), tuple(profile.avoid))
