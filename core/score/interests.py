"""Personal interests: parse `/interests` text, route each profile's candidates, judge them cheaply.

Owns what an interests text means (free-text interests, avoided topics, a keyword watch list), how
profiles are normalised so trivially different spellings share work, the routing of the day's papers
to a profile (offline, no tokens), and the per-profile LLM judgement on summaries with its cache. It
must not decide how a digest looks (core/build/digest.py) or talk to chat platforms.

The text, as `/interests` takes it:
- Comma-, semicolon- or newline-separated phrases are free-text interests, scored as the reader's
  own field "My interests" (as before watch lists existed). "not X", "no X", "without X", "exclude X",
  "不要X", "不看X", "排除X" make X an avoided (low-priority) topic.
- Watch terms are matched literally and listed under "Keyword matches", with a summary:
  - arXiv category codes (cs.LG, math.OC, stat.ML, q-bio.NC, quant-ph...), wherever they appear;
  - "quoted phrases" (also “...”, 「...」, 『...』);
  - everything after `watch:` (or `keywords:`, `kw:`, `关键词:`), comma-separated.
  A keyword matches whole words of the title or abstract, ignoring case, plurals, and hyphens versus
  spaces ("LLM memory" matches "LLM-memories"); a category matches any of the paper's categories
  (an archive alone, such as quant-ph or astro-ph, matches its subcategories too).

Cost model, per day (see bench/profiles.py for the figures):
1. Routing is free: a per-day word index (core/score/routing.py) picks at most INTEREST_CANDIDATES papers
   that hold most of the words of one of the profile's phrases, in any order or form.
2. Reading is shared: each candidate paper is read once into a short English summary
   (core/score/summaries.py), whatever the number of profiles that route it.
3. Judging is the only per-profile cost: one request shows the LLM the profile and each candidate's
   one-sentence summary under short local ids, and stores a Score per candidate under a key made of
   the *normalised* profile, so identical profiles (in any spelling) are judged once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from core.build.digest import INTERESTS_SLUG
from core.models import LANGUAGES, Field, Paper, Score, Summary
from core.prompts import load_prompt
from core.runs import summarise_runs
from core.score.offline import WORD_RE, stem
from core.score.routing import ROUTE_LIMIT, offline_interest_scores, route_candidates
from core.score.summaries import first_sentence, get_summaries, summary_key

if TYPE_CHECKING:
    from core.services import Services

log = logging.getLogger(__name__)

INTEREST_PURPOSE = "interests"
# Most papers one profile's LLM judgement reads per day. A candidate costs ~45 tokens (its summary in,
# a short score out), so 20 keep a profile under ~1,500 tokens on any day; the digest shows at most
# DIGEST_MAX_PER_FIELD (10) interest papers anyway.
INTEREST_CANDIDATES = ROUTE_LIMIT
# Watch-list matches summarised ahead of the digest: the ones a digest can show, plus room for papers
# that a chat's own fields or votes push ahead.
WATCH_SUMMARY_MARGIN = 5
# Stages whose stored score is retried on the next call (the LLM did not judge the paper).
RETRY_STAGES = frozenset({"offline-fallback", "offline-budget"})

_SEPARATORS = re.compile(r"[,;，；、\n]+")
_NEGATION = re.compile(r"^(?:(?:not|no|without|exclude)\s+|(?:不要|不看|排除)\s*)(.+)$", re.IGNORECASE)
_WATCH_PREFIX = re.compile(r"(?:^|(?<=[\s,;]))(?:watch|keywords?|kw|关键词)\s*:", re.IGNORECASE)
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|「([^」]+)」|『([^』]+)』')
_CATEGORY = re.compile(
    r"^(?:(?:cs|math|stat|eess|econ|q-bio|q-fin|physics|astro-ph|cond-mat|nlin)\.[a-z][a-z-]*"
    r"|quant-ph|gr-qc|hep-(?:th|ph|ex|lat)|nucl-(?:th|ex)|math-ph|astro-ph|cond-mat|q-bio|q-fin)$",
    re.IGNORECASE,
)
_INNER_DASH = re.compile(r"(?<=\w)[-_‐‑–/](?=\w)")
_DASHES = re.compile(r"[-_‐‑–—]+")


def canonical_phrase(phrase: str) -> str:
    """Normalise one phrase: width, case, dashes and underscores as spaces, spacing, outer punctuation (pure)."""
    text = unicodedata.normalize("NFKC", phrase).casefold()
    text = _DASHES.sub(" ", text)
    return " ".join(text.split()).strip(" .:!?\"'“”「」『』")


def is_category(term: str) -> bool:
    """True for an arXiv category code such as cs.LG or quant-ph."""
    return bool(_CATEGORY.match(term.strip()))


@dataclass(frozen=True, slots=True)
class Profile:
    """One `/interests` text, parsed. Phrases keep the reader's spelling; `key` is spelling-blind."""

    text: str
    interests: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # watch keywords, matched literally
    categories: tuple[str, ...] = ()  # watch arXiv categories

    @property
    def has_interests(self) -> bool:
        return bool(self.interests)

    @property
    def watch(self) -> tuple[str, ...]:
        return (*self.keywords, *self.categories)

    @property
    def normalised(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The interests and avoided topics as the LLM sees them: canonical, deduplicated, sorted."""
        return (tuple(sorted({c for c in map(canonical_phrase, self.interests) if c})),
                tuple(sorted({c for c in map(canonical_phrase, self.avoid) if c})))

    @property
    def key(self) -> str:
        """Identity of the judged profile: the same for any spelling, order or watch list; "" without interests."""
        if not self.interests:
            return ""
        blob = json.dumps(self.normalised, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def field(self) -> Field:
        """The reader's own field, in their spelling: the digest section and the offline router use it."""
        description = "; ".join(self.interests) or " ".join(self.text.split())
        return Field(slug=INTERESTS_SLUG, name_zh="我的兴趣", name_en="My interests", description_zh=description,
                     description_en=description, keywords=self.interests, ignore=self.avoid)

    def judge_field(self) -> Field:
        """The field the LLM judges against: normalised, so identical profiles send identical requests."""
        interests, avoid = self.normalised
        description = "; ".join(interests)
        return Field(slug=INTERESTS_SLUG, name_zh="我的兴趣", name_en="My interests", description_zh=description,
                     description_en=description, keywords=interests, ignore=avoid)


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(canonical_phrase(item), item)
    return tuple(v for k, v in seen.items() if k)


def parse_interests(text: str) -> Profile:
    """Parse an `/interests` text into interests, avoided topics and a watch list (pure)."""
    text = unicodedata.normalize("NFKC", text or "")
    head, watch_part = text, ""
    prefix = _WATCH_PREFIX.search(text)
    if prefix is not None:
        head, watch_part = text[: prefix.start()], text[prefix.end():]
    keywords: list[str] = []
    categories: list[str] = []

    def take_quoted(match: re.Match[str]) -> str:
        keywords.append(next(g for g in match.groups() if g is not None).strip())
        return ","

    head = _QUOTED.sub(take_quoted, head)
    watch_part = _QUOTED.sub(take_quoted, watch_part)
    interests: list[str] = []
    avoid: list[str] = []
    for part in (p.strip() for p in _SEPARATORS.split(head)):
        if not part:
            continue
        if is_category(part):
            categories.append(part)
            continue
        negated = _NEGATION.match(part)
        (avoid if negated else interests).append(negated.group(1).strip() if negated else part)
    for part in (p.strip().strip("\"'") for p in _SEPARATORS.split(watch_part)):
        if part:
            (categories if is_category(part) else keywords).append(part)
    return Profile(text=text, interests=_dedupe(interests), avoid=_dedupe(avoid),
                   keywords=_dedupe(k for k in keywords if k), categories=_dedupe(categories))


def interest_field(interests: str) -> Field:
    """Turn `/interests` text into the reader's own field (pure); watch terms are not part of it.

    "diffusion LLMs, KV-cache compression, not medical imaging": comma- or semicolon-separated phrases
    become keywords; phrases starting with "not", "no", "without" or "不要/不看" become low-priority areas.
    """
    return parse_interests(interests).field()


# -- the watch list ----------------------------------------------------------------------------------


def _stems(text: str) -> str:
    return " " + " ".join(stem(w) for w in WORD_RE.findall(_INNER_DASH.sub(" ", text))) + " "


def _probe(word: str) -> str:
    """A substring every spelling of `word` that stems alike contains (for a cheap prefilter)."""
    lowered, stemmed = word.lower(), stem(word)
    common = 0
    for a, b in zip(lowered, stemmed, strict=False):
        if a != b:
            break
        common += 1
    return lowered[: min(common, 4)] or lowered[:1]


@dataclass(frozen=True, slots=True)
class WatchList:
    """A profile's watch terms compiled for matching (pure)."""

    keywords: tuple[tuple[str, str, str], ...]  # (as given, " stem stem ", probe)
    categories: tuple[tuple[str, str], ...]  # (as given, lower-case code)

    @classmethod
    def of(cls, profile: Profile) -> WatchList:
        keywords = []
        for kw in profile.keywords:
            stems = _stems(kw)
            words = WORD_RE.findall(_INNER_DASH.sub(" ", kw))
            if words:
                keywords.append((kw, stems, _probe(max(words, key=len))))
        return cls(tuple(keywords), tuple((c, c.strip().lower()) for c in profile.categories))

    def match(self, paper: Paper) -> tuple[str, ...]:
        """The watch terms `paper` matches, in watch-list order."""
        hits: list[str] = []
        cats = [c.lower() for c in paper.categories]
        for shown, code in self.categories:
            if any(c == code or ("." not in code and c.startswith(code + ".")) for c in cats):
                hits.append(shown)
        if self.keywords:
            raw = (paper.title + " " + paper.abstract).lower()
            stems = ""
            for shown, wanted, probe in self.keywords:
                if probe not in raw:
                    continue
                stems = stems or _stems(paper.title) + " | " + _stems(paper.abstract)
                if wanted in stems:
                    hits.append(shown)
        return tuple(hits)


def watch_matches(profile: Profile, papers: Sequence[Paper]) -> list[tuple[Paper, tuple[str, ...]]]:
    """Papers that match the profile's watch list, with the terms each matched, in input order (pure)."""
    if not profile.watch:
        return []
    watch = WatchList.of(profile)
    out = []
    for paper in papers:
        terms = watch.match(paper)
        if terms:
            out.append((paper, terms))
    return out


def rank_matches(
    matches: Sequence[tuple[Paper, tuple[str, ...]]], best: Mapping[str, float],
) -> list[tuple[Paper, tuple[str, ...]]]:
    """Order watch matches: more terms first, then the paper's best known score, then id (pure)."""
    return sorted(matches, key=lambda m: (-len(m[1]), -best.get(m[0].arxiv_id, 0.0), m[0].arxiv_id))


# -- scoring a day's profiles: route (free), read (shared), judge (per profile) ----------------------------


def judge_key(model: str, prompt_version: str, summaries_key: str, lang: str, profile_key: str) -> str:
    """Cache key of one profile's judged scores: a new model, template, summary or language is a new key."""
    blob = f"{model}|{prompt_version}|{summaries_key}|{lang}"
    return f"interests:{profile_key}:{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


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
    key: str = ""
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
) -> dict[str, InterestScores]:
    """Score `day`'s papers against each interests text; identical profiles share every token.

    Judged scores are cached per normalised profile, so a second call (or a second subscriber with
    the same interests) spends nothing. Watch-list matches are summarised in `summary_langs` (default:
    the languages of active chats with that text, else DIGEST_LANGUAGE).
    """
    settings, store = services.settings, services.store
    lang = lang or settings.digest_language
    papers = await store.papers_for_day(day)
    by_id = {p.arxiv_id: p for p in papers}
    profiles = {text: parse_interests(text) for text in dict.fromkeys(texts)}
    offline = {text: offline_interest_scores(profile.field(), papers, lang)
               for text, profile in profiles.items() if profile.has_interests and papers}
    plans: dict[str, _Plan] = {}
    for text, profile in profiles.items():
        if profile.has_interests and papers and profile.key not in plans:
            plans[profile.key] = _Plan(profile, offline[text])
    if use_llm and services.llm is not None and plans:
        await _judge(services, list(plans.values()), by_id, day=day, now=now, lang=lang, limit=candidates)
    summaries = await _watch_summaries(services, profiles, papers, day=day, now=now, use_llm=use_llm,
                                       langs=summary_langs, plans=plans)
    out: dict[str, InterestScores] = {}
    for text, profile in profiles.items():
        scored: list[tuple[Paper, Score]] = []
        if profile.has_interests and papers:
            judged = plans[profile.key].judged
            scored = [(p, judged.get(p.arxiv_id) or offline[text][p.arxiv_id]) for p in papers]
        watched = _watched(profile, papers) if summaries else set()
        out[text] = InterestScores(scored, {k: v for k, v in summaries.items() if k[0] in watched})
    return out


