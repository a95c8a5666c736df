"""Simulate a reader who votes, and measure how much the per-chat vote model helps their ranking.

A measurement script, not a test: it prints figures and asserts nothing. Run it from the repo root:

    .venv/bin/python bench/votes_sim.py [LABELLED_DAYS_DIR] [--k 5] [--shown 20] [--starts 3] [--model FILE]

A fair run scores with a model that never saw the simulated days, e.g. train on half the days and simulate
on the other half (`bench/train_ranker.py --data EVEN_DAYS --out /tmp/even.json`, then
`bench/votes_sim.py ODD_DAYS --model /tmp/even.json`); the shipped model saw every labelled day.

LABELLED_DAYS_DIR defaults to ../shared/data/labelled-days (relative to the repo root): JSONL days whose
lines carry `label: null | {field, score, reason_zh}`.

For each of the seven default fields, a simulated reader follows that one field. Each day they see their
digest: the day's papers ranked by the offline scorer's (the learned ranker's) value for that field plus the
chat's adjustment (core/score/feedback.py, exactly as a digest applies it, from the votes so far), the top
`--shown`. They vote on up to `--k` of the shown papers, top first: 👍 on that field's picks scored >= 8, 👎 on
papers the labels did not pick for that field; other shown papers stay unvoted. After 1, 5 and 20 days of votes the
bench ranks the NEXT day's papers the same way and prints the ROC AUC of "picked for this field", next to
the AUC of the scorer alone (no votes) on that same day. Each figure is the mean over `--starts` runs that
begin on days spread over the folder (so different next days are measured). Two vote rules are shown:
"model" (what ships: the learned per-chat model; only 👎 falls back to similarity) and "similarity" (the
rule before it: nearest liked/disliked paper).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench.eval_offline import FIELDS_PATH, Label, auc, load_day  # noqa: E402
from core.fields import load_fields  # noqa: E402
from core.models import Adjustment, Paper  # noqa: E402
from core.score import feedback as feedback_  # noqa: E402
from core.score.feedback import Feedback, adjustments  # noqa: E402
from core.score.ranker import Ranker, load_model  # noqa: E402
from core.score.ranker_model import shipped_model  # noqa: E402

CHECKPOINTS = (1, 5, 20)
Day = list[tuple[Paper, Label | None]]
Rule = Callable[[Sequence[Paper], Feedback], dict[str, Adjustment]]


def similarity_only(papers: Sequence[Paper], feedback: Feedback) -> dict[str, Adjustment]:
    """The rule before the learned model: nearest liked and disliked paper only."""
    saved = feedback_.learned_moves
    feedback_.learned_moves = lambda *args, **kwargs: {}  # type: ignore[assignment]
    try:
        return adjustments(papers, feedback)
    finally:
        feedback_.learned_moves = saved


def shipped(papers: Sequence[Paper], feedback: Feedback) -> dict[str, Adjustment]:
    return adjustments(papers, feedback)


def reader_values(base: dict[str, float], papers: Sequence[Paper], votes: list[tuple[Paper, int]],
                  rule: Rule) -> dict[str, float]:
    """The reader's ranking values: scorer value plus the chat's vote adjustment (as a digest applies it)."""
    if not votes:
        return dict(base)
    moved = rule(papers, Feedback(tuple(reversed(votes))))  # newest first, as the store gives them
    return {i: v + (moved[i].delta if i in moved else 0.0) for i, v in base.items()}


def simulate(days: Sequence[Day], bases: Sequence[dict[str, float]], slug: str, start: int, k: int, shown: int,
             rule: Rule) -> dict[int, tuple[float, float]]:
    """Checkpoint -> (AUC with votes, AUC of the scorer alone) on the day after that many voting days."""
    votes: list[tuple[Paper, int]] = []
    out: dict[int, tuple[float, float]] = {}
    for n in range(1, max(CHECKPOINTS) + 1):
        rows, base = days[start + n - 1], bases[start + n - 1]
        papers = [p for p, _ in rows]
        labels = {p.arxiv_id: label for p, label in rows}
        values = reader_values(base, papers, votes, rule)
        order = sorted(papers, key=lambda p: (-values[p.arxiv_id], p.arxiv_id))[:shown]
        cast = 0
        for paper in order:
            if cast >= k:
                break
            label = labels[paper.arxiv_id]
            if label is not None and label.field_slug == slug and label.score >= 8:
                votes.append((paper, 1))
            elif label is None or label.field_slug != slug:
                votes.append((paper, -1))
            else:
                continue
            cast += 1
        if n in CHECKPOINTS:
            rows_next, base_next = days[start + n], bases[start + n]
            papers_next = [p for p, _ in rows_next]
            picked = [label is not None and label.field_slug == slug for _, label in rows_next]
            with_votes = reader_values(base_next, papers_next, votes, rule)
            out[n] = (auc([with_votes[p.arxiv_id] for p in papers_next], picked),
                      auc([base_next[p.arxiv_id] for p in papers_next], picked))
    return out


def mean_of(values: Iterable[float]) -> float:
    """The mean of the figures that exist: a next day without picks for a field has no AUC (nan)."""
    kept = [v for v in values if not math.isnan(v)]
    return statistics.mean(kept) if kept else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared" / "data" / "labelled-days"))
    parser.add_argument("--k", type=int, default=5, help="votes a day")
    parser.add_argument("--shown", type=int, default=20, help="papers the reader's digest shows a day")
    parser.add_argument("--starts", type=int, default=3, help="runs per field, starting on spread-out days")
    parser.add_argument("--model", type=Path, default=None,
                        help="a ranker model file trained WITHOUT these days (bench/train_ranker.py --out); default: "
                             "the shipped model, which saw every labelled day, so 'no votes' is flattered")
    args = parser.parse_args()
    paths = sorted(Path(args.folder).glob("*.jsonl"))
    days = [load_day(p) for p in paths]
    need = max(CHECKPOINTS) + 1
    if len(days) < need:
        sys.exit(f"{args.folder}: {len(days)} days, the simulation needs {need}")
    fields = load_fields(FIELDS_PATH)
    # the offline scorer's values; its reasons are not needed here
    scorer = Ranker(fields, load_model(args.model) if args.model else shipped_model()[0])
    t0 = time.perf_counter()
    field_scores = []  # per day: arxiv_id -> the offline scorer's value per field
    for rows in days:
        scores = scorer.score_many([p for p, _ in rows], "en")
        field_scores.append({p.arxiv_id: dict(s.field_scores) for (p, _), s in zip(rows, scores, strict=True)})
    print(f"{len(days)} days, {sum(len(d) for d in days):,} papers; k={args.k} votes a day, {args.shown} shown a day;"
          f" {args.starts} runs per field; mean AUC of 'picked for this field' on the next day")
    span = len(days) - need
    starts = sorted({round(i * span / max(1, args.starts - 1)) for i in range(args.starts)}) if args.starts > 1 else [0]
    rules: list[tuple[str, Rule]] = [("model", shipped), ("similarity", similarity_only)]
    header = f"{'field':<22} {'no votes':>9}" + "".join(
        f" {name + ' ' + str(n) + 'd':>16}" for name, _ in rules for n in CHECKPOINTS)
    print(header)
    totals: dict[tuple[str, int], list[float]] = {}
    base_all: dict[int, list[float]] = {}
    for f in fields:
        bases = [{i: fs.get(f.slug, 0.0) for i, fs in day.items()} for day in field_scores]
        cells: dict[tuple[str, int], list[float]] = {}
        base_cells: dict[int, list[float]] = {}
        for name, rule in rules:
            for start in starts:
                for n, (with_votes, alone) in simulate(days, bases, f.slug, start, args.k, args.shown, rule).items():
                    cells.setdefault((name, n), []).append(with_votes)
                    if name == rules[0][0]:
                        base_cells.setdefault(n, []).append(alone)
        no_votes = mean_of(v for vs in base_cells.values() for v in vs)
        line = f"{f.slug:<22} {no_votes:>9.3f}"
        for name, _ in rules:
            for n in CHECKPOINTS:
                mean = mean_of(cells[(name, n)])
                alone = mean_of(base_cells[n])
                line += f" {mean:>8.3f} ({mean / alone:4.2f}x)"
                totals.setdefault((name, n), []).append(mean)
                base_all.setdefault(n, []).append(alone)
        print(line, flush=True)
    mean_base = mean_of(v for vs in base_all.values() for v in vs)
    line = f"{'mean':<22} {mean_base:>9.3f}"
    for name, _ in rules:
        for n in CHECKPOINTS:
            mean = mean_of(totals[(name, n)])
            line += f" {mean:>8.3f} ({mean / mean_of(base_all[n]):4.2f}x)"
    print(line)
    print("(x: the ratio to the scorer alone on the same next days; 'no votes' is the scorer alone, mean over"
          f" the checkpoints' next days)  {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
