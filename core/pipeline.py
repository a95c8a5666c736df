"""fetch -> score -> store -> build: the only orchestrator.

Every entry point (the CLI's `run`, `score` and `paper`, the bots' `/today` and `/paper`, the
scheduler) calls into here, so there is one way to run a day. Digests are built from the store,
never from lists held in memory, so a crashed run resumes and a second run is idempotent. Time is
a parameter (`now`); nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from core.build.digest import (
    INTERESTS_SLUG as INTERESTS_SLUG,  # re-exported: callers from before core/score/interests.py
)
from core.build.digest import KEYWORDS_SLUG, OFFLINE_MODEL, build_digest, digest_blocks, summary_text
from core.build.markdown import to_markdown
from core.calendar import ARXIV_TZ as ARXIV_TZ
from core.calendar import listing_day_of as listing_day_of
from core.errors import ConfigError, SourceError
from core.fetch.client import ArxivClient
from core.fetch.ids import normalize_arxiv_id
from core.fetch.jsonl import load_papers
from core.models import ChatRef, Digest, Field, KeywordMatch, Paper, Run, Score, Subscription, Summary
from core.runs import summarise_runs
from core.score import interests as interests_
from core.score.feedback import VOTE_LIMIT, Feedback
from core.score.feedback import adjustments as vote_adjustments
from core.score.interests import InterestScores, parse_interests, watch_matches
from core.score.interests import interest_field as interest_field
from core.score.offline import OfflineScorer
from core.score.summaries import excerpt, get_summaries
from core.score.summaries import first_sentences as first_sentences
from core.services import Services as Services
from core.services import uses_llm as uses_llm
from core.store import LOOKUP

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

OFFLINE_SCORER_VERSION = "offline-1"
# Stages that mean "the LLM did not judge this paper": a later run with budget left tries again.
RETRY_STAGES = frozenset({"offline-fallback", "offline-budget"})

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Scored:
    """The outcome of scoring a set of papers with the configured scorer."""

    scorer_key: str
    model: str
    scores: tuple[Score, ...]
    scored: int  # papers judged anew (not from the cache)
    tokens_in: int = 0
    tokens_out: int = 0
    notes: tuple[str, ...] = ()


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


def offline_scorer_key(fields: Sequence[Field]) -> str:
    """Cache key of the offline scorer for these field definitions."""
    blob = OFFLINE_SCORER_VERSION + "|" + "|".join(f"{f.slug}:{f.fingerprint}" for f in fields)
    return "offline:" + hashlib.sha256(blob.encode()).hexdigest()[:16]


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


# -- score ----------------------------------------------------------------------------------------


async def score_with_cache(
    services: Services,
    papers: Sequence[Paper],
    *,
    offline: bool,
    now: datetime,
    budget_day: date | None,
    use_cache: bool = True,
    lang: str | None = None,
    progress: Progress | None = None,
) -> Scored:
    """Score papers with the configured scorer; reuse stored scores for the same scorer key."""
    settings, store, fields = services.settings, services.store, services.fields
    lang = lang or settings.digest_language
    scorer = OfflineScorer(fields)
    ids = [p.arxiv_id for p in papers]
    if not uses_llm(services, offline):
        key = offline_scorer_key(fields)
        cached = await store.get_scores(key, ids) if use_cache else {}
        todo = [p for p in papers if p.arxiv_id not in cached]
        fresh = []
        for i, paper in enumerate(todo, 1):
            fresh.append(scorer.score(paper, lang))
            if progress and (i % 50 == 0 or i == len(todo)):
                progress("scoring", i, len(todo))
        if use_cache and fresh:
            await store.save_scores(key, fresh, now)
        by_id = {**cached, **{s.arxiv_id: s for s in fresh}}
        return Scored(key, OFFLINE_MODEL, tuple(by_id[i] for i in ids), scored=len(fresh))
    return await _score_llm(services, papers, scorer, now=now, budget_day=budget_day, use_cache=use_cache,
                            lang=lang, progress=progress)


async def _score_llm(
    services: Services,
    papers: Sequence[Paper],
    scorer: OfflineScorer,
    *,
    now: datetime,
    budget_day: date | None,
    use_cache: bool,
    lang: str,
    progress: Progress | None,
) -> Scored:
    from core.prompts import load_prompt
    from core.score.llm import LLMConfig, TokenBudget, score_papers, scorer_key, select_candidates

    settings, store, fields = services.settings, services.store, services.fields
    assert services.llm is not None
    prompt = load_prompt("score_papers")
    key = scorer_key(settings.llm_model, prompt, fields, lang=lang, abstract_chars=settings.llm_abstract_chars)
    ids = [p.arxiv_id for p in papers]
    cached = await store.get_scores(key, ids) if use_cache else {}
    cached = {k: v for k, v in cached.items() if v.stage not in RETRY_STAGES}
    offline_scores = {s.arxiv_id: s for s in scorer.score_many(papers, lang)}
    # The cheap stage ranks the whole set, so a re-run passes the same papers as the first run.
    passed = set(select_candidates(list(offline_scores.values()), settings.llm_pass_rate))
    todo = [p for p in papers if p.arxiv_id not in cached]
    to_llm = [p for p in todo if p.arxiv_id in passed]
    kept_offline = [offline_scores[p.arxiv_id] for p in todo if p.arxiv_id not in passed]
    spent = await store.tokens_spent(budget_day) if budget_day is not None else 0
    budget = TokenBudget(limit=settings.llm_daily_token_budget, spent=spent)
    if progress:
        progress("llm", 0, len(to_llm))
    result = await score_papers(
        services.llm, to_llm, fields, prompt=prompt, config=LLMConfig.from_settings(settings, lang),
        fallback=offline_scores, budget=budget,
    )
    if progress:
        progress("llm", len(to_llm), len(to_llm))
    fresh = [*kept_offline, *result.scores]
    if use_cache and fresh:
        await store.save_scores(key, fresh, now)
    by_id = {**cached, **{s.arxiv_id: s for s in fresh}}
    notes = []
    budget_hits = sum(1 for s in result.scores if s.stage == "offline-budget")
    failed = sum(1 for s in result.scores if s.stage == "offline-fallback")
    zh = lang == "zh"
    if budget_hits:
        notes.append(
            f"已达到每日 Token 预算，{budget_hits} 篇论文改用离线评分。" if zh
            else f"The daily token budget was reached: {budget_hits} papers were scored offline."
        )
    if failed:
        notes.append(
            f"{failed} 篇论文的 LLM 评分失败，改用离线评分。" if zh
            else f"The LLM could not score {failed} papers; they carry their offline score."
        )
    return Scored(
        key, settings.llm_model, tuple(by_id[i] for i in ids), scored=len(fresh),
        tokens_in=result.tokens_in, tokens_out=result.tokens_out, notes=tuple(notes),
    )


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
) -> RunResult:
    """Run one daily cycle: fetch the listing, store new papers, score them, build and write the digest."""
    settings, store, fields = services.settings, services.store, services.fields
    lang = settings.digest_language
    threshold = settings.min_score if min_score is None else min_score
    started = time.monotonic()
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

    new = await store.save_papers(listed, now)
    day_papers = await store.papers_for_day(run_day_)
    scored = await score_with_cache(services, day_papers, offline=offline, now=now, budget_day=run_day_,
                                    progress=progress)
    run_id = await store.start_run(run_day_, scored.scorer_key, scored.model, now)
    finished = now + _elapsed(started)
    await store.finish_run(
        run_id, status="done", now=finished, papers_read=len(day_papers), scored=scored.scored,
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


def _elapsed(started: float) -> timedelta:
    return timedelta(seconds=round(time.monotonic() - started, 3))


@dataclass(frozen=True, slots=True)
class DayContext:
    """A scored day as the store holds it: the run summary and every paper with its score."""

    day: date
    summary: Run
    scored: tuple[tuple[Paper, Score], ...]

    @property
    def announced(self) -> bool:
        return self.summary.status != "no-announcement" or bool(self.scored)


async def load_day(services: Services, day: date) -> DayContext | None:
    """Read a day's latest run and scores from the store; None when no run has finished for it."""
    summary = summarise_runs(day, await services.store.runs_of_day(day))
    if summary is None:
        return None
    scored = await services.store.scored_papers(day, summary.scorer_key) if summary.scorer_key else []
    return DayContext(day, summary, tuple(scored))


