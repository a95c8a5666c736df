"""Personal interests: route each profile's candidates, read them once, judge each profile cheaply.

Owns the per-day scoring of interests profiles (parsed by core/score/profile.py): the routing of the
day's papers to a profile (offline, no tokens), the per-profile LLM judgement on summaries and its cache
(the store's judgements table, keyed by the normalised profile and `judge_key`), and which watch-list
matches are summarised ahead of the digest. It must not decide how a digest looks (core/build/) or talk
to chat platforms, and it never reads the clock: `now` is a parameter.

Cost model, per day (see bench/profiles.py for the figures):
1. Routing is free: a per-day word index (core/score/routing.py) picks up to ROUTE_POOL papers that hold
   most of the words of one of the profile's phrases, in any order or form; the learned ranker
   (core/score/ranker.py), with the profile as its field, keeps the best INTEREST_CANDIDATES of them.
2. Reading is shared, and only where sharing pays: the judge is shown each candidate's title and the
   abstract's opening sentence (free), except papers that at least SHARED_READS profiles judge at once,
   which are read once into a short English summary (core/score/summaries.py, ~240 tokens a paper) whose
   first sentence is shown instead; a summary already stored is always used. A summary sentence is ~9
   tokens shorter than a title and opening sentence, so reading a paper for fewer profiles than that
   costs more than it saves: with tens of profiles nothing is read, with thousands the popular papers are.
3. Judging is the only per-profile cost: one request shows the LLM the profile and each candidate's
   short text under short local ids, and stores a Score per candidate under the *normalised* profile,
   so identical profiles (in any spelling) are judged once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from core.models import LANGUAGES, Paper, Score, Summary
from core.prompts import load_prompt
from core.score.cache import RETRY_STAGES, reader_languages, wanted_languages
from core.score.jsonmode import json_modes_for
from core.score.judge import score_summaries
from core.score.llm import LLMConfig, TokenBudget
from core.score.profile import Profile, parse_interests, rank_matches, watch_matches
from core.score.readings import read_as, read_phrases
from core.score.routing import ROUTE_POOL, offline_interest_scores, rank_candidates, route_candidates
from core.score.summaries import READ_LANG, first_sentence, first_sentences, get_summaries, summary_key
from core.services import Services

log = logging.getLogger(__name__)

INTEREST_PURPOSE = "interests"
# Most papers one profile's LLM judgement reads per day: the ranker's best of the routed pool. A candidate
# costs ~70 tokens (its short text in, a score and maybe a reason out) and a request ~300 more, so 16 keep
# a profile under ~1,500 tokens on any day; the digest shows at most DIGEST_MAX_PER_FIELD (10) anyway.
INTEREST_CANDIDATES = 18
# A paper is read into a summary for judging only when this many profiles judge it in one pass (or a
# summary is stored already): ~240 tokens to read, ~9 tokens saved each time its sentence is shown.
SHARED_READS = 16
GIST_CHARS = 130  # of the abstract's opening sentence, shown with the title when a paper is not read
# Watch-list matches summarised ahead of the digest: the ones a digest can show, plus room for papers
# that a chat's own fields or votes push ahead.
WATCH_SUMMARY_MARGIN = 5

# -- scoring a day's profiles: route (free), read (shared), judge (per profile) ----------------------------


def gist(paper: Paper) -> str:
    """What the judge is shown of a paper nobody read: its title and the abstract's opening sentence."""
    title = " ".join(paper.title.split()).rstrip(".")
    opening = first_sentences(paper.abstract, 1, GIST_CHARS)
    return f"{title}: {opening}" if opening else title


def judge_key(model: str, prompt_version: str, summaries_key: str, lang: str) -> str:
    """Which judgement of a profile is cached: a new model, template, summary or language set is a new key.

    The store keeps judgements per (profile key, judge key); the profile key is `Profile.key`."""
    blob = f"{model}|{prompt_version}|{summaries_key}|{lang}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


class InterestScores(list[tuple[Paper, Score]]):
    """What `score_interests` returns: (paper, score) for each of the day's papers, as it always did,
    plus `summaries` of the watch-list matches keyed by (arxiv_id, lang), for the digest to show."""

    __slots__ = ("summaries",)

    def __init__(
        self, items: Iterable[tuple[Paper, Score]] = (), summaries: Mapping[tuple[str, str], Summary] | None = None,
    ) -> None:
        super().__init__(items)
        self.summaries: dict[tuple[str, str], Summary] = dict(summaries or {})


