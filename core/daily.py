"""The daily run: fetch a listing, store its new papers, score them (with the cache), write the day's Markdown.

Every entry point that runs a day (the CLI's `run`, the scheduler, tests, benchmarks) calls `run_day`,
so there is one way to run a day. The digest is built from the store, never from lists held in memory,
so a crashed run resumes and a second run is idempotent. After scoring, every subscriber's interests are
judged in one batched pass so delivery finds them cached. It must not decide what one reader sees
(core/views.py) and never reads the clock: `now` is a parameter, and `clock` (when given) stamps the
run's end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from core.build.digest import OFFLINE_MODEL, build_digest, digest_blocks, llm_share_lines
from core.build.markdown import to_markdown
from core.calendar import listing_day_of
from core.errors import ConfigError
from core.fetch.client import ArxivClient
from core.fetch.jsonl import load_papers
from core.models import Digest, LLMShare, Paper
from core.prepare.reader import score_subscriber_interests
from core.runlock import run_lock
from core.runs import NO_ANNOUNCEMENT, llm_share, note_json
from core.score.cache import Progress, reader_languages, score_with_cache
from core.services import Services, uses_llm
from core.views import build_day_digest

log = logging.getLogger(__name__)

RUN_LOCK_WAIT = 600.0  # seconds a run waits for another run of the same database before it gives up


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one daily cycle did."""

    day: date | None
    status: str  # "done" | "no-announcement"
    papers_read: int
    new_papers: int
    scored: int
    tokens_in: int
    tokens_out: int
    model: str
    digest: Digest | None
    markdown: str
    markdown_path: Path | None
    message: str
    llm: LLMShare | None = None  # how the LLM fared on the day (after this run), when one was meant to score it

    @property
    def degraded(self) -> bool:
        """More than half of the day's papers meant for the LLM fell back to their offline score."""
        return self.llm is not None and self.llm.degraded


# -- fetch ----------------------------------------------------------------------------------------


def input_days(input_path: Path) -> list[date]:
    """Every listing day in a JSONL file or folder of them, oldest first."""
    return sorted({p.published for p in load_papers(input_path)})


async def collect_papers(
    services: Services, *, day: date | None, input_path: Path | None
) -> tuple[date | None, list[Paper]]:
    """Return the listing day and its papers, from a local JSONL input or from arXiv."""
    if input_path is not None:
        papers = load_papers(input_path)
        if day is None:
            if not papers:
                return None, []
            day = max(p.published for p in papers)
        return day, [p for p in papers if p.published == day]
    if services.http is None:
        raise ConfigError("no HTTP session to reach arXiv with")
    client = ArxivClient.from_settings(services.http, services.settings, clock=services.monotonic, sleep=services.sleep)
    if day is None:
        listing = await client.fetch_listing()
        return listing.day, await client.with_comments(listing.papers)
    return day, await client.fetch_day(day)


# -- store ----------------------------------------------------------------------------------------


async def store_papers(services: Services, papers: Iterable[Paper], now: datetime) -> list[Paper]:
    """Store papers not stored yet; return the new ones (the one place the dataflow saves papers)."""
    return await services.store.save_papers(papers, now)


# -- the daily cycle --------------------------------------------------------------------------------


async def run_day(
    services: Services,
    *,
    now: datetime,
    day: date | None = None,
    input_path: Path | None = None,
    offline: bool = False,
    min_score: float | None = None,
    write_markdown: bool = True,
    progress: Progress | None = None,
    clock: Callable[[], datetime] | None = None,
    lock_wait: float = RUN_LOCK_WAIT,
) -> RunResult:
    """Run one daily cycle: fetch the listing, store new papers, score them, build and write the digest.

    `now` stamps the run's start and its stored rows; `clock` (default: `now`) stamps its end. One run
    at a time per database: another run's lock is waited for up to `lock_wait` seconds, then
    core.runlock.RunInProgress is raised.
    """
    async with run_lock(services.store, wait=lock_wait,
                        what=f"run of {day or input_path or 'the latest listing'}"):
        return await _run_day(services, now=now, day=day, input_path=input_path, offline=offline,
                              min_score=min_score, write_markdown=write_markdown, progress=progress, clock=clock)


