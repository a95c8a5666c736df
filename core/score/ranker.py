"""The learned ranker: an offline scorer whose weights were fitted to a strong LLM's daily picks.

Owns loading the shipped model file (`data/ranker/model.json`, written by bench/train_ranker.py), the
per-(paper, field) logit, its calibration to the 1-10 scale, the best field, the one-line reason, and
the ranking the cheap stage uses to choose what the LLM reads. A drop-in for `OfflineScorer`: same
constructor and `score`/`score_many`, stage "offline", a value for every field. The features it weighs
(core/score/ranker_text.py) relate a paper to a field's own text, words and meaning (the cosine of their
WordLlama vectors, core/score/ranker_embed.py), so a field written by a user, never seen in training, is
ranked too; a field the model was trained on (matched by slug) also weighs its own words and the paper's
vector on top, and a field it never saw, next to such fields, is put on their scale (a scale and offset of
its agnostic share, fitted in training with each known field left out in turn). A deployment none of
whose fields the model knows (its own fields only, or one `/interests` profile) is ranked by the solo
model instead: how well the paper fits each field by the pair features alone, learned from every trained
field's picks pooled, with its own calibration, so that the default fields' taste (their words and
categories, which the pick model weighs) does not decide what a lab's own field reads. Pure apart from
reading the model file and WordLlama's table once; deterministic.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.models import Field, Paper, Score
from core.score.offline import OfflineScorer
from core.score.ranker_embed import EMBED_DIM, shared_embedder
from core.score.ranker_text import (
    PAIR_FEATURES,
    FieldQuery,
    IgnoreMatcher,
    PaperText,
    field_query,
    idf,
    pair_features,
    paper_text,
    query_vector,
    tfidf_vector,
    tokens,
)
from core.score.reasons import WEAK_VALUE, series

MODEL_PATH = Path(__file__).resolve().parents[2] / "data" / "ranker" / "model.json"
MODEL_VERSION = 6
CATEGORIES = ("cs.CV", "cs.LG", "cs.AI", "cs.RO", "cs.CL", "stat.ML", "other")
# Paper-level features of the pick model: category, shape, and the best value of each pair feature.
PAPER_FEATURES = (*CATEGORIES, "cross-listed", "authors", "abstract_length",
                  *(f"best_{name}" for name in PAIR_FEATURES))
# The solo model's features: a field's pair features without those comparing it with other fields, so that
# one field or several of a user's own are weighed alike.
SOLO_FEATURES = tuple(n for n in PAIR_FEATURES if not n.endswith(("_best", "_margin")))
SOLO_INDEX = tuple(PAIR_FEATURES.index(n) for n in SOLO_FEATURES)
PICK_SHARE = 0.24  # the labelled days' median pick rate: this top share of papers is calibrated to >= 7
MEDIAN_VALUE = 3.5  # the median paper: most papers score 4 or less
PICK_VALUE = 7.0
REASON_TERMS = 3
IGNORED_REASON = 1.0  # log1p(ignore evidence) from which the reason names the low-priority area


def paper_features(paper: Paper, pair_rows: Sequence[Sequence[float]]) -> list[float]:
    """PAPER_FEATURES of a paper, given its pair features against every configured field."""
    primary = paper.primary_category if paper.primary_category in CATEGORIES[:-1] else "other"
    row = [1.0 if c == primary else 0.0 for c in CATEGORIES]
    row.append(1.0 if set(paper.categories) - {paper.primary_category} else 0.0)
    row.append(math.log1p(len(paper.authors)) / 3.0)
    row.append(math.log1p(len(paper.abstract)) / 8.0)
    row.extend(max(r[k] for r in pair_rows) for k in range(len(PAIR_FEATURES)))
    return row


def fit_calibration(sorted_logits: Sequence[float], share: float = PICK_SHARE) -> dict[str, float]:
    """Map logits to 1-10 with a logistic curve: the median paper to MEDIAN_VALUE, the top `share` to 7."""
    n = len(sorted_logits)
    median = sorted_logits[n // 2]
    pick = sorted_logits[min(n - 1, int(n * (1.0 - share)))]
    low, high = (MEDIAN_VALUE - 1.0) / 9.0, (PICK_VALUE - 1.0) / 9.0
    a, b = math.log(low / (1 - low)), math.log(high / (1 - high))
    scale = (pick - median) / (b - a) if pick > median else 1.0
    return {"center": round(median - a * scale, 6), "scale": round(scale, 6)}


def calibrated(logit: float, center: float, scale: float) -> float:
    """A logit on the 1-10 scale by a calibration of fit_calibration, rounded to one decimal like the offline
    scorer's values."""
    z = (logit - center) / scale
    return round(1.0 + 9.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))), 1)


