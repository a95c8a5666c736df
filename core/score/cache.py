"""Score papers with the configured scorer, reusing what the store already holds for the same scorer key.

Owns the scorer keys' use as a cache (the offline scorer's key, the LLM's via core/score/llm.py), the
stages that mean "not judged yet, try again" (RETRY_STAGES), and the two-stage LLM path: a cheap stage
ranks every paper (the offline scorer, or embedding similarity when EMBEDDING_MODEL is set) and the LLM
reads the top LLM_PASS_RATE share. It must not decide what a digest shows or read the clock: `now` is
a parameter.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from core.build.digest import OFFLINE_MODEL
from core.errors import ScoringError
from core.models import Field, Paper, Score
from core.prompts import load_prompt
from core.score.embed import score_by_embedding
from core.score.jsonmode import json_modes_for
from core.score.llm import LLMConfig, TokenBudget, score_papers, scorer_key, select_candidates
from core.score.offline import OfflineScorer
from core.services import Services, uses_llm

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


def offline_scorer_key(fields: Sequence[Field]) -> str:
    """Cache key of the offline scorer for these field definitions."""
    blob = OFFLINE_SCORER_VERSION + "|" + "|".join(f"{f.slug}:{f.fingerprint}" for f in fields)
    return "offline:" + hashlib.sha256(blob.encode()).hexdigest()[:16]


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


def llm_scorer_key(services: Services, lang: str) -> str:
    """The LLM scorer's cache key: the request's, plus the embedding model when it picks what the LLM reads."""
    settings = services.settings
    key = scorer_key(settings.llm_model, load_prompt("score_papers"), services.fields, lang=lang,
                     abstract_chars=settings.llm_abstract_chars)
    return f"{key}|embed:{settings.embedding_model}" if settings.embedding_model else key


async def cheap_ranking(
    services: Services, papers: Sequence[Paper], offline_scores: Sequence[Score],
) -> tuple[list[Score], int]:
    """The cheap stage's scores to rank papers by, and the tokens it spent.

    Embedding similarity when EMBEDDING_MODEL is set (its scores only rank: they are never stored or
    shown), else the offline scores; a failing embeddings endpoint falls back to the offline scores.
    """
    model = services.settings.embedding_model
    if not model or services.llm is None or not papers:
        return list(offline_scores), 0
    try:
        result = await score_by_embedding(services.llm, papers, services.fields, model=model)
    except ScoringError as exc:
        log.warning("embedding stage failed (%s); ranking by the offline scorer", exc)
        return list(offline_scores), 0
    return result.scores, result.tokens


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
    settings, store, fields = services.settings, services.store, services.fields
    assert services.llm is not None
    prompt = load_prompt("score_papers")
    key = llm_scorer_key(services, lang)
    ids = [p.arxiv_id for p in papers]
    cached = await store.get_scores(key, ids) if use_cache else {}
    cached = {k: v for k, v in cached.items() if v.stage not in RETRY_STAGES}
    offline_scores = {s.arxiv_id: s for s in scorer.score_many(papers, lang)}
    # The cheap stage ranks the whole set, so a re-run passes the same papers as the first run.
    ranking, embed_tokens = await cheap_ranking(services, papers, list(offline_scores.values()))
    passed = set(select_candidates(ranking, settings.llm_pass_rate))
    todo = [p for p in papers if p.arxiv_id not in cached]
    to_llm = [p for p in todo if p.arxiv_id in passed]
    kept_offline = [offline_scores[p.arxiv_id] for p in todo if p.arxiv_id not in passed]
    spent = await store.tokens_spent(budget_day) if budget_day is not None else 0
    budget = TokenBudget(limit=settings.llm_daily_token_budget, spent=spent + embed_tokens)
    if progress:
        progress("llm", 0, len(to_llm))
    result = await score_papers(
        services.llm, to_llm, fields, prompt=prompt, config=LLMConfig.from_settings(settings, lang),
        fallback=offline_scores, budget=budget, modes=await json_modes_for(services, now),
    )
    if progress:
        progress("llm", len(to_llm), len(to_llm))
    fresh = [*kept_offline, *result.scores]
    if use_cache and fresh:
        await store.save_scores(key, fresh, now)
        await store.save_json_modes(key, result.json_modes, now)
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
        tokens_in=result.tokens_in + embed_tokens, tokens_out=result.tokens_out, notes=tuple(notes),
    )