@dataclass
class _Plan:
    """One distinct profile's judgement for the day."""

    profile: Profile
    offline: dict[str, Score]
    key: str = ""  # judge_key
    judged: dict[str, Score] = field(default_factory=dict)
    todo: list[Paper] = field(default_factory=list)


async def score_profiles(
    services: Services,
    texts: Sequence[str],
    day: date,
    *,
    now: datetime,
    use_llm: bool,
    lang: str | None = None,
    summary_langs: Sequence[str] | None = None,
    candidates: int = INTEREST_CANDIDATES,
    field_best: Mapping[str, float] | None = None,
) -> dict[str, InterestScores]:
    """Score `day`'s papers against each interests text; identical profiles share every token.

    Judged scores are cached per normalised profile, so a second call (or a second subscriber with
    the same interests) spends nothing. Watch-list matches are summarised in `summary_langs` (default:
    the languages of active chats with that text, else DIGEST_LANGUAGE); `field_best` is each paper's
    field score on the day's run, which ranks the matches worth summarising.
    """
    settings, store = services.settings, services.store
    lang = lang or settings.digest_language
    papers = await store.papers_for_day(day)
    by_id = {p.arxiv_id: p for p in papers}
    profiles = {text: parse_interests(text) for text in dict.fromkeys(texts)}
    plans: dict[str, _Plan] = {}  # by the spelling-blind key: identical profiles are valued and judged once
    for profile in profiles.values():
        if profile.has_interests and papers and profile.key not in plans:
            plans[profile.key] = _Plan(profile, offline_interest_scores(profile.judge_field(), papers, lang))
    if use_llm and services.llm is not None and plans:
        langs = wanted_languages(lang, await reader_languages(services))
        await _judge(services, list(plans.values()), by_id, day=day, now=now, lang=lang, langs=langs,
                     limit=candidates)
    summaries = await _watch_summaries(services, profiles, papers, day=day, now=now, use_llm=use_llm,
                                       langs=summary_langs, plans=plans, field_best=field_best or {})
    out: dict[str, InterestScores] = {}
    for text, profile in profiles.items():
        scored: list[tuple[Paper, Score]] = []
        if profile.has_interests and papers:
            judged = plans[profile.key].judged
            offline = plans[profile.key].offline
            scored = [(p, judged.get(p.arxiv_id) or offline[p.arxiv_id]) for p in papers]
        watched = _watched(profile, papers) if summaries else set()
        out[text] = InterestScores(scored, {k: v for k, v in summaries.items() if k[0] in watched})
    return out


def _watched(profile: Profile, papers: Sequence[Paper]) -> set[str]:
    return {p.arxiv_id for p, _ in watch_matches(profile, papers)} if profile.watch else set()


