"""Benchmark (not a test): a reader's `/interests` in Chinese, valued without an LLM.

Papers are in English; the offline valuation (`core.score.routing.offline_interest_scores`) reads a
profile's Chinese terms through core/score/glossary.py. For each default field, its name is written as a
reader's profile in English (`name_en`, "Deep learning theory") and in Chinese (`name_zh`, "深度学习理论"), and
valued on labelled days by the product's function with the shipped model; the Chinese profile is also
valued as it was before the glossary (phrases passed through as written). Printed per field and as a mean:
AUC by day of "picked for this field" | of its picks, the share valued >= 7 | of the papers valued >= 7,
its picks | papers valued >= 7 per day.

The shipped model was trained on these days, so the figures flatter every row alike; what matters is the
Chinese rows against the English one. Run: `.venv/bin/python bench/chinese_interests.py` (about 5 minutes;
`--every 3` uses every third day, the default; `--every 1` all 62).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.eval_ranker import value_figures  # noqa: E402
from bench.train_ranker import DEFAULT_DATA, FIELDS_PATH, load_days  # noqa: E402
from core.fields import load_fields  # noqa: E402
from core.score.profile import parse_interests  # noqa: E402
from core.score.routing import offline_interest_scores  # noqa: E402


def figures(text: str, slug: str, days: list, glossary: bool = True) -> tuple[float, ...]:
    """value_figures of one profile over `days` (the product's offline valuation)."""
    field = parse_interests(text).judge_field()
    values, positive, day = [], [], []
    before = mock.patch("core.score.routing.english_phrase", side_effect=lambda p: p)
    with before if not glossary else contextlib.nullcontext():
        for d, labelled in enumerate(days):
            scores = offline_interest_scores(field, labelled.papers, "zh")
            values.extend(scores[p.arxiv_id].value or 1.0 for p in labelled.papers)
            positive.extend(lab is not None and lab.field_slug == slug for lab in labelled.labels)
            day.extend([d] * len(labelled.papers))
    v, pos, dd = np.array(values), np.array(positive), np.array(day)
    return value_figures((v, v), pos, dd)[::2]  # ours only: AUC, recall, precision, per day


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--every", type=int, default=3, help="use every n-th labelled day")
    args = parser.parse_args()
    days = load_days(args.data)[2::args.every] if args.every > 1 else load_days(args.data)
    print(f"{len(days)} labelled days, {sum(len(d.papers) for d in days)} papers; per field: AUC by day | its "
          "picks valued >= 7 | of the papers >= 7, its picks | papers >= 7 a day")
    rows: dict[str, list[tuple[float, ...]]] = {"English name": [], "Chinese name": [], "Chinese, no glossary": []}
    for field in load_fields(FIELDS_PATH):
        runs = {"English name": (field.name_en, True), "Chinese name": (field.name_zh, True),
                "Chinese, no glossary": (field.name_zh, False)}
        for name, (text, glossary) in runs.items():
            row = figures(text, field.slug, days, glossary)
            rows[name].append(row)
            print(f"  {field.slug:<22} {name:<21} {text:<34} | {row[0]:.3f} | {row[1]:.2f} | {row[2]:.2f} | "
                  f"{row[3]:.1f}")
    print("mean:")
    for name, found in rows.items():
        a = np.array(found).mean(axis=0)
        print(f"  {name:<21} | AUC {a[0]:.3f} | picks >= 7 {a[1]:.2f} | precision {a[2]:.2f} | {a[3]:.1f} a day")


if __name__ == "__main__":
    main()
