"""Evaluate the learned ranker by whole days, side by side with today's hand-weighted OfflineScorer.

    .venv/bin/python bench/eval_ranker.py [--data ../shared/data/labelled-days] [--folds 6] [--lofo]

Leave-days-out cross-validation: the labelled days are dealt into `--folds` groups (day k goes to group
k mod folds); each group is scored by a ranker trained on the other days only. Per unseen day and on the
mean it prints ROC AUC of "picked", recall of the picks scored >= 8 within the top 40% and 55% of the
ranking, and field agreement on the picks (the best field is the LLM's field). The pass rate is the
smallest (in steps of 0.01) at which the pooled out-of-fold ranking keeps >= 97% of the >= 8 picks, with
the request tokens per paper of the day that this costs (ceil(chars/4) of each batch's request, as
`core/score/llm.py` renders it). `--lofo` adds leave-one-field-out: for each default field, train on the
other fields' picks only (its papers dropped) on two thirds of the days, then rank the last third's
papers for that field, which the ranker now meets as a user-written field; and, with the same training,
that field as a deployment's only field (the solo model): its AUC by day, how many of its picks reach the
value 7, and how many of the papers it values 7 or more are its picks; as written, and as a user might
write it (with 10 or none of its weighted terms, bench/train_ranker.py THIN_TERMS); and as a reader's
`/interests` (its name and keywords, comma-separated), valued offline the way the product does it
(core/score/routing.py `offline_interest_scores`, with the model trained without the field) against the
hand-weighted scorer it replaced, with what a digest would list (at most 10 papers valued >= 7).

Document frequencies and the vocabulary carry no labels and are counted once on all days.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.train_ranker import (  # noqa: E402
    DEFAULT_DATA,
    FIELDS_PATH,
    THIN_TERMS,
    Corpus,
    build,
    document_frequencies,
    field_logits,
    fit_arrays,
    load_days,
    solo_logits,
    targets,
    thin_pairs,
    to_json,
)
from core.config import Settings  # noqa: E402
from core.fields import load_fields  # noqa: E402
from core.models import Paper  # noqa: E402
from core.prompts import load_prompt  # noqa: E402
from core.score.llm import LLMConfig, render_request  # noqa: E402
from core.score.offline import OfflineScorer  # noqa: E402
from core.score.profile import parse_interests  # noqa: E402
from core.score.ranker import Model, Ranker, calibrated, load_model  # noqa: E402
from core.score.routing import offline_interest_scores, unnamed  # noqa: E402

TARGET_RECALL = 0.97


def auc(values: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC with ties counted half (Mann-Whitney on average ranks)."""
    pos = int(positive.sum())
    neg = len(positive) - pos
    if not pos or not neg:
        return float("nan")
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def top_share(values: np.ndarray, runner_up: np.ndarray, share: float) -> np.ndarray:
    """Mask of the top `share` (at least 10 papers), ties broken on the runner-up as select_candidates does."""
    order = np.lexsort((-runner_up, -values))
    keep = np.zeros(len(values), dtype=bool)
    keep[order[:min(len(values), max(math.ceil(share * len(values)), 10))]] = True
    return keep


def day_figures(values: np.ndarray, runner_up: np.ndarray, best: np.ndarray, picked: np.ndarray,
                strong: np.ndarray, field: np.ndarray) -> tuple[float, float, float, float]:
    r40 = strong[top_share(values, runner_up, 0.40)].sum() / max(1, strong.sum())
    r55 = strong[top_share(values, runner_up, 0.55)].sum() / max(1, strong.sum())
    agree = float((best[picked] == field[picked]).mean()) if picked.any() else float("nan")
    return auc(values, picked), r40, r55, agree