async def _judge(
    services: Services, plans: Sequence[_Plan], by_id: Mapping[str, Paper], *, day: date, now: datetime,
    lang: str, langs: Sequence[str], limit: int,
) -> None:
    """Fill each plan's `judged`: cached scores first, then one LLM judgement per profile for the rest.

    Reasons come in every language of `langs` in one reply. The judgement's key names that set: judging
    one profile's candidates on one-sentence summaries is cheap, so a language added re-judges them.
    """
    settings, store = services.settings, services.store
    assert services.llm is not None
    prompt = load_prompt("judge_interests")
    summaries_key = summary_key(settings.llm_model, load_prompt("summarize_papers"))
    config = LLMConfig.from_settings(settings, lang, langs)
    budget = TokenBudget(limit=settings.llm_daily_token_budget, spent=await store.tokens_spent(day))
    modes = await json_modes_for(services, now)  # one negotiation for every profile's judgement
    # Chinese phrases the glossary cannot read are read into English by the LLM, to find their candidates.
    readings = await read_phrases(services.llm, {p for plan in plans for part in plan.profile.normalised
                                                 for p in part}, prompt=load_prompt("read_interests"),
                                  config=config, modes=modes, budget=budget)
    totals = [readings.tokens_in, readings.tokens_out, readings.requests]
    for plan in plans:
        plan.key = judge_key(settings.llm_model, prompt.version, summaries_key, "+".join(langs))
        interests, avoid = (read_as(part, readings.english) for part in plan.profile.normalised)
        # The candidates are found by the English the LLM read, then judged on the reader's own words.
        routed_as = replace(plan.profile.judge_field(), keywords=interests, ignore=avoid)
        pool = route_candidates(interests, list(by_id.values()), max(limit, ROUTE_POOL))
        wanted = rank_candidates(routed_as, [by_id[i] for i in pool], limit)
        cached = await store.get_judgements(plan.profile.key, plan.key, wanted)
        plan.judged = {k: v for k, v in cached.items() if v.stage not in RETRY_STAGES}
        plan.todo = [by_id[i] for i in wanted if i not in plan.judged]
    uses = Counter(p.arxiv_id for plan in plans for p in plan.todo)
    if not uses:
        if readings.requests:
            await store.add_usage(day, INTEREST_PURPOSE, tokens_in=totals[0], tokens_out=totals[1],
                                  requests=totals[2], now=now)
        return
    # The shared step, where it pays: stored summaries are free; a paper many profiles judge is read once.
    read = await store.get_summaries(summaries_key, READ_LANG, list(uses))
    reading = [by_id[i] for i, n in uses.items() if n >= SHARED_READS and i not in read]
    if reading:
        read.update(await get_summaries(services, reading, READ_LANG, now=now, day=day, use_llm=True))
    gists = {i: first_sentence(read[i].text) if i in read and read[i].source == "llm" else gist(by_id[i])
             for i in uses}
    gate = asyncio.Semaphore(settings.llm_concurrency)

    async def one(plan: _Plan) -> list[Score]:
        assert services.llm is not None
        fallback = {p.arxiv_id: plan.offline[p.arxiv_id] for p in plan.todo}
        async with gate:
            result = await score_summaries(services.llm, plan.todo, plan.profile.judge_field(), gists,
                                           prompt=prompt, config=config, fallback=fallback, budget=budget,
                                           modes=modes)
        totals[0] += result.tokens_in
        totals[1] += result.tokens_out
        totals[2] += result.requests
        return result.scores

    asking = [plan for plan in plans if plan.todo]
    answers = await asyncio.gather(*(one(plan) for plan in asking))
    for plan, scores in zip(asking, answers, strict=True):  # one writer at a time: the store is one connection
        await store.save_judgements(plan.profile.key, plan.key, scores, now)
        plan.judged.update({s.arxiv_id: s for s in scores})
    await store.add_usage(day, INTEREST_PURPOSE, tokens_in=totals[0], tokens_out=totals[1], requests=totals[2],
                          now=now)
    log.info("interest profiles judged=%d papers_judged=%d papers_read=%d tokens=%d",
             sum(1 for p in plans if p.todo), len(uses), len(reading), totals[0] + totals[1])


async def _watch_summaries(
    services: Services, profiles: Mapping[str, Profile], papers: Sequence[Paper], *, day: date, now: datetime,
    use_llm: bool, langs: Sequence[str] | None, plans: Mapping[str, _Plan], field_best: Mapping[str, float],
) -> dict[tuple[str, str], Summary]:
    """Summaries of the watch-list matches a digest can show, in the languages their chats read."""
    watching = {text: p for text, p in profiles.items() if p.watch}
    if not watching or not papers or not use_llm or services.llm is None:
        return {}  # the digest falls back to excerpts by itself
    store, settings = services.store, services.settings
    wanted: dict[str, dict[str, Paper]] = {}
    for text, profile in watching.items():
        mine = dict(field_best)
        if profile.has_interests:
            for arxiv_id, score in plans[profile.key].judged.items():
                mine[arxiv_id] = max(mine.get(arxiv_id, 0.0), score.value or 0.0)
        top = rank_matches(watch_matches(profile, papers), mine)[: settings.digest_max_per_field + WATCH_SUMMARY_MARGIN]
        chat_langs = list(langs) if langs else await store.subscription_langs(text) or [settings.digest_language]
        for chat_lang in chat_langs:
            if chat_lang in LANGUAGES:
                wanted.setdefault(chat_lang, {}).update({p.arxiv_id: p for p, _ in top})
    out: dict[tuple[str, str], Summary] = {}
    for chat_lang, chosen in wanted.items():
        found = await get_summaries(services, list(chosen.values()), chat_lang, now=now, day=day, use_llm=True)
        out.update({(arxiv_id, chat_lang): s for arxiv_id, s in found.items()})
    return out
