"""What a day's runs add up to (core/runs.py): pure, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.models import Run
from core.runs import summarise_runs
from tests.samples import DAY

T0 = datetime(2026, 1, 19, 2, 0, tzinfo=UTC)


def run(n: int, *, key: str = "k", model: str = "m", scored: int = 0, read: int = 10, tokens: int = 0,
        status: str = "done", note: str = "") -> Run:
    start = T0 + timedelta(hours=n)
    return Run(DAY, read, tokens, tokens // 10, model, key, start, start + timedelta(minutes=1), status, note, scored)


def test_no_finished_run_means_no_summary() -> None:
    assert summarise_runs(DAY, []) is None


def test_one_run_stands_for_itself() -> None:
    only = run(0, scored=10, tokens=900, note="fine")
    assert summarise_runs(DAY, [only]) == only


def test_tokens_and_scored_add_up_and_papers_read_is_the_largest() -> None:
    runs = [run(0, scored=8, read=10, tokens=500), run(1, scored=3, read=12, tokens=100), run(2, read=12)]
    summary = summarise_runs(DAY, runs)
    assert summary is not None
    assert (summary.tokens_in, summary.tokens_out, summary.scored, summary.papers_read) == (600, 60, 11, 12)


def test_times_and_note_come_from_the_last_run_that_scored_anything() -> None:
    scoring = run(1, scored=2, note="second")
    runs = [run(0, scored=5, note="first"), scoring, run(2, note="all cached"), run(3, note="cached again")]
    summary = summarise_runs(DAY, runs)
    assert summary is not None
    assert (summary.started_at, summary.finished_at, summary.note) == (
        scoring.started_at, scoring.finished_at, "second")
    assert summary.status == "done"


def test_when_no_run_scored_anything_the_first_run_of_the_scorer_speaks() -> None:
    runs = [run(0, note="first cached"), run(1, note="second cached")]
    summary = summarise_runs(DAY, runs)
    assert summary is not None and summary.started_at == runs[0].started_at and summary.note == "first cached"


def test_the_newest_runs_scorer_decides_which_runs_give_the_times() -> None:
    offline = run(0, key="offline-k", model="offline", scored=116, note="offline")
    llm = run(1, key="llm-k", model="gpt", scored=0, status="failed", note="llm cached")
    summary = summarise_runs(DAY, [offline, llm])
    assert summary is not None
    assert (summary.scorer_key, summary.model, summary.status) == ("llm-k", "gpt", "failed")
    assert summary.started_at == llm.started_at and summary.note == "llm cached"
    assert summary.day == DAY and summary.scored == 116