def request_tokens(papers: Sequence[Paper], fields: Sequence[object], config: LLMConfig) -> int:
    prompt = load_prompt("score_papers")
    total = 0
    for start in range(0, len(papers), config.batch_size):
        text = render_request(prompt, fields, papers[start:start + config.batch_size], config.lang,  # type: ignore[arg-type]
                              abstract_chars=config.abstract_chars)
        total += math.ceil(len(text) / 4)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--lofo", action="store_true", help="also run leave-one-field-out")
    parser.add_argument("--lofo-only", action="store_true", help="only leave-one-field-out, and the timing")
    args = parser.parse_args()
    fields = load_fields(FIELDS_PATH)
    slugs = np.array([f.slug for f in fields])
    started = time.perf_counter()
    corpus = Corpus(load_days(args.data), fields)
    n = len(corpus.papers)
    df = document_frequencies(corpus, np.arange(n))
    m = build(corpus, fields, df, n)
    y = targets(corpus, fields)
    picked = y.max(axis=1) == 1
    strong = np.array([lab is not None and lab.score >= 8 for lab in corpus.labels])
    label_field = np.array([lab.field_slug if lab else "" for lab in corpus.labels])
    offline_values = np.array(corpus.offline)
    print(f"{len(corpus.days)} days, {n} papers, {picked.sum()} picks ({strong.sum()} >= 8); features in "
          f"{time.perf_counter() - started:.0f}s; {args.folds}-fold leave-days-out")

    if args.lofo_only:
        lofo(corpus, fields, df, m, y, label_field, offline_values, strong)
        timing(corpus.papers, fields)
        return
    logits = np.zeros((n, len(fields)))
    chosen = []
    for k in range(args.folds):
        test_days = [d for d in range(len(corpus.days)) if d % args.folds == k]
        test = np.isin(corpus.day_of, test_days)
        fitted = fit_arrays(m, y, np.where(~test)[0])
        logits[test] = field_logits(m, fitted, np.where(test)[0])
        chosen.append(f"{fitted.c_known:g}")
    print(f"known fields' C chosen on each fold's own training days: {', '.join(chosen)}")

    print(f"\n{'day':<11}{'papers':>7}{'>=8':>5} | {'AUC':>13} | {'recall>=8 @40%':>15} | {'@55%':>11} | "
          f"{'field agreement':>15}   (ranker / offline)")
    ours_rows, theirs_rows = [], []
    for d, day in enumerate(corpus.days):
        idx = np.where(corpus.day_of == d)[0]
        lg, ov = logits[idx], offline_values[idx]
        ours = day_figures(lg.max(1), np.sort(lg, 1)[:, -2], slugs[lg.argmax(1)], picked[idx], strong[idx],
                           label_field[idx])
        theirs = day_figures(ov.max(1), np.sort(ov, 1)[:, -2], slugs[ov.argmax(1)], picked[idx], strong[idx],
                             label_field[idx])
        ours_rows.append(ours)
        theirs_rows.append(theirs)
        print(f"{day.name:<11}{len(idx):>7}{strong[idx].sum():>5} | {ours[0]:.3f} / {theirs[0]:.3f} | "
              f"{ours[1]:>6.2f} / {theirs[1]:.2f} | {ours[2]:.2f} / {theirs[2]:.2f} | "
              f"{ours[3]:>6.2f} / {theirs[3]:.2f}")
    o, t = np.array(ours_rows), np.array(theirs_rows)
    print(f"{'mean':<23} | {o[:, 0].mean():.3f} / {t[:, 0].mean():.3f} | {o[:, 1].mean():>6.2f} / "
          f"{t[:, 1].mean():.2f} | {o[:, 2].mean():.2f} / {t[:, 2].mean():.2f} | {o[:, 3].mean():>6.2f} / "
          f"{t[:, 3].mean():.2f}")
    print(f"{'worst day':<23} | {o[:, 0].min():.3f} / {t[:, 0].min():.3f} | {o[:, 1].min():>6.2f} / "
          f"{t[:, 1].min():.2f} | {o[:, 2].min():.2f} / {t[:, 2].min():.2f} | {o[:, 3].min():>6.2f} / "
          f"{t[:, 3].min():.2f}")

    # The pass rate: smallest share keeping TARGET_RECALL of the >= 8 picks, pooled over all unseen days.
    settings = Settings.from_env({})
    config = LLMConfig.from_settings(settings)

    def kept(values: np.ndarray, runner: np.ndarray, share: float) -> tuple[int, float]:
        count, per_day = 0, []
        for d in range(len(corpus.days)):
            idx = np.where(corpus.day_of == d)[0]
            keep = top_share(values[idx], runner[idx], share)
            count += int(strong[idx][keep].sum())
            per_day.append(strong[idx][keep].sum() / max(1, strong[idx].sum()))
        return count, float(np.mean(per_day))

    def tokens_per_paper(values: np.ndarray, runner: np.ndarray, share: float) -> float:
        tokens = 0
        for d in range(len(corpus.days)):
            idx = np.where(corpus.day_of == d)[0]
            keep = top_share(values[idx], runner[idx], share)
            tokens += request_tokens([corpus.papers[i] for i in idx[keep]], fields, config)
        return tokens / n

    scorers = {"ranker": (logits.max(1), np.sort(logits, 1)[:, -2]),
               "offline": (offline_values.max(1), np.sort(offline_values, 1)[:, -2])}
    print(f"\npass rate for >= {TARGET_RECALL:.0%} of the >= 8 picks (pooled over unseen days); tokens = "
          f"ceil(chars/4) of the requests / all papers, batch {config.batch_size}, abstract {config.abstract_chars}")
    for name, (values, runner) in scorers.items():
        rate = next(r / 100 for r in range(1, 101) if kept(values, runner, r / 100)[0] >= TARGET_RECALL * strong.sum())
        count, mean_day = kept(values, runner, rate)
        print(f"  {name:<8} pass rate {rate:.2f}: keeps {count}/{strong.sum()} = {count / strong.sum():.3f} "
              f"(mean per day {mean_day:.3f}), {tokens_per_paper(values, runner, rate):.0f} tokens per paper")
        count, mean_day = kept(values, runner, settings.llm_pass_rate)
        print(f"  {name:<8} at today's {settings.llm_pass_rate:.2f}: keeps {count / strong.sum():.3f}, "
              f"{tokens_per_paper(values, runner, settings.llm_pass_rate):.0f} tokens per paper")

    if args.lofo:
        lofo(corpus, fields, df, m, y, label_field, offline_values, strong)
    timing(corpus.papers, fields)


