"""Reader views of a scored day: a subscriber's digest (`/today`) and the day's own digest (the Markdown file),
and of a scored week: a chat's weekly digest with its chart (`/weekly`, the weekly job).

Each is load -> prepare (core/prepare/reader.py: every LLM step, once) -> build (core/build/reader.py:
pure, once). It must not score a day, write files or read the clock: `now` is a parameter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from core.build.reader import PreparedReader, Reader, build_reader_digest
from core.build.weekly import WeeklyDigest, build_weekly
from core.models import Digest, Subscription
from core.prepare.day import latest_digest_day, load_day
from core.prepare.reader import load_feedback, prepare_reader
from core.prepare.week import WeekContext, prepare_week_reader, week_for
from core.services import Services

if TYPE_CHECKING:
    from core.build.chart import Chart


async def digest_for_subscription(
    services: Services, sub: Subscription, *, now: datetime, day: date | None = None,
) -> Digest | None:
    """One subscriber's digest for `day` (default: "today" at `now`, the newest announced listing day with a
    finished run, never simply the last day run): their fields, interests, votes and threshold."""
    day = day or await latest_digest_day(services, now)
    if day is None:
        return None
    ctx = await load_day(services, day)
    if ctx is None:
        return None
    feedback = await load_feedback(services, sub.chat)
    prepared = await prepare_reader(services, Reader.of(sub), ctx, now=now, feedback=feedback)
    return build_reader_digest(prepared)


async def build_day_digest(
    services: Services,
    day: date,
    *,
    lang: str,
    min_score: float,
    field_slugs: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Digest | None:
    """Build a digest for `day` from the store, with the scores of the day's latest run (no LLM step).

    Returns None when no run has happened for that day yet. A day whose run found no
    announcement gives a digest with `announced=False`.
    """
    ctx = await load_day(services, day)
    if ctx is None:
        return None
    reader = Reader(lang, min_score, tuple(field_slugs))
    return build_reader_digest(PreparedReader(ctx, reader, services.fields, services.settings.digest_max_per_field,
                                              notes=tuple(notes)))


async def weekly_for_subscription(
    services: Services, sub: Subscription, *, now: datetime, week: WeekContext | None = None,
    charts: dict[tuple[object, ...], Chart] | None = None,
) -> tuple[WeeklyDigest, Chart] | None:
    """A chat's weekly digest at `now` (the seven days ending at "today"'s listing day; its fields,
    threshold, interests, votes and follows) and its chart, or None when no day was scored yet. The chart is
    drawn off the event loop.

    A caller serving many chats passes the `week` it loaded once and a `charts` cache: the chart draws the
    fields' week (their counts, the rising terms), never a chat's own signals, so chats with the same
    language, threshold and fields share it."""
    from core.build.chart import render_chart  # matplotlib: imported when a chart is drawn, not by every CLI start
    week = week or await week_for(services, now)
    if week is None:
        return None
    fields = [f for f in services.fields if not sub.fields or f.slug in sub.fields]
    mine = await prepare_week_reader(services, sub, week, now=now)
    weekly = build_weekly(week.start, week.end, [(ctx.day, ctx.scored) for ctx in week.days], week.before, fields,
                          lang=sub.lang, min_score=sub.min_score, interests=mine.interests,
                          interest_scores=mine.interest_scores, feedback=mine.feedback, avoid=mine.avoid)
    charts = {} if charts is None else charts
    key = (sub.lang, sub.min_score, tuple(f.slug for f in fields))
    if key not in charts:
        charts[key] = await asyncio.to_thread(render_chart, weekly)
    return weekly, charts[key]