def _watched(profile: Profile, papers: Sequence[Paper]) -> set[str]:
    return {p.arxiv_id for p, _ in watch_matches(profile, papers)} if profile.watch else set()


async def _judge(
    services: Services, plans: Sequence[_Plan], by_id: Mapping[str, Paper], *, day: date, now: datetime,
    lang: str, limit: int,
) -> None:
    """Fill each plan's `judged`: cached scores first, then one LLM judgement per profile for the rest."""
    from core.score.judge import score_summaries
    from core.score.llm import LLMConfig, TokenBudget

    settings, store = services.settings, services.store
    assert services.llm is not None
    prompt = load_prompt("judge_interests")
    summaries_key = summary_key(settings.llm_model, load_prompt("summarize_papers"))
    for plan in plans:
        plan.key = judge_key(settings.llm_model, prompt.version, summaries_key, lang, plan.profile.key)
        wanted = route_candidates(plan.profile.normalised[0], list(by_id.values()), limit)
        cached = await store.get_scores(plan.key, wanted)
        plan.judged = {k: v for k, v in cached.items() if v.stage not in RETRY_STAGES}
        plan.todo = [by_id[i] for i in wanted if i not in plan.judged]
    reading = list({p.arxiv_id: p for plan in plans for p in plan.todo}.values())
    if not reading:
        return
    # The shared step: every paper any profile still needs is read once, in one batched pass.
    read = await get_summaries(services, reading, "en", now=now, day=day, use_llm=True)
    gists = {i: first_sentence(s.text) if s.source == "llm" else f"{by_id[i].title.strip()}. {s.text}"
             for i, s in read.items()}
    config = LLMConfig.from_settings(settings, lang)
    budget = TokenBudget(limit=settings.llm_daily_token_budget, spent=await store.tokens_spent(day))
    gate = asyncio.Semaphore(settings.llm_concurrency)
    totals = [0, 0, 0]

    async def one(plan: _Plan) -> list[Score]:
        assert services.llm is not None
        fallback = {p.arxiv_id: plan.offline[p.arxiv_id] for p in plan.todo}
        async with gate:
            result = await score_summaries(services.llm, plan.todo, plan.profile.judge_field(), gists,
                                           prompt=prompt, config=config, fallback=fallback, budget=budget)
        totals[0] += result.tokens_in
        totals[1] += result.tokens_out
        totals[2] += result.requests
        return result.scores

    asking = [plan for plan in plans if plan.todo]
    answers = await asyncio.gather(*(one(plan) for plan in asking))
    for plan, scores in zip(asking, answers, strict=True):  # one writer at a time: the store is one connection
        await store.save_scores(plan.key, scores, now)
        plan.judged.update({s.arxiv_id: s for s in scores})
    await store.add_usage(day, INTEREST_PURPOSE, tokens_in=totals[0], tokens_out=totals[1], requests=totals[2],
                          now=now)
    log.info("interest profiles judged=%d papers_read=%d tokens=%d", sum(1 for p in plans if p.todo),
             len(reading), totals[0] + totals[1])


async def _watch_summaries(
    services: Services, profiles: Mapping[str, Profile], papers: Sequence[Paper], *, day: date, now: datetime,
    use_llm: bool, langs: Sequence[str] | None, plans: Mapping[str, _Plan],
) -> dict[tuple[str, str], Summary]:
    """Summaries of the watch-list matches a digest can show, in the languages their chats read."""
    watching = {text: p for text, p in profiles.items() if p.watch}
    if not watching or not papers or not use_llm or services.llm is None:
        return {}  # the digest falls back to excerpts by itself
    store, settings = services.store, services.settings
    best: dict[str, float] = {}
    summary = summarise_runs(day, await store.runs_of_day(day))
    if summary is not None and summary.scorer_key:
        best = {p.arxiv_id: s.value or 0.0 for p, s in await store.scored_papers(day, summary.scorer_key)}
    wanted: dict[str, dict[str, Paper]] = {}
    for text, profile in watching.items():
        mine = dict(best)
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
