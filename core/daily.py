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

from core.build.digest import OFFLINE_MODEL, build_digest, digest_blocks
from core.build.markdown import to_markdown
from core.calendar import listing_day_of
from core.errors import ConfigError
from core.fetch.client import ArxivClient
from core.fetch.jsonl import load_papers
from core.models import Digest, Paper
from core.prepare.reader import score_subscriber_interests
from core.score.cache import Progress, reader_languages, score_with_cache
from core.services import Services, uses_llm
from core.views import build_day_digest

log = logging.getLogger(__name__)


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


# -- fetch ----------------------------------------------------------------------------------------


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
        return listing.day, list(listing.papers)
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
) -> RunResult:
    """Run one daily cycle: fetch the listing, store new papers, score them, build and write the digest.

    `now` stamps the run's start and its stored rows; `clock` (default: `now`) stamps its end.
    """
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
        why = "stale feed: every paper was listed on an earlier day" if stale else "empty listing"
        await store.finish_run(run_id, status="no-announcement", now=now, note=why)
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
    run_id = await store.start_run(run_day_, scored.scorer_key, scored.model, now)
    await store.finish_run(
        run_id, status="done", now=clock() if clock else now, papers_read=len(day_papers), scored=scored.scored,
        tokens_in=scored.tokens_in, tokens_out=scored.tokens_out, note=" ".join(scored.notes),
    )
    if uses_llm(services, offline):  # one batched pass for every subscriber's interests: delivery finds them cached
        await score_subscriber_interests(services, run_day_, now=now)
    built = await build_day_digest(services, run_day_, lang=lang, min_score=threshold, notes=scored.notes)
    assert built is not None, "the run just recorded makes the day buildable"
    markdown = to_markdown(digest_blocks(built, settings.digest_timezone))
    path = None
    if write_markdown:
        path = settings.digest_dir / f"{run_day_.isoformat()}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
    message = (f"{run_day_}: {len(day_papers)} papers ({len(new)} new), {scored.scored} scored, "
               f"{scored.tokens_in + scored.tokens_out} tokens, model {scored.model}")
    return RunResult(run_day_, "done", len(day_papers), len(new), scored.scored, scored.tokens_in,
                     scored.tokens_out, scored.model, built, markdown, path, message)