def day_digest(
    services: Services,
    ctx: DayContext,
    *,
    lang: str,
    min_score: float,
    field_slugs: Sequence[str] = (),
    interests: str = "",
    interest_scores: Sequence[tuple[Paper, Score]] = (),
    notes: Sequence[str] = (),
    feedback: Feedback | None = None,
    summaries: Mapping[tuple[str, str], Summary] | None = None,
) -> Digest:
    """Build one reader's digest of a loaded day (pure): their fields, interests, watch list, votes, threshold.

    Watch-list matches show the summary in `summaries` (or those `interest_scores` carries, see
    InterestScores) for (arxiv_id, lang), else the abstract's first sentences.
    """
    profile = parse_interests(interests)
    fields = [f for f in services.fields if not field_slugs or f.slug in field_slugs]
    if profile.has_interests and interest_scores:
        fields.insert(0, profile.field())
    day_papers = [p for p, _ in ctx.scored]
    known = summaries if summaries is not None else getattr(interest_scores, "summaries", {})
    matches = [KeywordMatch(p, terms, known.get((p.arxiv_id, lang)) or excerpt(p, lang))
               for p, terms in watch_matches(profile, day_papers)]
    moved = vote_adjustments([*day_papers, *(p for p, _ in interest_scores)], feedback) if feedback else None
    summary = ctx.summary
    if not notes and summary.note:
        notes = (summary.note,)
    return build_digest(
        ctx.day, fields, [*interest_scores, *ctx.scored], lang=lang, min_score=min_score,
        max_per_field=services.settings.digest_max_per_field, papers_read=summary.papers_read if ctx.announced else 0,
        model=summary.model, tokens=summary.tokens if ctx.announced else 0,
        updated_at=summary.finished_at if ctx.announced else None, announced=ctx.announced, notes=notes,
        keyword_matches=matches, adjustments=moved,
    )


