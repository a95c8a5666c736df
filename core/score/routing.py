"""Route a day's papers to interest profiles without tokens, through a per-day word index (pure).

Owns the day index (the word stems of every paper's title and abstract, with postings), which papers
the offline valuation of a profile looks at, and the router that picks the papers a profile's LLM
judgement reads. It must not do IO or call an LLM.

- `offline_interest_scores` values a profile without tokens: the learned ranker with the profile as its
  only field (its solo model, core/score/ranker.py), on the papers that can be about it (holding all
  words of one of its phrases in order, or most of them in any order, or among the closest in meaning);
  the rest score 1.0. It gives the offline "My interests" section and the fallback when the LLM fails.
- `route_candidates` is forgiving, as a reader would be: a paper qualifies when it holds at least
  ROUTE_MIN_SHARE of one interest phrase's words, in any order and form (words compared on their first
  ROUTE_PREFIX letters, each weighted by its rarity that day), best word coverage first.
- `rank_candidates` orders that pool with the learned ranker (the profile as its field) and keeps the
  few the LLM reads, so a profile's judgement stays small however many papers share its words.
All three read a profile's phrases in English, as papers are written: Chinese terms through
core/score/glossary.py ("强化学习" routes as "reinforcement learning"); the LLM judges the reader's own words.
Building the index costs ~0.2 s for 900 papers, once per day (cached); a profile then routes in ~1 ms,
and is valued offline in ~85-125 ms on an 880-paper day (bench/profiles.py).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.fields import parse_term
from core.models import LANGUAGES, Field, Paper, Score
from core.score.glossary import CJK, english_phrase
from core.score.offline import WORD_RE, derived_phrases, stem
from core.score.ranker import Model, Ranker
from core.score.ranker_model import shipped_model
from core.score.reasons import WEAK_VALUE, build_reason

ROUTE_PREFIX = 5  # "generation", "generating" and "generative" route alike; the LLM tells them apart
ROUTE_MIN_SHARE = 0.5  # of a phrase's (rarity-weighted) words a paper must hold to be a candidate
TITLE_BONUS = 1.0  # words in the title say what a paper is about
LEAD_BONUS = 0.5  # and so do the abstract's opening words
LEAD_WORDS = 40
ROUTE_LIMIT = 20
ROUTE_POOL = 30  # routed papers the ranker orders for one profile; its best few are judged
EMBED_POOL = 30  # papers closest in meaning to a profile the ranker values offline, beside those holding its words
ROUTE_WEIGHT = 3.0  # how much word coverage (0-1 in pool order) adds to the ranker's logit
ROUTE_STOP = frozenset(
    "the a an of for to in on with by from and or as at is are be its into over under via using based "
    "toward towards through about between without new not no".split()
)


@dataclass(frozen=True, slots=True, eq=False)
class DayIndex:
    """Stems of each paper's words (title and abstract), with postings by stem and by prefix."""

    papers: tuple[Paper, ...]
    stems: tuple[frozenset[str], ...]
    by_stem: Mapping[str, frozenset[int]]
    by_prefix: Mapping[str, frozenset[int]]
    title_by_prefix: Mapping[str, frozenset[int]]
    lead_by_prefix: Mapping[str, frozenset[int]]

    def idf(self, prefix: str) -> float:
        """Rarity of a word prefix among the day's papers (a word no paper has weighs the most)."""
        return math.log((len(self.papers) + 1) / (len(self.by_prefix.get(prefix, ())) + 0.5))


def _postings(groups: Iterable[tuple[int, Iterable[str]]]) -> dict[str, frozenset[int]]:
    found: dict[str, set[int]] = {}
    for i, keys in groups:
        for key in keys:
            found.setdefault(key, set()).add(i)
    return {k: frozenset(v) for k, v in found.items()}


