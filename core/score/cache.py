"""Score papers with the configured scorer, reusing what the store already holds for the same scorer key.

Owns the scorer keys' use as a cache (the offline scorer's key, the LLM's via core/score/llm.py), the
stages that mean "not judged yet, try again" (RETRY_STAGES), the languages readers want reasons in
(`reader_languages`), the offline scorer (`OfflineRanker`: the learned ranker of core/score/ranker.py with
its model read from the installed package data) and the two-stage LLM path: a cheap stage ranks every paper
(the ranker, or embedding similarity when EMBEDDING_MODEL is set) and the LLM reads the top LLM_PASS_RATE
share. It must not decide what a digest shows or read the clock: `now` is a parameter. Interest routing
(core/score/routing.py) keeps the hand-weighted phrase scorer: a profile is a few words, not a field.

Languages: a score carries a reason per language. The LLM is asked for every wanted language in one reply.
The scorer key does not name a language: the score itself does not depend on it (fields are described in
English), so adding a language keeps every stored score, and only the reasons missing from scores already
stored are asked for (`_add_reasons`), in the missing languages alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from core.build.digest import OFFLINE_MODEL
from core.errors import ScoringError
from core.models import LANGUAGES, Field, Paper, Score
from core.prompts import load_prompt
from core.score.embed import score_by_embedding
from core.score.jsonmode import JsonModes, json_modes_for
from core.score.llm import LLMConfig, TokenBudget, score_papers, scorer_key, select_candidates
from core.score.ranker import Ranked, Ranker, select
from core.score.ranker_embed import embedding_version
from core.score.ranker_model import shipped_model
from core.services import Services, uses_llm

log = logging.getLogger(__name__)

# 3: the learned ranker (its model file's hash joins the key); 2: reasons in every language
OFFLINE_SCORER_VERSION = "offline-3"
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


class OfflineRanker:
    """The offline scorer: the learned ranker, each score's reason worded in `lang` and each of `langs`.

    Scores are the ranker's (stage "offline", a value per field); `rank_many` also keeps the raw logit the
    cheap stage orders papers by. Every wanted language is worded from one reading of each paper, and only
    the languages readers want (`score_with_cache` words a stored score again when a reader's language is
    missing from it; the score itself does not change).
    """

    def __init__(self, fields: Sequence[Field]) -> None:
        self.ranker = Ranker(fields, shipped_model()[0])

    def rank_many(self, papers: Sequence[Paper], lang: str = "zh", langs: Iterable[str] = LANGUAGES) -> list[Ranked]:
        wanted = wanted_languages(lang, langs)
        return [self.ranker.rank(p, lang, wanted) for p in papers]

    def score_many(self, papers: Sequence[Paper], lang: str = "zh", langs: Iterable[str] = LANGUAGES) -> list[Score]:
        return [r.score for r in self.rank_many(papers, lang, langs)]

    def score(self, paper: Paper, lang: str = "zh", langs: Iterable[str] = LANGUAGES) -> Score:
        return self.score_many([paper], lang, langs)[0]


def missing_reasons(score: Score, langs: Iterable[str]) -> bool:
    """Whether an offline score lacks the reason of a wanted language (the ranker words it again for free)."""
    return score.stage == "offline" and any(code not in score.reasons for code in langs)


def offline_scorer_key(fields: Sequence[Field]) -> str:
    """Cache key of the offline scorer for these field definitions and the shipped ranker model.

    A retrained model, or another release of the embeddings it reads, is a new key, so scores of an older
    model (or of the hand-weighted scorer that came before the ranker) are never read as this one's.
    """
    model_hash = shipped_model()[1]
    blob = "|".join([OFFLINE_SCORER_VERSION, f"ranker:{model_hash}", f"embed:{embedding_version()}",
                     *(f"{f.slug}:{f.fingerprint}" for f in fields)])
    return "offline:" + hashlib.sha256(blob.encode()).hexdigest()[:16]


async def reader_languages(services: Services) -> tuple[str, ...]:
    """The languages reasons are wanted in: DIGEST_LANGUAGE and every active subscription's language."""
    subscribed = {s.lang for s in await services.store.list_subscriptions()}
    return wanted_languages(services.settings.digest_language, subscribed)


def wanted_languages(lang: str, others: Iterable[str] = ()) -> tuple[str, ...]:
    """`lang` and `others`, each once, in LANGUAGES order (a fixed order keeps requests identical)."""
    wanted = {lang, *others}
    return tuple(code for code in LANGUAGES if code in wanted) or (lang,)