async def build_day_digest(
    services: Services,
    day: date,
    *,
    lang: str,
    min_score: float,
    field_slugs: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Digest | None:
    """Build a digest for `day` from the store, with the scores of the day's latest run.

    Returns None when no run has happened for that day yet. A day whose run found no
    announcement gives a digest with `announced=False`.
    """
    ctx = await load_day(services, day)
    if ctx is None:
        return None
    return day_digest(services, ctx, lang=lang, min_score=min_score, field_slugs=field_slugs, notes=notes)


# -- per-subscriber digests and personal interests (the logic lives in core/score/interests.py) ---------------


async def score_interests(
    services: Services, interests: str, day: date, *, now: datetime, offline: bool = False, lang: str | None = None,
) -> InterestScores:
    """Score `day`'s papers against one interests text; identical profiles share cached judgements.

    Returns (paper, score) per paper of the day (none when the text is only a watch list), carrying the
    watch-list matches' summaries. `lang` is the reasons' and summaries' language (default: the
    languages of the chats with this text, reasons in DIGEST_LANGUAGE).
    """
    found = await score_profiles(services, [interests], day, now=now, offline=offline, lang=lang)
    return found[interests]


async def score_profiles(
    services: Services, texts: Sequence[str], day: date, *, now: datetime, offline: bool = False,
    lang: str | None = None,
) -> dict[str, InterestScores]:
    """Score `day`'s papers against many interests texts at once: one shared reading pass, one judgement
    per distinct profile. Run it after the day's run so delivery finds every profile cached."""
    return await interests_.score_profiles(
        services, texts, day, now=now, use_llm=uses_llm(services, offline), lang=lang,
        summary_langs=(lang,) if lang else None,
    )


async def score_subscriber_interests(services: Services, day: date, *, now: datetime) -> int:
    """Score `day` for the interests of every active subscription at once; return the distinct texts."""
    texts = sorted({s.interests for s in await services.store.list_subscriptions() if s.interests.strip()})
    if texts:
        await score_profiles(services, texts, day, now=now)
    return len(texts)


async def load_feedback(services: Services, chat: ChatRef) -> Feedback:
    """A chat's recent votes, for its digests."""
    return Feedback(tuple(await services.store.voted_papers(chat, limit=VOTE_LIMIT)))


async def latest_digest_day(services: Services) -> date | None:
    """The most recent listing day that has a finished run."""
    runs = await services.store.list_runs(limit=1)
    return runs[0].day if runs else None


async def digest_for_subscription(
    services: Services, sub: Subscription, *, now: datetime, day: date | None = None,
) -> Digest | None:
    """One subscriber's digest for `day` (default: the latest run): their fields, interests and threshold."""
    day = day or await latest_digest_day(services)
    if day is None:
        return None
    ctx = await load_day(services, day)
    if ctx is None:
        return None
    mine: Sequence[tuple[Paper, Score]] = []
    if sub.interests.strip():
        # Reasons in DIGEST_LANGUAGE, as delivery has them: the judgement is shared, not redone per language.
        mine = await score_interests(services, sub.interests, day, now=now)
    feedback = await load_feedback(services, sub.chat)
    return await complete_digest(services, sub, ctx, mine, feedback=feedback, now=now)


async def complete_digest(
    services: Services,
    sub: Subscription,
    ctx: DayContext,
    interest_scores: Sequence[tuple[Paper, Score]],
    *,
    feedback: Feedback | None,
    now: datetime,
) -> Digest:
    """A subscriber's digest with summaries for its keyword matches (`/today` and the daily push share it)."""
    known = dict(getattr(interest_scores, "summaries", {}))
    digest = subscriber_digest(services, sub, ctx, interest_scores, feedback=feedback, summaries=known)
    # Summaries for exactly the keyword matches shown (votes and fields decide which), then the same digest.
    shown = [p for section in digest.sections if section.field.slug == KEYWORDS_SLUG for p, _ in section.items]
    missing = [p for p in shown if (p.arxiv_id, sub.lang) not in known]
    if missing and uses_llm(services, False):
        found = await get_summaries(services, missing, sub.lang, now=now, day=ctx.day, use_llm=True)
        known.update({(i, sub.lang): s for i, s in found.items()})
        digest = subscriber_digest(services, sub, ctx, interest_scores, feedback=feedback, summaries=known)
    return digest


def subscriber_digest(
    services: Services,
    sub: Subscription,
    ctx: DayContext,
    interest_scores: Sequence[tuple[Paper, Score]] = (),
    *,
    feedback: Feedback | None = None,
    summaries: Mapping[tuple[str, str], Summary] | None = None,
) -> Digest:
    """A subscriber's digest of a loaded day (pure); `feedback` is the chat's votes (see core/score/feedback.py)."""
    return day_digest(services, ctx, lang=sub.lang, min_score=sub.min_score, field_slugs=sub.fields,
                      interests=sub.interests, interest_scores=interest_scores, feedback=feedback,
                      summaries=summaries)


# -- single papers and search -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaperView:
    paper: Paper
    score: Score
    summary: str  # as shown: the LLM's summary in the reader's language, or marked excerpt (digest.summary_text)
    fetched: bool  # True when the paper was not stored and came from arXiv just now


async def lookup_paper(
    services: Services, id_or_url: str, *, now: datetime, offline: bool = False, lang: str | None = None,
) -> PaperView:
    """Find one paper in the store or on arXiv, and score it (from the cache when it was scored before)."""
    arxiv_id = normalize_arxiv_id(id_or_url)
    if arxiv_id is None:
        raise SourceError(f"not an arXiv id or URL: {id_or_url!r}")
    store = services.store
    paper = await store.get_paper(arxiv_id)
    fetched = False
    if paper is None:
        if services.http is None:
            raise ConfigError("no HTTP session to reach arXiv with")
        client = ArxivClient.from_settings(services.http, services.settings,
                                           clock=services.monotonic, sleep=services.sleep)
        found = await client.fetch_papers([arxiv_id])
        if not found:
            raise SourceError(f"arXiv has no paper {arxiv_id}")
        paper = replace(found[0], announce_type=LOOKUP)
        await store.save_papers([paper], now)
        fetched = True
    scored = await score_with_cache(services, [paper], offline=offline, now=now, budget_day=listing_day_of(now),
                                    lang=lang)
    lang = lang or services.settings.digest_language
    summaries = await get_summaries(services, [paper], lang, now=now, day=listing_day_of(now),
                                    use_llm=uses_llm(services, offline), excerpt_sentences=3)
    return PaperView(paper, scored.scores[0], summary_text(summaries[paper.arxiv_id], lang), fetched)


async def search_papers(services: Services, words: str, *, limit: int = 10) -> list[tuple[Paper, Score | None]]:
    """Full-text search over stored papers, best first, each with its latest stored score."""
    papers = await services.store.search(words, limit=limit)
    out: list[tuple[Paper, Score | None]] = []
    for paper in papers:
        scores = await services.store.scores_for_paper(paper.arxiv_id)
        out.append((paper, next(iter(scores.values()), None)))
    return out