@functools.lru_cache(maxsize=4)  # a memo of a pure function: every profile of a day shares one index
def day_index(papers: tuple[Paper, ...]) -> DayIndex:
    """Index a day's papers (pure; cached for the last few days asked)."""
    title_stems = [frozenset(stem(w) for w in WORD_RE.findall(p.title)) for p in papers]
    stems = [t | frozenset(stem(w) for w in WORD_RE.findall(p.abstract)) for p, t in zip(papers, title_stems,
                                                                                          strict=True)]
    return DayIndex(
        papers=papers,
        stems=tuple(stems),
        by_stem=_postings(enumerate(stems)),
        by_prefix=_postings((i, {s[:ROUTE_PREFIX] for s in words}) for i, words in enumerate(stems)),
        title_by_prefix=_postings((i, {s[:ROUTE_PREFIX] for s in words}) for i, words in enumerate(title_stems)),
        lead_by_prefix=_postings(
            (i, {stem(w)[:ROUTE_PREFIX] for w in WORD_RE.findall(p.abstract)[:LEAD_WORDS]})
            for i, p in enumerate(papers)
        ),
    )


def _could_match(field: Field, index: DayIndex) -> set[int]:
    """Papers holding every word of at least one of the field's phrases: the only ones that can score."""
    texts = [parse_term(t)[0] for t in field.terms] + list(field.keywords)
    texts += derived_phrases(field.name_en) + derived_phrases(field.description_en)
    found: set[int] = set()
    everything = set(range(len(index.papers)))
    for text in texts:
        prefix = text.rstrip().endswith("*")
        words = WORD_RE.findall(text.replace("*", " "))
        if not words:
            continue
        stems = [stem(w) for w in words]
        if prefix:  # "quantiz*": its last word may go on, so only its first letters must be there
            last, stems = words[-1].lower(), stems[:-1]
            hits = set(index.by_prefix.get(last[:ROUTE_PREFIX], ())) if len(last) >= ROUTE_PREFIX else everything
        else:
            hits = set(everything)
        for s in stems:
            hits &= index.by_stem.get(s, frozenset())
        found |= hits
        if not prefix:  # "KV cache" also matches "KVcache"
            found |= index.by_stem.get("".join(stems), frozenset())
    return found


def unnamed(field: Field) -> Field:
    """A profile as the ranker and the router see it: "My interests" is a section label, not a topic, and
    phrases are read in English, as papers are written (Chinese terms through the glossary; English phrases
    stay as they are)."""
    keywords = english_phrases(field.keywords)
    # A description the ranker cannot read (Chinese, or phrases just rewritten) is replaced by the English read.
    readable = keywords == field.keywords and not CJK.search(field.description_en)
    return replace(field, name_en="", name_zh="", keywords=keywords, ignore=english_phrases(field.ignore),
                   description_en=field.description_en if readable else "; ".join(keywords))


def english_phrases(phrases: Iterable[str]) -> tuple[str, ...]:
    """The phrases the offline matcher can read, in English, once each, in order (pure)."""
    return tuple(dict.fromkeys(e for e in map(english_phrase, phrases) if e))


def reader_spelling(phrases: Iterable[str]) -> dict[str, str]:
    """The reader's own spelling of each phrase read through the glossary, by its English reading (casefolded):
    a reason names "强化学习" to the reader who wrote it, not "reinforcement learning" (pure)."""
    readings = ((english_phrase(phrase), phrase) for phrase in phrases if CJK.search(phrase))
    out: dict[str, str] = {}
    for reading, phrase in readings:
        if reading:
            out.setdefault(reading.casefold(), phrase)
    return out


def _nearest(ranker: Ranker, papers: Sequence[Paper], count: int) -> set[int]:
    """The `count` papers closest in meaning to the ranker's (one) field: WordLlama cosine, ties by order."""
    if count <= 0 or not papers:
        return set()
    cosines = ranker.embedder.papers(papers) @ ranker.field_vectors[0]
    return {int(i) for i in np.argsort(-cosines, kind="stable")[:count]}


def interest_reason(labels: Sequence[str], value: float, lang: str) -> str:
    """The offline reason of an interest score: the profile's words the paper holds, or that it is close in
    meaning when it holds none of them yet the ranker values it."""
    if labels or value < WEAK_VALUE:
        return build_reason(labels, value, [], lang)
    return "与你的兴趣内容相近" if lang == "zh" else "Close in meaning to your interests"


