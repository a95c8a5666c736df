"""The command line: parse arguments, call one pipeline function, print the outcome.

No logic about what a day, a score or a digest is lives here; that is core/pipeline.py's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from core import pipeline
from core.config import Settings
from core.errors import ConfigError
from core.sources.jsonl import load_papers


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be between 1 and 10: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arxiv-digest",
        description="Score each day's new arXiv papers against your research fields and build digests.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one daily cycle: fetch, score, store, write the digest")
    run.add_argument("--date", type=_date, help="listing day to run (default: today's listing)")
    run.add_argument("--input", type=Path, help="a JSONL file or folder of them, instead of arXiv")
    run.add_argument("--min-score", type=_score, help="threshold for this digest (default MIN_SCORE)")
    run.add_argument("--offline", action="store_true", help="use the offline scorer even with an LLM key")
    run.add_argument("--quiet", action="store_true", help="print the summary line only, not the digest")

    score = sub.add_parser("score", help="score papers from a JSONL file; print one JSON line per paper")
    score.add_argument("path", type=Path)
    score.add_argument("--offline", action="store_true", help="use the offline scorer even with an LLM key")

    paper = sub.add_parser("paper", help="show one paper with its scores (fetched from arXiv if not stored)")
    paper.add_argument("id", metavar="ID_OR_URL")
    paper.add_argument("--offline", action="store_true", help="use the offline scorer even with an LLM key")

    search = sub.add_parser("search", help="full-text search over stored papers")
    search.add_argument("words", nargs="+")
    search.add_argument("--limit", type=int, default=10)

    stats = sub.add_parser("stats", help="recent runs: papers read, tokens, model, duration")
    stats.add_argument("--limit", type=int, default=14)
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        width = 30
        filled = int(width * done / total)
        self.stream.write(f"\r{step:<8} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed command."""
    from bot.__main__ import open_services

    now = datetime.now(UTC)
    offline = bool(getattr(args, "offline", False))
    async with open_services(settings, offline=offline) as services:
        if args.command == "run":
            return await cmd_run(services, args, now)
        if args.command == "score":
            return await cmd_score(services, args, now)
        if args.command == "paper":
            return await cmd_paper(services, args, now)
        if args.command == "search":
            return await cmd_search(services, args)
        if args.command == "stats":
            return await cmd_stats(services, args)
    raise ConfigError(f"unknown command {args.command}")


async def cmd_run(services: pipeline.Services, args: argparse.Namespace, now: datetime) -> int:
    result = await pipeline.run_day(
        services, now=now, day=args.date, input_path=args.input, offline=args.offline,
        min_score=args.min_score, progress=ProgressBar(),
    )
    if not args.quiet:
        print(result.markdown)
    where = f" -> {result.markdown_path}" if result.markdown_path else ""
    print(result.message + where, file=sys.stderr)
    return 0


async def cmd_score(services: pipeline.Services, args: argparse.Namespace, now: datetime) -> int:
    papers = load_papers(args.path)
    scored = await pipeline.score_with_cache(
        services, papers, offline=args.offline, now=now, budget_day=None, use_cache=False, progress=ProgressBar(),
    )
    for s in scored.scores:
        print(json.dumps({"id": s.arxiv_id, "field": s.field_slug, "score": s.value, "reason": s.reason,
                          "stage": s.stage}, ensure_ascii=False))
    if scored.tokens_in or scored.tokens_out:
        print(f"tokens: {scored.tokens_in} in, {scored.tokens_out} out", file=sys.stderr)
    return 0


async def cmd_paper(services: pipeline.Services, args: argparse.Namespace, now: datetime) -> int:
    view = await pipeline.lookup_paper(services, args.id, now=now, offline=args.offline)
    p, s = view.paper, view.score
    names = {f.slug: f.name_en for f in services.fields}
    print(p.title)
    print(", ".join(p.authors))
    print(f"{p.url}  ({p.primary_category}, {p.published.isoformat()})")
    if s.value is not None:
        print(f"Best field: {names.get(s.field_slug or '', s.field_slug)}  {s.value:.1f}/10  [{s.stage}]")
        print(f"Reason: {s.reason}")
    for slug, value in sorted(s.field_scores.items(), key=lambda kv: -kv[1]):
        print(f"  {value:4.1f}  {names.get(slug, slug)}")
    print()
    print(view.summary)
    return 0


async def cmd_search(services: pipeline.Services, args: argparse.Namespace) -> int:
    hits = await pipeline.search_papers(services, " ".join(args.words), limit=args.limit)
    if not hits:
        print("no stored paper matches", file=sys.stderr)
        return 1
    for paper, score in hits:
        mark = f"{score.value:4.1f}" if score and score.value is not None else "  - "
        print(f"{mark}  {paper.arxiv_id}  {paper.published.isoformat()}  {paper.title}")
    return 0


async def cmd_stats(services: pipeline.Services, args: argparse.Namespace) -> int:
    runs = await services.store.list_runs(limit=args.limit)
    if not runs:
        print("no runs yet", file=sys.stderr)
        return 0
    print(f"{'day':<10}  {'status':<15}  {'papers':>6}  {'scored':>6}  {'tokens in':>9}  {'tokens out':>10}  "
          f"{'tok/paper':>9}  {'secs':>6}  model")
    for r in runs:
        per = f"{r.tokens / r.papers_read:.0f}" if r.papers_read else "-"
        print(f"{r.day.isoformat():<10}  {r.status:<15}  {r.papers_read:>6}  {r.scored:>6}  {r.tokens_in:>9}  "
              f"{r.tokens_out:>10}  {per:>9}  {r.duration_seconds:>6.1f}  {r.model}")
    return 0