async def score_with_cache(
    services: Services,
    papers: Sequence[Paper],
    *,
    offline: bool,
    now: datetime,
    budget_day: date | None,
    use_cache: bool = True,
    lang: str | None = None,
    langs: Sequence[str] = (),
    progress: Progress | None = None,
) -> Scored:
    """Score papers with the configured scorer; reuse stored scores for the same scorer key.

    `lang` is the language of each Score.reason (default DIGEST_LANGUAGE); every scorer words its reasons
    in `lang` and every language of `langs` (the LLM in one reply). A stored offline score that lacks one
    of them is worded again (same score, the reason added), so a new reader's language is never missing.
    """
    settings, store, fields = services.settings, services.store, services.fields
    lang = lang or settings.digest_language
    wanted = wanted_languages(lang, langs)
    scorer = OfflineRanker(fields)
    ids = [p.arxiv_id for p in papers]
    if not uses_llm(services, offline):
        key = offline_scorer_key(fields)
        cached = await store.get_scores(key, ids) if use_cache else {}
        todo = [p for p in papers if p.arxiv_id not in cached or missing_reasons(cached[p.arxiv_id], wanted)]
        fresh: list[Score] = []
        for start in range(0, len(todo), 50):
            fresh.extend(scorer.score_many(todo[start:start + 50], lang, wanted))
            if progress:
                progress("scoring", len(fresh), len(todo))
        fresh = [with_stored_reasons(s, cached.get(s.arxiv_id)) for s in fresh]
        if use_cache and fresh:
            await store.save_scores(key, fresh, now)
        by_id = {**cached, **{s.arxiv_id: s for s in fresh}}
        return Scored(key, OFFLINE_MODEL, tuple(by_id[i] for i in ids),
                      scored=sum(1 for s in fresh if s.arxiv_id not in cached))
    return await _score_llm(services, papers, scorer, now=now, budget_day=budget_day, use_cache=use_cache,
                            lang=lang, langs=wanted, progress=progress)


def with_stored_reasons(score: Score, stored: Score | None) -> Score:
    """A fresh offline score keeps the reasons its stored copy already had in languages not asked for now."""
    if stored is None:
        return score
    return dataclasses.replace(score, reasons={**stored.reasons, **score.reasons})


def llm_scorer_key(services: Services) -> str:
    """The LLM scorer's cache key: the request's, plus the embedding model when it picks what the LLM reads.

    No language: the languages asked change the reasons, not the scores (see the module's docstring).
    """
    settings = services.settings
    key = scorer_key(settings.llm_model, load_prompt("score_papers"), services.fields,
                     abstract_chars=settings.llm_abstract_chars)
    return f"{key}|embed:{settings.embedding_model}" if settings.embedding_model else key


async def cheap_selection(
    services: Services, papers: Sequence[Paper], ranked: Sequence[Ranked],
) -> tuple[list[str], int]:
    """The ids the LLM reads (the top LLM_PASS_RATE share, best first), and the tokens choosing them spent.

    The ranker's order (`ranked`, by its best field's logit) unless EMBEDDING_MODEL is set: then embedding
    similarity ranks (its scores only rank: they are never stored or shown), and a failing embeddings
    endpoint falls back to the ranker's order.
    """
    pass_rate = services.settings.llm_pass_rate
    model = services.settings.embedding_model
    if model and services.llm is not None and papers:
        try:
            result = await score_by_embedding(services.llm, papers, services.fields, model=model)
        except ScoringError as exc:
            log.warning("embedding stage failed (%s); ranking by the offline scorer", exc)
        else:
            return select_candidates(result.scores, pass_rate), result.tokens
    return select(ranked, pass_rate), 0