def offline_interest_scores(field: Field, papers: Sequence[Paper], lang: str,
                            model: Model | None = None) -> dict[str, Score]:
    """Rate every paper against one profile without tokens (pure; deterministic).

    The learned ranker, with the profile as its only field (its solo model: no default field's taste),
    values the papers that can be about the profile: those holding every word of one of its phrases, or
    ROUTE_MIN_SHARE of them in any order and form, and the EMBED_POOL closest in meaning. The rest hold
    nothing of it and score 1.0 ("no strong match"). Reasons are worded in every language; `model` is the
    shipped one unless given (the benchmark passes one trained without the field).
    """
    profile = unnamed(field)
    spelled = reader_spelling(field.keywords)
    index = day_index(tuple(papers))
    codes = sorted({*LANGUAGES, lang})
    nothing = {code: build_reason([], 1.0, [], code) for code in codes}
    valued: set[int] = set()
    if profile.keywords:  # else nothing of it can be read in English: no paper matches
        ranker = Ranker([profile], model if model is not None else shipped_model()[0])
        valued = _could_match(profile, index) | set(_routed(profile.keywords, index)) \
            | _nearest(ranker, index.papers, EMBED_POOL)
    out: dict[str, Score] = {}
    for i, paper in enumerate(index.papers):
        if i not in valued:
            out[paper.arxiv_id] = Score(paper.arxiv_id, field.slug, 1.0, nothing[lang], "offline", {field.slug: 1.0},
                                        nothing)
            continue
        found = ranker.evidence(paper)
        value = found.values[0]
        labels = [spelled.get(label.casefold(), label) for label in found.labels]
        reasons = {code: interest_reason(labels, value, code) for code in codes}
        out[paper.arxiv_id] = Score(paper.arxiv_id, field.slug, value, reasons[lang], "offline", {field.slug: value},
                                    reasons)
    return out


def _phrase_words(phrase: str) -> list[str]:
    words = [w for w in WORD_RE.findall(phrase.lower()) if w not in ROUTE_STOP and (len(w) > 1 or w.isdigit())]
    return sorted({stem(w)[:ROUTE_PREFIX] for w in words})


def _routed(phrases: Sequence[str], index: DayIndex) -> list[int]:
    """Papers holding ROUTE_MIN_SHARE of one phrase's words (in any order and form), best word coverage first."""
    evidence: dict[int, float] = {}
    share_max: dict[int, float] = {}
    for phrase in phrases:
        words = _phrase_words(phrase)
        weights = {w: max(index.idf(w), 0.1) for w in words}
        total = sum(weights.values())
        if not total:
            continue
        share: dict[int, float] = {}
        titled: dict[int, float] = {}
        lead: dict[int, float] = {}
        for w in words:
            for postings, sums in ((index.by_prefix, share), (index.title_by_prefix, titled),
                                   (index.lead_by_prefix, lead)):
                for i in postings.get(w, ()):
                    sums[i] = sums.get(i, 0.0) + weights[w] / total
        for i, s in share.items():
            share_max[i] = max(share_max.get(i, 0.0), s)
            bonus = TITLE_BONUS * titled.get(i, 0.0) ** 2 + LEAD_BONUS * lead.get(i, 0.0) ** 2
            evidence[i] = evidence.get(i, 0.0) + s * s + bonus
    eligible = [i for i, s in share_max.items() if s >= ROUTE_MIN_SHARE - 1e-9]
    eligible.sort(key=lambda i: (-evidence[i], index.papers[i].arxiv_id))
    return eligible


def route_candidates(phrases: Sequence[str], papers: Sequence[Paper], limit: int = ROUTE_LIMIT) -> list[str]:
    """The ids a profile's LLM judgement reads: best word coverage of its phrases (read in English) first, at
    most `limit`."""
    index = day_index(tuple(papers))
    return [index.papers[i].arxiv_id for i in _routed(english_phrases(phrases), index)[:limit]]


def rank_candidates(field: Field, pool: Sequence[Paper], limit: int) -> list[str]:
    """The best `limit` of a profile's routed `pool` (in routing order), ranked by the learned ranker.

    The ranker's logit for the profile as a field, plus ROUTE_WEIGHT times the paper's place in the
    routing order (1 for the first, 0 for the last), so word coverage still counts; ties by routing order.
    """
    if len(pool) <= limit:
        return [p.arxiv_id for p in pool]
    ranked = Ranker([unnamed(field)], shipped_model()[0]).rank_many(pool, "en")
    span = max(len(pool) - 1, 1)
    order = sorted(range(len(pool)),
                   key=lambda i: (-(ranked[i].rank_value + ROUTE_WEIGHT * (1 - i / span)), i))
    return [pool[i].arxiv_id for i in order[:limit]]
