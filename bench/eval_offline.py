"""Benchmark the offline scorer (the learned ranker) against the labelled dev days, the hand-weighted phrase
scorer it replaced, and a plain TF-IDF baseline.

A measurement script, not a test: it prints figures and asserts nothing. Run it from the repo root:

    .venv/bin/python bench/eval_offline.py

Per labelled day (data/dev-labelled/*.jsonl) it prints, for the ranker (ordered by its best field's logit, as
the cheap stage orders papers), the hand-weighted scorer and TF-IDF: recall of the picked papers (and of the
picks scored >= 8) within the top 25% and 40% of the ranking, ROC AUC of "picked", and field agreement (share
of picks whose best field is the label's field). For the ranker it adds the pass rates at 7 and 8. It then
shows the score distribution on the unlabelled sample days (data/arxiv/*.jsonl), the time to load the model,
and the time to score 1,000 papers. The dev days were seen in training: bench/eval_ranker.py cross-validates
on unseen days.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from core.fields import load_fields  # noqa: E402
from core.models import Field, Paper  # noqa: E402
from core.score.cache import OfflineRanker  # noqa: E402
from core.score.offline import OfflineScorer  # noqa: E402
from core.score.ranker import Ranker  # noqa: E402
from core.score.ranker_model import shipped_model  # noqa: E402

FIELDS_PATH = ROOT / "data" / "fields" / "default.toml"
DEV_DIR = ROOT / "data" / "dev-labelled"
SAMPLE_DIR = ROOT / "data" / "arxiv"
STOPWORDS = frozenset(
    "a an the of and or for to in on with by from as at is are was were be been being this that these those "
    "it its we our their they them which who whom what when where how than then there here such via into "
    "over under between both each more most other some any can may might will would should could not no "
    "e g i etc also only while however thus using based use used new paper propose proposed show shows"
    .split()
)


@dataclass(frozen=True, slots=True)
class Label:
    field_slug: str
    score: float


def load_day(path: Path) -> list[tuple[Paper, Label | None]]:
    """Read one JSONL day into papers and their labels (None: not picked, or unlabelled)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        paper = Paper(
            arxiv_id=str(raw["id"]),
            title=str(raw["title"]),
            abstract=str(raw["abstract"]),
            authors=tuple(raw.get("authors", ())),
            categories=tuple(raw.get("categories", ())),
            primary_category=str(raw.get("primary_category", "")),
            published=date.fromisoformat(str(raw["published"])[:10]),
        )
        label = raw.get("label")
        rows.append((paper, Label(str(label["field"]), float(label["score"])) if label else None))
    return rows


# -- metrics --


