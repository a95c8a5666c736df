"""Train the learned ranker (core/score/ranker.py) on labelled listing days and write its model file.

    .venv/bin/python bench/train_ranker.py [--data ../shared/data/labelled-days] [--out data/ranker/model.json]

Reads every `*.jsonl` day of the folder (see its README: one strong LLM's picks; labels are noisy, so
evaluate by whole days, see bench/eval_ranker.py), fits whether the LLM picked a paper at all (its
picks scored >= 8 weigh W_STRONG) and for which field, and writes the weights, the document
frequencies and the calibration as JSON. Deterministic: same data, same file. Needs the `bench` extra
(scipy, scikit-learn); the product reads the file with json and weighs the embedding with numpy.

The pair features are field-agnostic (core/score/ranker_text.py: BM25, TF-IDF cosine, term hits,
offline evidence, exclusions); a paper's own words and category add a field-independent prior learned
from what the LLM tends to pick at all. Which field: the agnostic model ranks any field; each of the
fields trained on (by slug) also gets its own bias and word weights (grams with df >= FIELD_MIN_DF) on
top of the agnostic share, fitted on the picks as one softmax over the fields, with its regularisation
chosen on held-out training days (never the days being evaluated). A user's own field keeps the
agnostic model only, put on the known fields' scale by a scale and offset of its agnostic share that are
fitted on training data with each known field left out in turn (fit_unknown), so that the known fields'
large word weights do not crowd it out. A deployment with no known field uses the solo model instead
(fit_solo): whether a paper is picked for a field, from that field's SOLO_FEATURES alone, fitted on every
(paper, field) pair pooled, with its own calibration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.fetch.jsonl import parse_paper_line  # noqa: E402
from core.fields import load_fields  # noqa: E402
from core.models import Field, Paper  # noqa: E402
from core.score.offline import OfflineScorer  # noqa: E402
from core.score.ranker import (  # noqa: E402
    MODEL_PATH,
    MODEL_VERSION,
    PAPER_FEATURES,
    SOLO_FEATURES,
    SOLO_INDEX,
    fit_calibration,
    paper_features,
)
from core.score.ranker_embed import Embedder  # noqa: E402
from core.score.ranker_text import (  # noqa: E402
    PAIR_FEATURES,
    IgnoreMatcher,
    PaperText,
    field_query,
    pair_features,
    paper_text,
    query_vector,
    tfidf_vector,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "labelled-days"
FIELDS_PATH = ROOT / "data" / "fields" / "default.toml"
MIN_DF = 3  # grams seen in fewer training papers are not kept (they count as rare)
C_PICK = 4.0  # inverse regularisation of the pick model (words and paper features)
C_FIELD = 1.0  # of the field model (pair features)
C_SOLO = 1.0  # of the solo model (SOLO_FEATURES of every (paper, field) pair)
# The solo model also learns each field as a user might write it: with this many of its weighted terms
# (drawn with THIN_SEED), beside the field as it is. Trained on the full fields alone, a field written with
# a few terms (weaker evidence than the default fields' 70-160 terms) almost never reached the value 7.
THIN_TERMS = (10, 0)
THIN_SEED = 0
FIELD_MIN_DF = 10  # grams the per-field word weights of the known fields may use
# Of the known fields' model, chosen on held-out training days when more than one. Larger C (8-128) agrees
# more on the known fields but crowds out a user's field in leave-one-field-out even once placed.
C_KNOWN_GRID = (2.0,)
SOFTMAX_ITER = 400  # L-BFGS steps of the known fields' model: field agreement is flat well before
# A field without words: its scale by likelihood, then its offset so that it wins as many held-out picks
# as are its own ("count"; "likelihood" keeps the fitted offset, which leaves it short of its picks).
UNKNOWN_PLACEMENT = "count"
UNKNOWN_ITER = 150  # L-BFGS steps of each left-out-field fit that places a field without words (warm start)
# The paper's unit embedding in the known fields' model, scaled by this (a smaller scale regularises its
# weights more); the model file holds the weights of the unit vector.
EMBED_SCALE = 0.5
W_STRONG = 2.0  # sample weight of the picks scored >= 8 in the pick model: the cheap stage must keep them


@dataclass(frozen=True, slots=True)
class Label:
    field_slug: str
    score: float


@dataclass(frozen=True, slots=True)
class Day:
    name: str
    papers: list[Paper]
    labels: list[Label | None]


def load_day(path: Path) -> Day:
    """A labelled day's papers exactly as the product reads such a file (core/fetch/jsonl.py: TeX accents and
    formatting decoded, as the fetchers store them), so the model learns from the text it will meet."""
    papers, labels = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            papers.append(parse_paper_line(line))
        except ValueError as exc:
            raise SystemExit(f"{path}:{number}: {exc}") from None
        label = json.loads(line).get("label")
        labels.append(Label(str(label["field"]), float(label["score"])) if label else None)
    return Day(path.stem, papers, labels)


def load_days(folder: Path) -> list[Day]:
    days = [load_day(p) for p in sorted(folder.glob("*.jsonl"))]
    if not days:
        raise SystemExit(f"no labelled days in {folder}")
    return days


class Corpus:
    """Everything about the papers that does not depend on the training split, computed once."""

    def __init__(self, days: Sequence[Day], fields: Sequence[Field]) -> None:
        self.fields = list(fields)
        self.days = list(days)
        self.papers = [p for d in days for p in d.papers]
        self.labels = [lab for d in days for lab in d.labels]
        self.day_of = np.array([i for i, d in enumerate(days) for _ in d.papers])
        self.texts: list[PaperText] = [paper_text(p) for p in self.papers]
        self.grams: list[set[str]] = [set(t.all) for t in self.texts]
        offline = OfflineScorer(fields)
        self.offline = [[s.field_scores[f.slug] for f in fields] for s in offline.score_many(self.papers, "en")]
        ignore = IgnoreMatcher(fields)
        self.ignored = [ignore.evidence(p) for p in self.papers]
        self.embedder = Embedder()
        self.embeddings = self.embedder.papers(self.papers)  # (papers, EMBED_DIM) unit vectors


def document_frequencies(corpus: Corpus, rows: Sequence[int] | np.ndarray) -> dict[str, int]:
    df: Counter[str] = Counter()
    for i in rows:
        df.update(corpus.grams[i])
    return {g: n for g, n in sorted(df.items()) if n >= MIN_DF}


@dataclass
class Matrices:
    """Features of every paper of a corpus against the fields, with one table of document frequencies."""

    pair: np.ndarray  # (papers, fields, len(PAIR_FEATURES))
    paper: np.ndarray  # (papers, len(PAPER_FEATURES)): category, shape, and the pair features' best
    words: sp.csr_matrix  # (papers, vocabulary): the paper's TF-IDF vector
    embed: np.ndarray  # (papers, EMBED_DIM): the paper's unit WordLlama vector
    vocab: list[str]
    slugs: list[str]  # the fields of `pair`, in order
    field_vocab: np.ndarray  # columns of `words` the known fields' word weights use (df >= FIELD_MIN_DF)
    day: np.ndarray  # (papers,): the index of each paper's day, for choosing hyper-parameters by days
    weight: np.ndarray  # (papers,): the pick model's sample weight, W_STRONG for the picks scored >= 8
    thin: list[np.ndarray] = dataclass_field(default_factory=list)  # `pair` for thin_fields' copies (THIN_TERMS)


def build(corpus: Corpus, fields: Sequence[Field], df: dict[str, int], docs: int,
          offline_values: Sequence[Sequence[float]] | None = None) -> Matrices:
    """Features of all papers against the given fields (document frequencies carry no labels); the offline
    scorer's values are the corpus's for its fields (by slug), or `offline_values` in `fields` order."""
    slugs = [f.slug for f in corpus.fields]
    field_index = [slugs.index(f.slug) for f in fields]
    queries = [field_query(f) for f in fields]
    qvecs = [query_vector(q, df, docs) for q in queries]
    cosines = corpus.embeddings @ corpus.embedder.fields(fields).T
    vocab = sorted(df)
    column = {g: j for j, g in enumerate(vocab)}
    pair, paper = [], []
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for i in range(len(corpus.papers)):
        offline = list(offline_values[i]) if offline_values is not None else [corpus.offline[i][k] for k in field_index]
        ignored = [corpus.ignored[i][k] for k in field_index]
        rows = pair_features(corpus.texts[i], queries, qvecs, offline, ignored, df, docs, list(cosines[i]))
        pair.append(rows)
        paper.append(paper_features(corpus.papers[i], rows))
        for g, v in sorted(tfidf_vector(corpus.texts[i].all, df, docs).items()):
            j = column.get(g)
            if j is not None:
                indices.append(j)
                data.append(v)
        indptr.append(len(indices))
    words = sp.csr_matrix((np.array(data), np.array(indices, dtype=np.int64), np.array(indptr)),
                          shape=(len(corpus.papers), len(vocab)))
    field_vocab = np.array([j for j, g in enumerate(vocab) if df[g] >= FIELD_MIN_DF], dtype=np.int64)
    weight = np.array([W_STRONG if lab is not None and lab.score >= 8 else 1.0 for lab in corpus.labels])
    return Matrices(np.array(pair), np.array(paper), words, corpus.embeddings, vocab, [f.slug for f in fields],
                    field_vocab, corpus.day_of, weight)


def thin_fields(fields: Sequence[Field], keep: int) -> list[Field]:
    """Copies of the fields with `keep` of their weighted terms each (drawn with THIN_SEED), as a user might
    write them: name, description and keywords as they are."""
    rng = np.random.default_rng(THIN_SEED)
    thinned = []
    for f in fields:
        chosen = sorted(int(i) for i in rng.choice(len(f.terms), keep, replace=False)) if keep < len(f.terms) else \
            range(len(f.terms))
        thinned.append(replace(f, terms=tuple(f.terms[i] for i in chosen)))
    return thinned


def thin_pairs(corpus: Corpus, df: dict[str, int], docs: int) -> list[np.ndarray]:
    """The pair features of every paper against thin_fields' copies of the corpus's fields, per THIN_TERMS."""
    pairs = []
    for keep in THIN_TERMS:
        fields = thin_fields(corpus.fields, keep)
        offline = OfflineScorer(fields).score_many(corpus.papers, "en")
        values = [[s.field_scores[f.slug] for f in fields] for s in offline]
        pairs.append(build(corpus, fields, df, docs, values).pair)
    return pairs


def field_inputs(m: Matrices, rows: np.ndarray) -> sp.csr_matrix:
    """What the known fields weigh beyond the agnostic share: the paper's words (df >= FIELD_MIN_DF), then
    its embedding."""
    return sp.hstack([m.words[rows][:, m.field_vocab], sp.csr_matrix(m.embed[rows] * EMBED_SCALE)]).tocsr()


def targets(corpus: Corpus, fields: Sequence[Field]) -> np.ndarray:
    """(papers, fields): 1 where the LLM picked the paper for that field."""
    slugs = [f.slug for f in fields]
    return np.array([[1 if lab is not None and lab.field_slug == s else 0 for s in slugs] for lab in corpus.labels])


@dataclass
class Fitted:
    """The logistic regressions: whether a paper is picked at all, and for which field.

    The field model is field-agnostic (pair features only), so it ranks a field never seen in training;
    a field seen in training (by slug) adds its own bias and word weights on top of the agnostic share.
    """

    pick_w: np.ndarray  # words, then PAPER_FEATURES
    pick_b: float
    field_w: np.ndarray  # PAIR_FEATURES
    mix: float = 1.0  # weight of the agnostic share for a known field
    known: dict[str, tuple[float, np.ndarray]] = dataclass_field(default_factory=dict)  # slug: bias, words
    c_known: float = 0.0  # the C of the known fields' words, chosen on held-out training days
    unknown: tuple[float, float] = (1.0, 0.0)  # scale, offset of the agnostic share of a field without words
    solo: tuple[float, np.ndarray, dict[str, float]] = dataclass_field(  # bias, weights, calibration
        default_factory=lambda: (0.0, np.zeros(len(SOLO_FEATURES)), {"center": 0.0, "scale": 1.0}))


def fit_arrays(m: Matrices, y: np.ndarray, rows: np.ndarray, c_pick: float = C_PICK,
               c_field: float = C_FIELD, c_known: Sequence[float] = C_KNOWN_GRID) -> Fitted:
    picked = y[rows].max(axis=1)
    x = sp.hstack([m.words[rows], sp.csr_matrix(m.paper[rows])]).tocsr()
    pick = LogisticRegression(C=c_pick, max_iter=2000).fit(x, picked, sample_weight=m.weight[rows])
    fitted = fit_fields(m, y, rows, Fitted(pick.coef_[0], float(pick.intercept_[0]), np.zeros(0)), c_field, c_known)
    fitted.solo = fit_solo(m, y, rows)
    return fitted


def solo_inputs(pair: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(rows, fields, SOLO_FEATURES): each field's pair features that do not compare it with the others."""
    return np.asarray(pair[rows][:, :, list(SOLO_INDEX)])