def lofo(corpus: Corpus, fields: Sequence[object], df: dict[str, int], m: object, y: np.ndarray,
         label_field: np.ndarray, offline_values: np.ndarray, strong: np.ndarray) -> None:
    """Each field in turn is left out of training and met as a new field on unseen days."""
    all_fields = list(corpus.fields)
    test = corpus.day_of % 3 == 2
    totals: list[tuple[float, ...]] = []
    thin = thin_pairs(corpus, df, len(corpus.papers))
    variants = ("as written", *(f"{keep} terms" for keep in THIN_TERMS))
    alone: dict[str, list[tuple[float, ...]]] = {v: [] for v in variants}
    profiles: list[tuple[float, ...]] = []
    print("\nleave-one-field-out (train: other fields, days k%3 != 2; test: days k%3 == 2), each figure as "
          "ranker / ranker without placing the new field / offline:\n  field, its picks | AUC of 'picked for "
          "this field' by the field's value | its picks given this field | the other fields' picks keep "
          "theirs | the new field's scale, offset")
    for k, field in enumerate(all_fields):
        others = [f for f in all_fields if f.slug != field.slug]
        m6 = build(corpus, others, df, len(corpus.papers))
        m6.thin = [t[:, [j for j in range(len(all_fields)) if j != k]] for t in thin]
        y6 = targets(corpus, others)
        rows = np.where(~test & (label_field != field.slug))[0]
        fitted = fit_arrays(m6, y6, rows)
        full = field_logits(m, fitted, np.where(test)[0])  # type: ignore[arg-type]
        plain = field_logits(m, replace(fitted, unknown=(1.0, 0.0)), np.where(test)[0])  # type: ignore[arg-type]
        positive = label_field[test] == field.slug
        ours = auc(full[:, k], positive)
        theirs = auc(offline_values[test][:, k], positive)
        agree_ours = float((full[positive].argmax(1) == k).mean())
        agree_plain = float((plain[positive].argmax(1) == k).mean())
        agree_theirs = float((offline_values[test][positive].argmax(1) == k).mean())
        rest = (label_field[test] != "") & ~positive  # the other fields' picks: do they keep their field?
        index = {f.slug: i for i, f in enumerate(all_fields)}
        own = np.array([index[s] for s in label_field[test][rest]])
        kept_ours = float((full[rest].argmax(1) == own).mean())
        kept_theirs = float((offline_values[test][rest].argmax(1) == own).mean())
        kept_plain = float((plain[rest].argmax(1) == own).mean())
        row = (ours, auc(plain[:, k], positive), theirs, agree_ours, agree_plain, agree_theirs,
               kept_ours, kept_plain, kept_theirs)
        totals.append(row)
        print(f"  {field.slug:<24} {positive.sum():>4} | " + " | ".join(
            " / ".join(f"{v:.3f}" if i < 3 else f"{v:.2f}" for v in row[i:i + 3]) for i in (0, 3, 6))
            + f" | {fitted.unknown[0]:.2f}, {fitted.unknown[1]:.2f}")
        for name, pair in zip(variants, (m.pair, *thin), strict=True):  # type: ignore[attr-defined]
            alone[name].append(alone_figures(solo_logits(pair, fitted, np.where(test)[0])[:, k], fitted.solo[2],
                                             1.0 + 9.0 * pair[test][:, k, 0], positive, corpus.day_of[test],
                                             positive & strong[test]))
        model = Model.from_json(to_json(m6, fitted, df, len(corpus.papers), full.max(axis=1)))
        profiles.append(profile_figures(corpus, field, model, test, positive))
    t = np.array(totals).mean(axis=0)
    print(f"  {'mean':<24} {'':>4} | " + " | ".join(
        " / ".join(f"{v:.3f}" if i < 3 else f"{v:.2f}" for v in t[i:i + 3]) for i in (0, 3, 6)))
    print("\nthe left-out field as a deployment's only field (solo model / offline): AUC of 'picked for this field' "
          "(mean by day) | of its picks, the share valued >= 7 | of the papers valued >= 7, the share that are "
          f"its picks | papers valued >= 7 per day | the pass rate keeping {TARGET_RECALL:.0%} of its >= 8 picks "
          "(pooled over the days)")
    for name in variants:
        print(f"  the field {name}:")
        for field, row in zip(all_fields, alone[name], strict=True):
            print(f"    {field.slug:<22} | {row[0]:.3f} / {row[1]:.3f} | {row[2]:.2f} / {row[3]:.2f} | "
                  f"{row[4]:.2f} / {row[5]:.2f} | {row[6]:.1f} / {row[7]:.1f} | {row[8]:.2f} / {row[9]:.2f}")
        a = np.array(alone[name]).mean(axis=0)
        worst = np.array(alone[name]).max(axis=0)
        print(f"    {'mean':<22} | {a[0]:.3f} / {a[1]:.3f} | {a[2]:.2f} / {a[3]:.2f} | {a[4]:.2f} / {a[5]:.2f} | "
              f"{a[6]:.1f} / {a[7]:.1f} | {a[8]:.2f} / {a[9]:.2f} (highest {worst[8]:.2f} / {worst[9]:.2f})")
    print("\nthe left-out field as a reader's /interests (its name and keywords), valued offline (ranker / the "
          "hand-weighted scorer): AUC by day | of its picks, the share valued >= 7 | of the papers valued >= 7, its "
          "picks | papers valued >= 7 per day | a digest's list (<= 10 valued >= 7): its picks per day, of papers")
    for field, row in zip(all_fields, profiles, strict=True):
        print(f"    {field.slug:<22} | {row[0]:.3f} / {row[1]:.3f} | {row[2]:.2f} / {row[3]:.2f} | "
              f"{row[4]:.2f} / {row[5]:.2f} | {row[6]:.1f} / {row[7]:.1f} | {row[8]:.1f} of {row[10]:.1f} / "
              f"{row[9]:.1f} of {row[11]:.1f}")
    a = np.array(profiles).mean(axis=0)
    print(f"    {'mean':<22} | {a[0]:.3f} / {a[1]:.3f} | {a[2]:.2f} / {a[3]:.2f} | {a[4]:.2f} / {a[5]:.2f} | "
          f"{a[6]:.1f} / {a[7]:.1f} | {a[8]:.1f} of {a[10]:.1f} / {a[9]:.1f} of {a[11]:.1f}")