def auc(values: Sequence[float], positive: Sequence[bool]) -> float:
    """ROC AUC by pairwise comparison; ties count half."""
    pos = [v for v, p in zip(values, positive, strict=True) if p]
    neg = [v for v, p in zip(values, positive, strict=True) if not p]
    if not pos or not neg:
        return float("nan")
    wins = sum((1.0 if a > b else 0.5 if a == b else 0.0) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def ranking(ids: Sequence[str], values: Sequence[float]) -> list[str]:
    """Order ids best first; ties fall back to the arXiv id so the order is deterministic."""
    return [i for _, i in sorted(zip(values, ids, strict=True), key=lambda x: (-x[0], x[1]))]


def recall_at(order: Sequence[str], wanted: set[str], share: float) -> float:
    if not wanted:
        return float("nan")
    top = set(order[: math.ceil(share * len(order))])
    return len(wanted & top) / len(wanted)


@dataclass(frozen=True, slots=True)
class Figures:
    recall25: float
    recall40: float
    recall25_8: float
    recall40_8: float
    auc: float
    agreement: float


def figures(
    rows: Sequence[tuple[Paper, Label | None]], values: Sequence[float], best: Sequence[str]
) -> Figures:
    ids = [p.arxiv_id for p, _ in rows]
    order = ranking(ids, values)
    picked = {p.arxiv_id for p, label in rows if label}
    strong = {p.arxiv_id for p, label in rows if label and label.score >= 8}
    agree = [b == label.field_slug for (_, label), b in zip(rows, best, strict=True) if label]
    return Figures(
        recall25=recall_at(order, picked, 0.25),
        recall40=recall_at(order, picked, 0.40),
        recall25_8=recall_at(order, strong, 0.25),
        recall40_8=recall_at(order, strong, 0.40),
        auc=auc(values, [label is not None for _, label in rows]),
        agreement=sum(agree) / len(agree) if agree else float("nan"),
    )


# -- the TF-IDF baseline --


def words(text: str) -> list[str]:
    out = []
    for w in "".join(ch.lower() if ch.isalnum() else " " for ch in text).split():
        if w not in STOPWORDS and len(w) > 1:
            out.append(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


def tfidf_scores(papers: Sequence[Paper], fields: Sequence[Field]) -> list[tuple[float, str]]:
    """Cosine of each paper's title+abstract to each field's name+description+keywords; best per paper."""
    paper_docs = [words(f"{p.title} {p.abstract}") for p in papers]
    field_docs = [words(" ".join([f.name_en, f.description_en, *f.keywords])) for f in fields]
    df = Counter(w for doc in paper_docs + field_docs for w in set(doc))
    n = len(paper_docs) + len(field_docs)
    idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}

    def vector(doc: list[str]) -> dict[str, float]:
        tf = Counter(doc)
        vec = {w: (1 + math.log(c)) * idf[w] for w, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}

    field_vecs = [vector(d) for d in field_docs]
    out = []
    for doc in paper_docs:
        vec = vector(doc)
        sims = [sum(v * fv.get(w, 0.0) for w, v in vec.items()) for fv in field_vecs]
        best = max(range(len(fields)), key=lambda i: (sims[i], -i))
        out.append((sims[best], fields[best].slug))
    return out


# -- report --


def print_figures(name: str, f: Figures, extra: str = "") -> None:
    print(
        f"  {name:<8} AUC {f.auc:.3f} | recall picked top25% {f.recall25:.2f} top40% {f.recall40:.2f}"
        f" | picks>=8 top25% {f.recall25_8:.2f} top40% {f.recall40_8:.2f} | field agreement {f.agreement:.2f}"
        f"{extra}"
    )


def distribution(values: Sequence[float]) -> str:
    bins = Counter(min(int(v), 9) for v in values)
    hist = " ".join(f"{b}-{b + 1}:{bins.get(b, 0)}" for b in range(1, 10))
    n = len(values)
    return (
        f">=7 {sum(v >= 7 for v in values) / n:.1%}  >=8 {sum(v >= 8 for v in values) / n:.1%}"
        f"  >=5 {sum(v >= 5 for v in values) / n:.1%}  | {hist}"
    )


def time_scoring(scorer_for: Callable[[], OfflineScorer | Ranker | OfflineRanker], papers: Sequence[Paper],
                 n: int = 1000) -> str:
    repeated = (list(papers) * (n // len(papers) + 1))[:n]
    pool = [replace(p, arxiv_id=f"{p.arxiv_id}-{i}") for i, p in enumerate(repeated)]
    started = time.perf_counter()
    scorer = scorer_for()
    built = time.perf_counter()
    scorer.score_many(pool, "en")
    done = time.perf_counter()
    return f"{n} papers scored in {done - built:.2f}s (+{built - started:.3f}s to build the scorer)"


def time_loading() -> str:
    shipped_model.cache_clear()
    started = time.perf_counter()
    shipped_model()
    return f"ranker model loaded in {time.perf_counter() - started:.3f}s (read once per process)"


def main() -> None:
    fields = load_fields(FIELDS_PATH)
    loading = time_loading()
    scorer = OfflineRanker(fields)
    hand = OfflineScorer(fields)
    all_papers: list[Paper] = []
    print(f"Ranker vs hand-weighted scorer vs TF-IDF on {DEV_DIR.relative_to(ROOT)} (seen in training)")
    for path in sorted(DEV_DIR.glob("*.jsonl")):
        rows = load_day(path)
        papers = [p for p, _ in rows]
        all_papers += papers
        ranked = scorer.rank_many(papers, "en")
        values = [r.score.value or 0.0 for r in ranked]
        ours = figures(rows, [r.rank_value for r in ranked], [r.score.field_slug or "" for r in ranked])
        old = hand.score_many(papers, "en")
        hand_figures = figures(rows, [s.value or 0.0 for s in old], [s.field_slug or "" for s in old])
        baseline = tfidf_scores(papers, fields)
        theirs = figures(rows, [v for v, _ in baseline], [b for _, b in baseline])
        picked = sum(1 for _, label in rows if label)
        strong = sum(1 for _, label in rows if label and label.score >= 8)
        print(f"{path.name}: {len(rows)} papers, {picked} picked, {strong} picked with score >= 8")
        passes = (
            f" | pass >=7 {sum(v >= 7 for v in values) / len(values):.1%}"
            f" >=8 {sum(v >= 8 for v in values) / len(values):.1%}"
        )
        print_figures("ranker", ours, passes)
        print_figures("hand-wtd", hand_figures)
        print_figures("tf-idf", theirs)
    print(f"\nScore distribution on the unlabelled sample days ({SAMPLE_DIR.relative_to(ROOT)})")
    for path in sorted(SAMPLE_DIR.glob("*.jsonl")):
        papers = [p for p, _ in load_day(path)]
        all_papers += papers
        scores = scorer.score_many(papers, "en")
        by_field = Counter(s.field_slug for s in scores if (s.value or 0) >= 7)
        print(f"  {path.name} ({len(papers)}): {distribution([s.value or 0.0 for s in scores])}")
        print(f"    >=7 by field: {dict(sorted(by_field.items()))}")
    print()
    print(loading)
    print("ranker, reason in one language (readers of one language):", time_scoring(lambda: Ranker(fields), all_papers))
    print("ranker, reasons in both languages (readers of both):",
          time_scoring(lambda: OfflineRanker(fields), all_papers))
    print("hand-weighted:", time_scoring(lambda: OfflineScorer(fields), all_papers))


if __name__ == "__main__":
    main()