def fit_solo(m: Matrices, y: np.ndarray, rows: np.ndarray) -> tuple[float, np.ndarray, dict[str, float]]:
    """The solo model: whether the LLM picked a paper for a field, from that pair's SOLO_FEATURES, pooled
    over every (paper, field) pair of `rows`, the fields as they are and their thin copies (m.thin) alike, so
    it learns what a fitting paper looks like for any field, however richly written, and nothing of which
    fields or papers the labeller favours. Its calibration puts the pairs' pick rate (the mean over fields
    of their share of the papers, about 3.6%) at 7."""
    x = np.concatenate([solo_inputs(pair, rows).reshape(-1, len(SOLO_INDEX)) for pair in (m.pair, *m.thin)])
    target = np.tile(y[rows].reshape(-1), 1 + len(m.thin))
    fit = LogisticRegression(C=C_SOLO, max_iter=2000).fit(x, target)
    logits = x @ fit.coef_[0] + fit.intercept_[0]
    return float(fit.intercept_[0]), fit.coef_[0], fit_calibration(sorted(float(v) for v in logits),
                                                                   float(target.mean()))


def solo_logits(pair: np.ndarray, fitted: Fitted, rows: np.ndarray) -> np.ndarray:
    """(rows, fields): the solo model's logit of each field of `pair` (a Matrices' pair, or one of its thin),
    as a deployment without known fields ranks."""
    bias, w, _ = fitted.solo
    return np.asarray(solo_inputs(pair, rows) @ w + bias)


