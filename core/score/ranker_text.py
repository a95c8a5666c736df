"""Text features of the learned ranker: what a paper's words are, and how they relate to a field.

Owns tokenising papers and fields into stems and bigrams, the field's query (its name, description,
keywords and weighted terms), its exclusions (`ignore` areas and negative terms), and the per-(paper,
field) features that do not depend on which field it is: lexical similarity (BM25 and TF-IDF cosine
against document frequencies shipped with the model), term hits in title and abstract, the hand-weighted
offline evidence, and exclusion hits. The model that weighs them lives in `core/score/ranker.py`. Pure:
no IO, no clock, and a paper's features never depend on the day's other papers.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from core.fields import parse_term
from core.models import Field, Paper
from core.score.offline import WORD_RE, _Matcher, ignore_phrases, stem

BM25_K1 = 1.2
BM25_B = 0.75
TEXT_CACHE_SIZE = 2_048  # papers whose grams are remembered: a large listing day (~21 KB each, ~45 MB when full)
AVG_TITLE = 11.0  # words in a title, about
AVG_ABSTRACT = 190.0  # words in an abstract, about
KEYWORD_WEIGHT = 2.5
NAME_WEIGHT = 1.5
DESCRIPTION_WEIGHT = 1.0
STOPWORDS = frozenset(
    "a an the of and or for to in on with by from as at is are was were be been being this that these those "
    "it its we our their they them which who whom what when where how than then there here such via into "
    "over under between both each more most other some any can may might will would should could not no "
    "e g i etc also only while however thus using based use used new paper propose proposed show shows "
    "approach method methods work results result like make making toward towards understanding".split()
)
# Names of the dense pair features, in order; the model file stores weights under these names.
PAIR_FEATURES = (
    "offline", "offline_best", "offline_margin",
    "bm25_title", "bm25_abstract", "cosine", "cosine_margin", "bm25_margin",
    "term_title", "term_abstract", "coverage",
    "ignored", "ignored_title", "negative",
    "embed_cosine", "embed_margin",
)


def tokens(text: str) -> list[str]:
    """Stems of the words of a text, stopwords included (bigrams need their neighbours)."""
    return [stem(w) for w in WORD_RE.findall(text)]


def grams(stems: Sequence[str]) -> list[str]:
    """Unigrams and bigrams without stopwords; a bigram is the two stems joined by a space."""
    out = [s for s in stems if s not in STOPWORDS and len(s) > 1]
    out += [f"{a} {b}" for a, b in zip(stems, stems[1:], strict=False)
            if a not in STOPWORDS and b not in STOPWORDS and len(a) > 1 and len(b) > 1]
    return out


@dataclass(frozen=True, slots=True)
class PaperText:
    """A paper's grams, counted separately in title and abstract, and together (`all`). Shared by every ranker
    of the process (paper_text remembers them), so no caller may change the counters."""

    title: Counter[str]
    abstract: Counter[str]
    title_len: int
    abstract_len: int
    all: Counter[str]


@functools.lru_cache(maxsize=TEXT_CACHE_SIZE)  # a memo of a pure function: every field and profile of a day
def paper_text(paper: Paper) -> PaperText:
    title = tokens(paper.title)
    abstract = tokens(paper.abstract)
    in_title, in_abstract = Counter(grams(title)), Counter(grams(abstract))
    return PaperText(in_title, in_abstract, len(title), len(abstract), in_title + in_abstract)


@dataclass(frozen=True, slots=True)
class FieldQuery:
    """A field as weighted grams to look for, and the grams that count against it."""

    weights: Mapping[str, float]  # positive: the field's vocabulary
    negative: Mapping[str, float]  # negative terms ("not X" in interests arrives as an ignore entry)
    # A word the field names only inside two-word phrases (keywords, terms): the phrases' bigrams. It still
    # counts as evidence, but a reason names it only when the paper holds one of them ("double" and
    # "descent" of "double descent" are not a match for a paper on a double dissociation and gradient descent).
    bound: Mapping[str, frozenset[str]] = dataclass_field(default_factory=dict)
    # Phrases of several words (keywords, terms), as the field writes them, with the grams a paper must hold to
    # hold the phrase: a reason names "mixture of experts" rather than "mixture, expert".
    phrases: Mapping[str, frozenset[str]] = dataclass_field(default_factory=dict)


def field_query(field: Field) -> FieldQuery:
    """Collect a field's grams: terms with their weights, keywords, and the words of name and description."""
    weights: dict[str, float] = {}
    negative: dict[str, float] = {}
    free: set[str] = set()  # words the field names on their own (name, description, one-word phrases)
    bound: dict[str, set[str]] = {}
    phrases: dict[str, frozenset[str]] = {}

    def add(text: str, weight: float, phrase: bool = False) -> None:
        found = grams(tokens(text.replace("*", "")))
        pairs = [g for g in found if " " in g]
        if phrase and weight > 0 and len(found) - len(pairs) > 1 and not text.rstrip().endswith("*"):
            phrases.setdefault(" ".join(text.split()), frozenset(found))
        for gram in found:
            if weight < 0:
                negative[gram] = max(negative.get(gram, 0.0), -weight)
                continue
            weights[gram] = max(weights.get(gram, 0.0), weight)
            if " " in gram:
                continue
            if phrase and pairs:
                bound.setdefault(gram, set()).update(p for p in pairs if gram in p.split(" "))
            else:
                free.add(gram)

    add(field.name_en, NAME_WEIGHT)
    add(field.description_en, DESCRIPTION_WEIGHT)
    for keyword in field.keywords:
        add(keyword, KEYWORD_WEIGHT, phrase=True)
    for term in field.terms:
        add(*parse_term(term), phrase=True)
    return FieldQuery(weights, negative, {g: frozenset(b) for g, b in bound.items() if g not in free}, phrases)