@dataclass(frozen=True, slots=True)
class Model:
    """The weights of a trained ranker, as the model file holds them."""

    docs: int
    bias: float
    paper: tuple[float, ...]  # pick model: PAPER_FEATURES
    pair: tuple[float, ...]  # field model: PAIR_FEATURES
    df: Mapping[str, int]
    words: Mapping[str, float]
    center: float
    scale: float
    mix: float = 1.0  # weight of the field-agnostic share for a field the model knows
    # slug: bias, word weights, weights of the paper's embedding (core/score/ranker_embed.py)
    known: Mapping[str, tuple[float, Mapping[str, float], tuple[float, ...]]] = dataclass_field(default_factory=dict)
    # A field without words next to known ones: its agnostic share times this scale, plus this offset.
    unknown_scale: float = 1.0
    unknown_offset: float = 0.0
    # The solo model, for a deployment with no known field: bias, SOLO_FEATURES weights, its calibration.
    solo_bias: float = 0.0
    solo: tuple[float, ...] = (0.0,) * len(SOLO_FEATURES)
    solo_center: float = 0.0
    solo_scale: float = 1.0

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Model:
        if raw.get("version") != MODEL_VERSION:
            raise ConfigError(f"ranker model version {raw.get('version')!r} is not supported")
        grams = str(raw["grams"]).split("\n")
        if not len(grams) == len(raw["df"]) == len(raw["weights"]):
            raise ConfigError("ranker model: grams, df and weights differ in length")
        min_df = int(raw["field_min_df"])
        field_grams = [g for g, n in zip(grams, raw["df"], strict=True) if n >= min_df]
        known: dict[str, tuple[float, Mapping[str, float], tuple[float, ...]]] = {}
        for slug, entry in raw["known"].items():
            if len(entry["weights"]) != len(field_grams):
                raise ConfigError(f"ranker model: the word weights of {slug!r} do not match its grams")
            if len(entry["embed"]) != EMBED_DIM:
                raise ConfigError(f"ranker model: the embedding weights of {slug!r} are not {EMBED_DIM} wide")
            known[slug] = (float(entry["bias"]),
                           {g: w for g, w in zip(field_grams, entry["weights"], strict=True) if w},
                           tuple(float(v) for v in entry["embed"]))
        return cls(
            docs=int(raw["docs"]),
            bias=float(raw["bias"]),
            paper=tuple(float(raw["paper"][n]) for n in PAPER_FEATURES),
            pair=tuple(float(raw["pair"][n]) for n in PAIR_FEATURES),
            df=dict(zip(grams, raw["df"], strict=True)),
            words={g: w for g, w in zip(grams, raw["weights"], strict=True) if w},
            center=float(raw["calibration"]["center"]),
            scale=float(raw["calibration"]["scale"]),
            mix=float(raw["mix"]),
            known=known,
            unknown_scale=float(raw["unknown"]["scale"]),
            unknown_offset=float(raw["unknown"]["offset"]),
            solo_bias=float(raw["solo"]["bias"]),
            solo=tuple(float(raw["solo"]["pair"][n]) for n in SOLO_FEATURES),
            solo_center=float(raw["solo"]["calibration"]["center"]),
            solo_scale=float(raw["solo"]["calibration"]["scale"]),
        )

    def value(self, logit: float, solo: bool = False) -> float:
        """The 1-10 score of a logit (of the solo model if `solo`)."""
        return calibrated(logit, self.solo_center, self.solo_scale) if solo else \
            calibrated(logit, self.center, self.scale)


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> Model:
    """Read a model file once per process (it is shipped, never changed at run time)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the ranker model {path}: {exc}") from exc
    return Model.from_json(raw)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A paper against the ranker's fields: the best field (its index), its logit, each field's 1-10 value, the
    best field's grams the paper holds (most telling first) and whether it is mainly about an ignored area."""

    best: int
    logit: float
    values: tuple[float, ...]
    labels: tuple[str, ...]
    ignored: bool