def fit_softmax(share: np.ndarray, words: sp.csr_matrix, target: np.ndarray, c: float,
                start: np.ndarray | None = None, maxiter: int = 0) -> np.ndarray:
    """Which field, as a conditional logit over the fields: mix x agnostic share + bias + the paper's words
    times the field's word weights, L2-penalised by 1/(2c) on the words. Returns [mix, biases, words...]."""
    n, n_fields = share.shape
    width = words.shape[1]
    rows = np.arange(n)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[1 + n_fields:].reshape(n_fields, width)
        z = theta[0] * share + theta[1:1 + n_fields] + np.asarray(words @ w.T)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        value = -np.log(p[rows, target] + 1e-300).sum() + (w * w).sum() / (2 * c)
        p[rows, target] -= 1.0
        grad_w = np.asarray((words.T @ p).T) + w / c
        return float(value), np.concatenate([[float((p * share).sum())], p.sum(axis=0), grad_w.ravel()])

    theta = np.zeros(1 + n_fields * (1 + width)) if start is None else start
    options = {"maxiter": maxiter or SOFTMAX_ITER}
    return np.asarray(minimize(loss, theta, jac=True, method="L-BFGS-B", options=options).x)


def fit_fields(m: Matrices, y: np.ndarray, rows: np.ndarray, fitted: Fitted, c_field: float = C_FIELD,
               c_known: Sequence[float] = C_KNOWN_GRID) -> Fitted:
    """Fit the field models (agnostic, then the known fields' words) on the picks among `rows`.

    The known fields' C is chosen inside `rows`: fit on two thirds of its days, keep the C whose best
    field agrees most with the picks of the other third, then refit on all of `rows` with it.
    """
    picked = y[rows].max(axis=1)
    chosen = rows[picked == 1]  # the field models learn which field, among the picks
    n_fields, n_feat = m.pair.shape[1], m.pair.shape[2]
    field = LogisticRegression(C=c_field, max_iter=2000, fit_intercept=False).fit(
        m.pair[chosen].reshape(-1, n_feat), y[chosen].reshape(-1))
    fitted = Fitted(fitted.pick_w, fitted.pick_b, field.coef_[0])
    if not c_known:
        return fitted
    share = m.pair[chosen] @ fitted.field_w
    words = field_inputs(m, chosen)
    target = y[chosen].argmax(axis=1)
    days = np.unique(m.day[chosen])
    held = np.isin(m.day[chosen], days[2::3])
    best_c, start = c_known[0], None
    if len(c_known) > 1:
        best_agreement, theta = -1.0, None
        for c in sorted(c_known):  # each fit starts from the previous C's weights
            theta = fit_softmax(share[~held], words[~held], target[~held], c, theta)
            w = theta[1 + n_fields:].reshape(n_fields, -1)
            z = theta[0] * share[held] + theta[1:1 + n_fields] + np.asarray(words[held] @ w.T)
            agreement = float((z.argmax(axis=1) == target[held]).mean())
            if agreement > best_agreement:
                best_agreement, best_c, start = agreement, c, theta
    if n_fields > 1 and held.any() and (~held).any():
        if start is None:
            start = fit_softmax(share[~held], words[~held], target[~held], best_c)
        fitted.unknown = fit_unknown(share, words, target, held, best_c, start, m.pair[chosen], c_field)
    theta = fit_softmax(share, words, target, best_c, start)
    width = words.shape[1]
    fitted.mix = float(theta[0])
    fitted.c_known = best_c
    fitted.known = {slug: (float(theta[1 + k]), theta[1 + n_fields + k * width:1 + n_fields + (k + 1) * width])
                    for k, slug in enumerate(m.slugs)}
    return fitted


