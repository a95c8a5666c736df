"""What a day's runs add up to: the facts a digest header shows.

A listing day can be run more than once (a re-run, a retry after a failure, another scorer). The
store keeps every run; this module decides which one speaks for the day. Pure: no IO, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from core.models import Run


def summarise_runs(day: date, runs: Sequence[Run]) -> Run | None:
    """Fold `day`'s finished runs (oldest first) into one Run; None when there are none.

    Tokens and papers scored are summed over every run, papers read is the largest count, and the
    model, scorer key and status are the newest run's. Times and the note come from the last run of
    that scorer which scored anything, so a re-run that found everything cached reproduces the same
    digest.
    """
    if not runs:
        return None
    latest = runs[-1]
    same = [r for r in runs if r.scorer_key == latest.scorer_key]
    last = ([r for r in same if r.scored > 0] or same[:1])[-1]
    return Run(
        day=day,
        papers_read=max(r.papers_read for r in runs),
        tokens_in=sum(r.tokens_in for r in runs),
        tokens_out=sum(r.tokens_out for r in runs),
        model=latest.model,
        scorer_key=latest.scorer_key,
        started_at=last.started_at,
        finished_at=last.finished_at,
        status=latest.status,
        note=last.note,
        scored=sum(r.scored for r in runs),
    )