class IgnoreMatcher:
    """Counts how much of a paper is about each field's `ignore` areas (title hits count double)."""

    def __init__(self, fields: Sequence[Field]) -> None:
        areas = sorted({f.ignore for f in fields})  # fields usually share one ignore list: match it once
        self.owner_of = [areas.index(f.ignore) for f in fields]
        self.owners = [ignore_phrases(a) for a in areas]
        self.matcher = _Matcher(self.owners)

    def evidence(self, paper: Paper) -> list[tuple[float, float]]:
        """Per field: (weighted hits in title and abstract, weighted hits in the title)."""
        if not any(self.owners):  # no field ignores anything (a profile that avoids nothing): nothing to find
            return [(0.0, 0.0)] * len(self.owner_of)
        in_title = self.matcher.find(paper.title)
        in_abstract = self.matcher.find(paper.abstract)
        per_owner = []
        for owner, phrases in enumerate(self.owners):
            title = sum(phrases[i].weight for i in in_title[owner])
            abstract = sum(phrases[i].weight * min(c, 3) for i, (c, _) in in_abstract[owner].items())
            per_owner.append((2.0 * title + 0.5 * abstract, title))
        return [per_owner[o] for o in self.owner_of]


def idf(df: Mapping[str, int], docs: int, gram: str) -> float:
    """Smoothed inverse document frequency; a gram never seen counts as rare."""
    n = df.get(gram, 0)
    return math.log(1.0 + (docs - n + 0.5) / (n + 0.5))


def bm25(counts: Counter[str], length: int, avg: float, query: Mapping[str, float],
         df: Mapping[str, int], docs: int) -> float:
    score = 0.0
    norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / avg)
    for gram, tf in counts.items():
        weight = query.get(gram)
        if weight:
            score += weight * idf(df, docs, gram) * tf * (BM25_K1 + 1.0) / (tf + norm)
    return score


def tfidf_vector(counts: Counter[str], df: Mapping[str, int], docs: int) -> dict[str, float]:
    """L2-normalised sublinear TF-IDF vector of a paper's grams."""
    vec = {g: (1.0 + math.log(c)) * idf(df, docs, g) for g, c in counts.items() if c > 0}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {g: v / norm for g, v in vec.items()} if norm else {}


def query_vector(query: FieldQuery, df: Mapping[str, int], docs: int) -> dict[str, float]:
    """A field's grams as an L2-normalised vector: term weight times IDF."""
    vec = {g: w * idf(df, docs, g) for g, w in query.weights.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {g: v / norm for g, v in vec.items()} if norm else {}


def pair_features(
    text: PaperText,
    queries: Sequence[FieldQuery],
    query_vectors: Sequence[Mapping[str, float]],
    offline_values: Sequence[float],
    ignored: Sequence[tuple[float, float]],
    df: Mapping[str, int],
    docs: int,
    embed_cosines: Sequence[float],
) -> list[list[float]]:
    """One row of PAIR_FEATURES per field, for one paper; margins compare a field with the best other.
    `embed_cosines`: the cosine of the paper's WordLlama vector with each field's (core/score/ranker_embed.py)."""
    paper_vec = tfidf_vector(text.all, df, docs)
    raw = []
    for query, qvec, offline in zip(queries, query_vectors, offline_values, strict=True):
        title = bm25(text.title, text.title_len, AVG_TITLE, query.weights, df, docs)
        abstract = bm25(text.abstract, text.abstract_len, AVG_ABSTRACT, query.weights, df, docs)
        cosine = sum(v * qvec.get(g, 0.0) for g, v in paper_vec.items())
        term_title = term_abstract = covered = total = 0.0
        for g, w in query.weights.items():  # one pass: fields with many terms are the slow part
            total += w
            in_title, in_abstract = g in text.title, g in text.abstract
            term_title += w if in_title else 0.0
            term_abstract += w if in_abstract else 0.0
            covered += w if in_title or in_abstract else 0.0
        coverage = covered / (total or 1.0)
        negative = sum(w for g, w in query.negative.items() if g in text.title or g in text.abstract)
        raw.append((offline, title, abstract, cosine, term_title, term_abstract, coverage, negative))
    rows = []
    for i, (offline, title, abstract, cosine, term_title, term_abstract, coverage, negative) in enumerate(raw):
        others = [r for j, r in enumerate(raw) if j != i] or [(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)]
        best_offline = max(r[0] for r in others)
        best_cosine = max(r[3] for r in others)
        best_bm25 = max(r[1] + r[2] for r in others)
        best_embed = max((c for j, c in enumerate(embed_cosines) if j != i), default=0.0)
        rows.append([
            (offline - 1.0) / 9.0,
            1.0 if offline >= best_offline and offline > 1.0 else 0.0,
            (offline - best_offline) / 9.0,
            math.log1p(title),
            math.log1p(abstract),
            cosine * 5.0,
            (cosine - best_cosine) * 5.0,
            math.log1p(title + abstract) - math.log1p(best_bm25),
            math.log1p(term_title),
            math.log1p(term_abstract),
            coverage,
            math.log1p(ignored[i][0]),
            1.0 if ignored[i][1] > 0 else 0.0,
            math.log1p(negative),
            embed_cosines[i] * 5.0,
            (embed_cosines[i] - best_embed) * 5.0,
        ])
    return rows