def fit_unknown(share: np.ndarray, words: sp.csr_matrix, target: np.ndarray, held: np.ndarray, c: float,
                start: np.ndarray, pair: np.ndarray | None = None, c_field: float = C_FIELD) -> tuple[float, float]:
    """How to put a field without word weights on the known fields' scale: a scale and an offset of its
    agnostic share, fitted on training data only. Each field in turn is left out: the known fields' model
    is fitted without its picks on the days not `held`, and on the `held` days' picks the left-out field
    (agnostic share only) competes with the others (their words). Pooled over the fields, the scale
    maximises the likelihood of the picks' fields there, and the offset (UNKNOWN_PLACEMENT "count") makes
    the left-out fields win as many of those picks as are theirs. Given the pair features, the agnostic
    model is refitted without the left-out field's picks too, as a field never seen meets it."""
    n_fields = share.shape[1]
    width = words.shape[1]
    pieces = []  # per left-out field: the others' logits, its agnostic share, the target column
    for j in range(n_fields):
        others = [k for k in range(n_fields) if k != j]
        train = ~held & (target != j)
        if not train.any():
            continue
        remap = np.full(n_fields, -1)
        remap[others] = np.arange(n_fields - 1)
        if pair is not None and n_fields > 2:
            fit = ~held & (target != j)
            sub = pair[fit][:, others]
            agnostic = LogisticRegression(C=c_field, max_iter=2000, fit_intercept=False).fit(
                sub.reshape(-1, sub.shape[2]), (remap[target[fit]][:, None] == np.arange(n_fields - 1)).reshape(-1))
            share = pair @ agnostic.coef_[0]
        w0 = start[1 + n_fields:].reshape(n_fields, width)
        theta0 = np.concatenate([[start[0]], start[1:1 + n_fields][others], w0[others].ravel()])
        theta = fit_softmax(share[train][:, others], words[train], remap[target[train]], c, theta0,
                            maxiter=UNKNOWN_ITER)
        w = theta[n_fields:].reshape(n_fields - 1, width)
        z = theta[0] * share[held][:, others] + theta[1:n_fields] + np.asarray(words[held] @ w.T)
        t = target[held]
        pieces.append((z, share[held][:, j], np.where(t == j, n_fields - 1, remap[t])))
    if not pieces:
        return 1.0, 0.0
    z = np.concatenate([p[0] for p in pieces])
    s = np.concatenate([p[1] for p in pieces])
    t = np.concatenate([p[2] for p in pieces])
    rows = np.arange(len(t))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        full = np.column_stack([z, ab[0] * s + ab[1]])
        full -= full.max(axis=1, keepdims=True)
        p = np.exp(full)
        p /= p.sum(axis=1, keepdims=True)
        value = -np.log(p[rows, t] + 1e-300).sum()
        g = p[:, -1] - (t == full.shape[1] - 1)
        return float(value), np.array([float((g * s).sum()), float(g.sum())])

    ab = minimize(loss, np.array([start[0], 0.0]), jac=True, method="L-BFGS-B").x
    if UNKNOWN_PLACEMENT == "count":  # keep the scale; the offset at which it wins as many picks as are its own
        gap = np.sort(z.max(axis=1) - ab[0] * s)
        own = int((t == z.shape[1]).sum())
        ab[1] = (gap[own - 1] + gap[min(own, len(gap) - 1)]) / 2 if own else ab[1]
    return round(float(ab[0]), 6), round(float(ab[1]), 6)