def describe_scorer(model: str, share: LLMShare | None) -> str:
    """Which scorer spoke for a day, in English for the operator: never a model that scored nothing."""
    if model == OFFLINE_MODEL:
        return "offline scorer"
    if share is not None and share.asked and share.judged == 0:
        return f"offline scorer stood in: LLM {model} scored no paper"
    return f"LLM {model}"


def run_message(day: date, papers: int, new: int, scored: int, tokens: int, model: str,
                share: LLMShare | None) -> str:
    """A run's summary line (English, for the operator): counts, tokens, the scorer, what fell back."""
    return "; ".join([f"{day}: {papers} papers ({new} new), {scored} scored, {tokens} tokens, "
                      f"{describe_scorer(model, share)}", *llm_share_lines(share, "en")])


async def _run_day(
    services: Services,
    *,
    now: datetime,
    day: date | None,
    input_path: Path | None,
    offline: bool,
    min_score: float | None,
    write_markdown: bool,
    progress: Progress | None,
    clock: Callable[[], datetime] | None,
) -> RunResult:
    settings, store, fields = services.settings, services.store, services.fields
    lang = settings.digest_language
    threshold = settings.min_score if min_score is None else min_score
    listing_day, papers = await collect_papers(services, day=day, input_path=input_path)
    await store.save_fields(fields, now)
    run_day_ = listing_day or day or listing_day_of(now)
    model = settings.llm_model if uses_llm(services, offline) else OFFLINE_MODEL

    known = await store.known_ids([p.arxiv_id for p in papers])
    stale = [p for p in papers if p.arxiv_id in known and known[p.arxiv_id] != run_day_]
    listed = [p for p in papers if p not in stale]
    if stale:
        log.info("skipped %d papers already listed on earlier days (stale feed or cross-list repeat)", len(stale))
    if not listed and await store.count_papers(run_day_) == 0:
        run_id = await store.start_run(run_day_, "", model, now)
        reason = "stale-feed" if stale else "empty-listing"
        await store.finish_run(run_id, status="no-announcement", now=now, note=note_json(why=reason))
        why = NO_ANNOUNCEMENT[reason]
        digest = build_digest(run_day_, fields, [], lang=lang, min_score=threshold,
                              max_per_field=settings.digest_max_per_field, papers_read=0, model=model, tokens=0,
                              updated_at=None, announced=False)
        markdown = to_markdown(digest_blocks(digest, settings.digest_timezone))
        message = (f"no announcement today ({run_day_}): {why}; nothing scored" if run_day_
                   else f"no announcement today: {why}; nothing scored")
        return RunResult(run_day_, "no-announcement", 0, 0, 0, 0, 0, model, digest, markdown, None, message)

    new = await store_papers(services, listed, now)
    day_papers = await store.papers_for_day(run_day_)
    scored = await score_with_cache(services, day_papers, offline=offline, now=now, budget_day=run_day_,
                                    langs=await reader_languages(services), progress=progress)
    share = llm_share(scored.scores)  # the day's papers under this scorer: what the LLM judged, what fell back
    run_id = await store.start_run(run_day_, scored.scorer_key, scored.model, now)
    await store.finish_run(
        run_id, status="done", now=clock() if clock else now, papers_read=len(day_papers), scored=scored.scored,
        tokens_in=scored.tokens_in, tokens_out=scored.tokens_out, note=note_json(llm=share),
    )
    if uses_llm(services, offline):  # one batched pass for every subscriber's interests: delivery finds them cached
        await score_subscriber_interests(services, run_day_, now=now)
    built = await build_day_digest(services, run_day_, lang=lang, min_score=threshold)
    assert built is not None, "the run just recorded makes the day buildable"
    markdown = to_markdown(digest_blocks(built, settings.digest_timezone))
    path = None
    if write_markdown:
        path = settings.digest_dir / f"{run_day_.isoformat()}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
    message = run_message(run_day_, len(day_papers), len(new), scored.scored,
                          scored.tokens_in + scored.tokens_out, scored.model, share)
    return RunResult(run_day_, "done", len(day_papers), len(new), scored.scored, scored.tokens_in,
                     scored.tokens_out, scored.model, built, markdown, path, message, share)
