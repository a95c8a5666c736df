"""What a day's runs add up to: the facts a digest header shows.

A listing day can be run more than once (a re-run, a retry after a failure, another scorer). The
store keeps every run; this module decides which one speaks for the day. Pure: no IO, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from core.models import LLMShare, Run, Score

# Score stages of the papers the LLM was meant to judge: judged, fell back after failures or refusals,
# or never sent because the day's token budget was spent (core/score/llm.py sets them).
LLM_STAGE, FAILED_STAGE, BUDGET_STAGE = "llm", "offline-fallback", "offline-budget"
# Why a run found no announcement: the code a run's note stores, in words for the operator.
NO_ANNOUNCEMENT = {
    "stale-feed": "stale feed: every paper was listed on an earlier day",
    "empty-listing": "empty listing",
}


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


def llm_share(scores: Iterable[Score]) -> LLMShare | None:
    """How the LLM fared on these scores, counted by stage; None when it was meant to judge none of them."""
    stages = [s.stage for s in scores]
    failed, budget = stages.count(FAILED_STAGE), stages.count(BUDGET_STAGE)
    asked = stages.count(LLM_STAGE) + failed + budget
    return LLMShare(asked, failed, budget) if asked else None


def note_json(*, llm: LLMShare | None = None, why: str = "") -> str:
    """A run's note: its facts as JSON (never a sentence in one language; readers word it in theirs)."""
    facts: dict[str, Any] = {}
    if llm is not None:
        facts["llm"] = {"asked": llm.asked, "failed": llm.failed, "budget": llm.budget}
    if why:
        facts["why"] = why
    return json.dumps(facts, sort_keys=True) if facts else ""


def note_facts(note: str) -> dict[str, Any] | None:
    """A run's note read back as facts; None for a note from before notes were facts (a sentence)."""
    if not note.startswith("{"):
        return None
    try:
        facts = json.loads(note)
    except ValueError:
        return None
    return facts if isinstance(facts, dict) else None