def pick_logits(m: Matrices, fitted: Fitted, rows: np.ndarray) -> np.ndarray:
    x = sp.hstack([m.words[rows], sp.csr_matrix(m.paper[rows])]).tocsr()
    return np.asarray(x @ fitted.pick_w + fitted.pick_b)


def field_shares(m: Matrices, fitted: Fitted, rows: np.ndarray) -> np.ndarray:
    """(rows, fields): how well each field fits; a field the model knows by slug adds its own words."""
    share = m.pair[rows] @ fitted.field_w
    words = field_inputs(m, rows)
    scale, offset = fitted.unknown
    for k, slug in enumerate(m.slugs):
        if slug in fitted.known:
            bias, w = fitted.known[slug]
            share[:, k] = fitted.mix * share[:, k] + bias + words @ w
        elif fitted.known:  # a field without words, put on the known fields' scale
            share[:, k] = scale * share[:, k] + offset
    return np.asarray(share)


def field_logits(m: Matrices, fitted: Fitted, rows: np.ndarray) -> np.ndarray:
    """(rows, fields): the pick logit, lowered for each field by how much less it fits than the best."""
    share = field_shares(m, fitted, rows)
    return np.asarray(pick_logits(m, fitted, rows)[:, None] + share - share.max(axis=1, keepdims=True))


