"""What share of papers get a code link (core/build/links.py): on the sample days and the labelled days.

A measurement script, not a test: it prints figures and asserts nothing. Run it from the repo root:

    .venv/bin/python bench/code_links.py [FOLDER ...]

Default folders: data/arxiv (the sample days), data/dev-labelled, and /work/shared/data/labelled-days
when present. Per folder it prints the papers, the share with any link and by kind (code, model,
project page), and, where days are labelled, the same share among the picked papers (a label).
Only abstracts are read: the sample files carry no arXiv comments.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from core.build.links import KINDS, find_links  # noqa: E402

DEFAULT = [ROOT / "data" / "arxiv", ROOT / "data" / "dev-labelled", Path("/work/shared/data/labelled-days")]


def coverage(folder: Path) -> tuple[Counter[str], Counter[str]]:
    """Counts for every paper and for the labelled picks: "papers", "any" and one per link kind."""
    every: Counter[str] = Counter()
    picked: Counter[str] = Counter()
    for file in sorted(folder.glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            record = json.loads(line)
            links = find_links(record.get("abstract") or "", record.get("comment") or "")
            for counter in (every, picked) if record.get("label") else (every,):
                counter["papers"] += 1
                if links:
                    counter["any"] += 1
                    counter[links[0].kind] += 1
    return every, picked


def line(name: str, counts: Counter[str]) -> str:
    n = counts["papers"]
    if not n:
        return f"{name:<44} no papers"
    kinds = "  ".join(f"{k} {100 * counts[k] / n:4.1f}%" for k in KINDS)
    return f"{name:<44} {n:>6} papers  any link {counts['any']:>5} = {100 * counts['any'] / n:4.1f}%   {kinds}"


def main(argv: list[str]) -> None:
    folders = [Path(a) for a in argv] or [f for f in DEFAULT if f.is_dir()]
    for folder in folders:
        every, picked = coverage(folder)
        days = len(list(folder.glob("*.jsonl")))
        print(line(f"{folder} ({days} days)", every))
        if picked["papers"]:
            print(line("  of which labelled picks", picked))


if __name__ == "__main__":
    main(sys.argv[1:])