def alone_figures(logits: np.ndarray, calibration: dict[str, float], offline: np.ndarray, positive: np.ndarray,
                  day: np.ndarray, strong: np.ndarray) -> tuple[float, ...]:
    """A lone field's figures, each as solo model / offline: AUC by day, recall and precision at the value 7,
    papers valued >= 7 per day, and the pass rate the cheap stage needs to keep TARGET_RECALL of the field's
    >= 8 picks (`strong`). The solo logits are put on 1-10 with their calibration as the ranker does."""
    values = np.array([calibrated(float(v), calibration["center"], calibration["scale"]) for v in logits])
    return (*value_figures((values, offline), positive, day), lone_pass_rate(logits, strong, day),
            lone_pass_rate(offline, strong, day))


def lone_pass_rate(values: np.ndarray, strong: np.ndarray, day: np.ndarray) -> float:
    """The smallest share of each day (0.01 steps), best value first, that holds TARGET_RECALL of `strong`
    pooled over the days: the LLM_PASS_RATE a deployment with this field alone would need."""
    orders = [(np.argsort(-values[day == d], kind="stable"), strong[day == d]) for d in np.unique(day)]
    for percent in range(1, 101):
        kept = sum(int(s[order[:math.ceil(percent / 100 * len(order))]].sum()) for order, s in orders)
        if kept >= TARGET_RECALL * max(1, strong.sum()):
            return percent / 100
    return 1.0