def to_json(m: Matrices, fitted: Fitted, df: dict[str, int], docs: int,
            calibration_logits: np.ndarray) -> dict[str, object]:
    n_words = len(m.vocab)
    words = fitted.pick_w[:n_words]
    return {
        "version": MODEL_VERSION,
        "docs": docs,
        "bias": round(fitted.pick_b, 6),
        "paper": {n: round(float(v), 6) for n, v in zip(PAPER_FEATURES, fitted.pick_w[n_words:], strict=True)},
        "pair": {n: round(float(v), 6) for n, v in zip(PAIR_FEATURES, fitted.field_w, strict=True)},
        "calibration": fit_calibration(sorted(float(v) for v in calibration_logits)),
        # three parallel columns, sorted by gram: parsing them is several times faster than a mapping
        "grams": "\n".join(m.vocab),
        "df": [df[g] for g in m.vocab],
        "weights": [round(float(w), 4) for w in words],
        # the known fields: their words over the grams with df >= field_min_df, in the same order
        "field_min_df": FIELD_MIN_DF,
        "mix": round(fitted.mix, 6),
        "c_known": fitted.c_known,
        "unknown": {"scale": fitted.unknown[0], "offset": fitted.unknown[1]},
        "solo": {"bias": round(fitted.solo[0], 6), "calibration": fitted.solo[2],
                 "pair": {n: round(float(v), 6) for n, v in zip(SOLO_FEATURES, fitted.solo[1], strict=True)}},
        "known": {slug: {"bias": round(bias, 6), "weights": [round(float(v), 3) for v in w[:len(m.field_vocab)]],
                         "embed": [round(float(v) * EMBED_SCALE, 4) for v in w[len(m.field_vocab):]]}
                  for slug, (bias, w) in sorted(fitted.known.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    fields = load_fields(FIELDS_PATH)
    days = load_days(args.data)
    corpus = Corpus(days, fields)
    rows = np.arange(len(corpus.papers))
    df = document_frequencies(corpus, rows)
    m = build(corpus, fields, df, len(rows))
    m.thin = thin_pairs(corpus, df, len(rows))
    fitted = fit_arrays(m, targets(corpus, fields), rows)
    model = to_json(m, fitted, df, len(rows), field_logits(m, fitted, rows).max(axis=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n",
                        encoding="utf-8")
    size = args.out.stat().st_size
    print(f"trained on {len(days)} days, {len(corpus.papers)} papers: {len(m.vocab)} grams, known fields' "
          f"C {fitted.c_known:g} -> {args.out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