@dataclass(frozen=True, slots=True)
class Ranked:
    """A paper's score and the raw logit of its best field, which orders papers for the cheap stage."""

    score: Score
    rank_value: float


class Ranker:
    """Scores papers against fields with the learned model; deterministic, pure and fast."""

    def __init__(self, fields: Sequence[Field], model: Model | None = None) -> None:
        if not fields:
            raise ConfigError("the ranker needs at least one field")
        self.fields = tuple(fields)
        self.model = model if model is not None else load_model()
        self.offline = OfflineScorer(fields)
        self.ignore = IgnoreMatcher(fields)
        self.queries: tuple[FieldQuery, ...] = tuple(field_query(f) for f in fields)
        self.query_vectors = tuple(query_vector(q, self.model.df, self.model.docs) for q in self.queries)
        self.embedder = shared_embedder()
        self.field_vectors = self.embedder.fields(self.fields)
        # Fields the model was trained on, by slug; a user's own field is ranked by the agnostic model only.
        self.known = tuple((i, self.model.known[f.slug][:2], np.array(self.model.known[f.slug][2]))
                           for i, f in enumerate(self.fields) if f.slug in self.model.known)
        # Next to known fields, a user's own field is put on their scale (fitted with fields left out).
        self.unknown = tuple(i for i, f in enumerate(self.fields) if f.slug not in self.model.known) \
            if self.known else ()
        self.solo = not self.known  # none of the fields is known: the solo model ranks them

    def logits(self, paper: Paper) -> list[float]:
        """The model's logit for each field, in field order: P(picked) times the field's share (with no known
        field: the solo model's logit of each field)."""
        return self._logits(paper)[0]

    def _logits(self, paper: Paper) -> tuple[list[float], list[list[float]], PaperText]:
        m = self.model
        text = paper_text(paper)
        offline = self.offline.score(paper, "en").field_scores
        meaning = self.embedder.paper(paper)
        cosines = [float(c) for c in self.field_vectors @ meaning]
        rows = pair_features(text, self.queries, self.query_vectors, [offline[f.slug] for f in self.fields],
                             self.ignore.evidence(paper), m.df, m.docs, cosines)
        if self.solo:
            return [m.solo_bias + sum(w * row[k] for w, k in zip(m.solo, SOLO_INDEX, strict=True))
                    for row in rows], rows, text
        pick = m.bias + sum(w * x for w, x in zip(m.paper, paper_features(paper, rows), strict=True))
        vector = tfidf_vector(text.all, m.df, m.docs)
        pick += sum(v * m.words.get(g, 0.0) for g, v in vector.items())
        shares = [sum(w * x for w, x in zip(m.pair, row, strict=True)) for row in rows]
        for i, own, embed in self.known:  # a field seen in training also weighs its own words and meaning
            bias, words = own
            shares[i] = (m.mix * shares[i] + bias + sum(v * words.get(g, 0.0) for g, v in vector.items())
                         + float(embed @ meaning))
        for i in self.unknown:
            shares[i] = m.unknown_scale * shares[i] + m.unknown_offset
        top = max(shares)
        # The best field carries the pick logit; another field is lower by how much less it fits.
        return [pick + share - top for share in shares], rows, text

    def evidence(self, paper: Paper) -> Evidence:
        """What the model finds for a paper, before it is worded in any language."""
        logits, rows, text = self._logits(paper)
        best = max(range(len(self.fields)), key=lambda i: (logits[i], -i))
        return Evidence(
            best=best,
            logit=logits[best],
            values=tuple(self.model.value(v, self.solo) for v in logits),
            labels=tuple(self._matched(text, best)),
            ignored=rows[best][PAIR_FEATURES.index("ignored")] >= IGNORED_REASON,
        )

    def rank(self, paper: Paper, lang: str = "zh", langs: Sequence[str] = ()) -> Ranked:
        """Score one paper and keep its best logit for ordering. The reason is worded in `lang`; with `langs`,
        `reasons` holds it in `lang` and each of `langs`, all from one reading of the paper."""
        found = self.evidence(paper)
        field = self.fields[found.best]
        value = found.values[found.best]
        reasons = {code: build_reason(field, found.labels, value, found.ignored, code)
                   for code in dict.fromkeys([lang, *langs])}
        score = Score(
            arxiv_id=paper.arxiv_id,
            field_slug=field.slug,
            value=value,
            reason=reasons[lang],
            stage="offline",
            field_scores={f.slug: v for f, v in zip(self.fields, found.values, strict=True)},
            reasons=reasons if langs else {},
        )
        return Ranked(score, found.logit)

    def score(self, paper: Paper, lang: str = "zh") -> Score:
        """Score one paper against every field; the best field and its value lead."""
        return self.rank(paper, lang).score

    def score_many(self, papers: Sequence[Paper], lang: str = "zh") -> list[Score]:
        """Score papers in order; each score is the same as scoring that paper alone."""
        return [self.score(p, lang) for p in papers]

    def rank_many(self, papers: Sequence[Paper], lang: str = "zh") -> list[Ranked]:
        return [self.rank(p, lang) for p in papers]

    def _matched(self, paper: PaperText, index: int) -> list[str]:
        """What a reason names: the field's phrases (keywords, terms) the paper holds whole, as the field writes
        them, then its other grams the paper holds, most telling first (weight x IDF); a word the field names only
        inside two-word phrases is shown as the phrase the paper holds, or not at all."""
        text = paper.all
        query = self.queries[index]

        def shown(gram: str) -> str:
            if gram not in query.bound:
                return gram
            held = sorted(b for b in query.bound[gram] if b in text)
            return held[0] if held else ""

        def telling(gram: str) -> float:
            return query.weights.get(gram, 0.0) * idf(self.model.df, self.model.docs, gram)

        # (how telling, a word rather than a phrase, label): the field's phrases the paper holds whole come first
        # (the strongest evidence a reason can name), most telling first (as their most telling gram), and then
        # stand for their own words; then the other grams.
        hits = [(telling(g), True, label) for g in query.weights if g in text and (label := shown(g))]
        hits += [(max(telling(g) for g in needed), False, phrase) for phrase, needed in query.phrases.items()
                 if needed <= text.keys()]
        labels: list[str] = []
        said: list[str] = []  # the labels' words, spaced: "low-rank compensation" -> " low rank compensation "
        for _, _, label in sorted(hits, key=lambda h: (h[1], -h[0], h[2])):
            words = f" {' '.join(tokens(label))} "
            if not any(words in x or x in words for x in said):
                labels.append(label)
                said.append(words)
        return labels[:REASON_TERMS]