def profile_figures(corpus: Corpus, field: object, model: Model, test: np.ndarray,
                    positive: np.ndarray) -> tuple[float, ...]:
    """The field written as a reader's /interests, valued offline on each test day by the product's function
    with `model`, and by the hand-weighted scorer: value_figures, then a digest's list (the <= 10 papers
    valued >= 7 of each day): the field's picks in it per day, and its length, each as ranker / hand."""
    profile = parse_interests(", ".join([field.name_en, *field.keywords])).judge_field()  # type: ignore[attr-defined]
    hand = OfflineScorer([unnamed(profile)])
    ours, theirs = [], []
    for d in np.unique(corpus.day_of[test]):
        papers = [p for p, day in zip(corpus.papers, corpus.day_of, strict=True) if day == d]
        scores = offline_interest_scores(profile, papers, "en", model=model)
        ours.extend(scores[p.arxiv_id].value or 1.0 for p in papers)
        theirs.extend(s.value or 1.0 for s in hand.score_many(papers, "en"))
    day = corpus.day_of[test]
    values = (np.array(ours), np.array(theirs))
    listed = []
    for v in values:
        picks = shown = 0
        for d in np.unique(day):
            top = np.argsort(-v[day == d], kind="stable")[:10]
            top = top[v[day == d][top] >= 7.0]
            picks += int(positive[day == d][top].sum())
            shown += len(top)
        listed.append((picks / len(np.unique(day)), shown / len(np.unique(day))))
    return (*value_figures(values, positive, day), listed[0][0], listed[1][0], listed[0][1], listed[1][1])


def value_figures(pair: tuple[np.ndarray, np.ndarray], positive: np.ndarray, day: np.ndarray) -> tuple[float, ...]:
    """Figures of two 1-10 valuations (ours, theirs) of one field: AUC by day, recall and precision at 7, papers
    valued >= 7 per day (values are rounded to one decimal, as readers see them)."""
    aucs = [float(np.nanmean([auc(v[day == d], positive[day == d]) for d in np.unique(day)])) for v in pair]
    recall = [float(positive[v >= 7.0].sum() / max(1, positive.sum())) for v in pair]
    precision = [float(positive[v >= 7.0].mean()) if (v >= 7.0).any() else 0.0 for v in pair]
    per_day = [float((v >= 7.0).sum() / len(np.unique(day))) for v in pair]
    return (*aucs, *recall, *precision, *per_day)


def timing(papers: Sequence[Paper], fields: Sequence[object]) -> None:
    load_model.cache_clear()
    started = time.perf_counter()
    ranker = Ranker(fields)  # type: ignore[arg-type]
    loaded = time.perf_counter()
    pool = [replace(p, arxiv_id=f"{p.arxiv_id}-{i}") for i, p in enumerate(papers[:1000])]
    ranker.score_many(pool, "en")
    done = time.perf_counter()
    offline = OfflineScorer(fields)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    offline.score_many(pool, "en")
    t1 = time.perf_counter()
    print(f"\nmodel load + ranker build {loaded - started:.2f}s; 1000 papers scored in {done - loaded:.2f}s "
          f"(offline scorer {t1 - t0:.2f}s)")


if __name__ == "__main__":
    main()