async def _score_llm(
    services: Services,
    papers: Sequence[Paper],
    scorer: OfflineRanker,
    *,
    now: datetime,
    budget_day: date | None,
    use_cache: bool,
    lang: str,
    langs: tuple[str, ...],
    progress: Progress | None,
) -> Scored:
    settings, store, fields = services.settings, services.store, services.fields
    assert services.llm is not None
    prompt = load_prompt("score_papers")
    key = llm_scorer_key(services)
    ids = [p.arxiv_id for p in papers]
    cached = await store.get_scores(key, ids) if use_cache else {}
    cached = {k: v for k, v in cached.items() if v.stage not in RETRY_STAGES}
    ranked = scorer.rank_many(papers, lang, langs)
    offline_scores = {r.score.arxiv_id: r.score for r in ranked}
    # An offline score stored under the LLM's key (a paper the LLM did not read) gets a new reader's language.
    reworded = [with_stored_reasons(offline_scores[k], v) for k, v in cached.items() if missing_reasons(v, langs)]
    cached = {**cached, **{s.arxiv_id: s for s in reworded}}
    # The cheap stage ranks the whole set, so a re-run passes the same papers as the first run.
    selected, embed_tokens = await cheap_selection(services, papers, ranked)
    passed = set(selected)
    todo = [p for p in papers if p.arxiv_id not in cached]
    to_llm = [p for p in todo if p.arxiv_id in passed]
    kept_offline = [offline_scores[p.arxiv_id] for p in todo if p.arxiv_id not in passed]
    spent = await store.tokens_spent(budget_day) if budget_day is not None else 0
    budget = TokenBudget(limit=settings.llm_daily_token_budget, spent=spent + embed_tokens)
    if progress:
        progress("llm", 0, len(to_llm))
    modes = await json_modes_for(services, now)  # one negotiation for the scores and any missing reasons
    result = await score_papers(
        services.llm, to_llm, fields, prompt=prompt, config=LLMConfig.from_settings(settings, lang, langs),
        fallback=offline_scores, budget=budget, modes=modes,
    )
    if progress:
        progress("llm", len(to_llm), len(to_llm))
    fresh = [*kept_offline, *result.scores]
    completed, reason_tokens = await _add_reasons(services, papers, cached, langs, lang=lang, budget=budget,
                                                  modes=modes)
    completed = [*reworded, *completed]
    if use_cache and (fresh or completed):
        await store.save_scores(key, [*fresh, *completed], now)
        await store.save_json_modes(key, result.json_modes, now)
    by_id = {**cached, **{s.arxiv_id: s for s in completed}, **{s.arxiv_id: s for s in fresh}}
    return Scored(
        key, settings.llm_model, tuple(by_id[i] for i in ids), scored=len(fresh),
        tokens_in=result.tokens_in + embed_tokens + reason_tokens[0], tokens_out=result.tokens_out + reason_tokens[1],
    )


async def _add_reasons(
    services: Services,
    papers: Sequence[Paper],
    cached: Mapping[str, Score],
    langs: Sequence[str],
    *,
    lang: str,
    budget: TokenBudget,
    modes: JsonModes,
) -> tuple[list[Score], tuple[int, int]]:
    """Ask the LLM for the reasons stored LLM scores lack in `langs`; return the completed scores and tokens.

    Only the missing languages are asked for. The stored score, field and reasons stay as they are: a
    reader who already saw a score keeps seeing it. A reply that judges the paper under another field
    adds no reason (its reason would explain that field): the language is stored as "" (asked, not
    given), so readers get the other language's reason and no later run asks again. A failed request
    stores nothing, so the next run asks again.
    """
    assert services.llm is not None
    by_missing: dict[tuple[str, ...], list[Paper]] = {}
    for paper in papers:
        score = cached.get(paper.arxiv_id)
        if score is None or score.stage != "llm":
            continue
        missing = tuple(code for code in langs if code not in score.reasons)
        if missing:
            by_missing.setdefault(missing, []).append(paper)
    completed: list[Score] = []
    tokens_in = tokens_out = 0
    for missing, group in by_missing.items():
        log.info("asking the LLM for %s reasons of %d stored scores", "/".join(missing), len(group))
        config = LLMConfig.from_settings(services.settings, lang, missing)
        result = await score_papers(services.llm, group, services.fields, prompt=load_prompt("score_papers"),
                                    config=config, fallback=cached, budget=budget, modes=modes)
        tokens_in += result.tokens_in
        tokens_out += result.tokens_out
        for fresh in result.scores:
            stored = cached[fresh.arxiv_id]
            if fresh.stage != "llm":
                continue
            if fresh.field_slug != stored.field_slug:
                log.info("paper %s judged under another field when asked for its reasons; keeping %s",
                         fresh.arxiv_id, stored.field_slug)
                fresh = dataclasses.replace(fresh, reasons=dict.fromkeys(missing, ""))
            reasons = {**fresh.reasons, **stored.reasons}
            reason = stored.reason or reasons.get(lang, "")
            completed.append(dataclasses.replace(stored, reasons=reasons, reason=reason))
    return completed, (tokens_in, tokens_out)