def select(ranked: Sequence[Ranked], pass_rate: float, min_keep: int = 10) -> list[str]:
    """The ids the LLM should read: the top `pass_rate` share by rank value, best first (ties by id)."""
    unique = list({r.score.arxiv_id: r for r in ranked}.values())
    count = min(len(unique), max(math.ceil(len(unique) * pass_rate), min_keep))
    order = sorted(unique, key=lambda r: (-r.rank_value, r.score.arxiv_id))
    return [r.score.arxiv_id for r in order[:count]]


def build_reason(field: Field, labels: Sequence[str], value: float, ignored: bool, lang: str) -> str:
    """One line in the reader's language: the field, the words that tie the paper to it, a low-priority note."""
    zh = lang == "zh"
    name, terms = field.name(lang), series(labels, lang)
    if not labels:
        reason = f"与「{name}」无明显匹配" if zh else f"No strong match with {name}"
    elif value < WEAK_VALUE:
        reason = f"与「{name}」弱匹配：{terms}" if zh else f"Weak match with {name}: {terms}"
    else:
        reason = f"符合「{name}」：{terms}" if zh else f"Fits {name}: {terms}"
    if ignored and field.ignore:
        area = series(field.ignore, lang)
        reason += f"；涉及{area}（低优先级）" if zh else f"; touches {area} (low priority)"
    return reason
