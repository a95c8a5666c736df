"""The command line: parse arguments, call one core function, print the outcome.

No logic about what a day, a score or a digest is lives here; that is core's (core/daily.py runs a day,
core/lookup.py finds papers, core/views.py builds a reader's digest).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from bot.args import MAX_LIMIT, count, iso_day, score_threshold, seconds
from bot.check import check, writable_dir_problem
from bot.logs import setup_logging
from bot.service import EXIT_BUSY, cmd_deliver, cmd_serve, cmd_status
from bot.site import cmd_site
from bot.subscribers import add_arguments as add_subscriber_commands
from bot.subscribers import cmd_subscribe, cmd_subscribers, cmd_unsubscribe
from bot.wiring import Clock, load_env, open_services, system_clock
from core.config import Settings
from core.daily import RunResult, input_days, run_day
from core.errors import ConfigError, DigestError
from core.fetch.jsonl import load_papers
from core.lookup import lookup_paper, search_papers
from core.runlock import RunInProgress
from core.score.cache import score_with_cache
from core.searchwords import search_words
from core.services import Services
from core.store import migrate
from core.store.engine import describe, to_url

log = logging.getLogger(__name__)

# `run`'s exit statuses besides 0 and the generic 1 (README "Command line"): cron and systemd alert on them.
EXIT_DEGRADED = 3  # more than half of the papers meant for the LLM fell back to their offline score
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a command killed by a closed pipe exits


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arxiv-digest",
        description="Score each day's new arXiv papers against your research fields and build digests.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one daily cycle: fetch, score, store, write the digest")
    run.add_argument("--date", type=iso_day, help="listing day to run (default: today's listing)")
    run.add_argument("--input", type=Path,
                     help="a JSONL file or folder of them, instead of arXiv: every day in it, oldest first")
    run.add_argument("--min-score", type=score_threshold, help="threshold for this digest (default MIN_SCORE)")
    run.add_argument("--offline", action="store_true", help="use the offline scorer even with an LLM key")
    run.add_argument("--quiet", action="store_true", help="print the summary line only, not the digest")
    run.add_argument("--wait", type=seconds, default=600.0, metavar="SECONDS",
                     help="wait this long for another run of the same database to finish (default 600; 0: don't)")

    score = sub.add_parser("score", help="score papers from a JSONL file; print one JSON line per paper")
    score.add_argument("path", type=Path)
    score.add_argument("--offline", action="store_true", help="use the offline scorer even with an LLM key")

    paper = sub.add_parser("paper", help="show one paper with its scores (fetched from arXiv if not stored)")
    paper.add_argument("id", metavar="ID_OR_URL")
    paper.add_argument("--offline", action="store_true", help="use the offline scorer even with an LLM key")

    search = sub.add_parser("search", help="full-text search over stored papers")
    search.add_argument("words", nargs="+")
    search.add_argument("--limit", type=count(MAX_LIMIT), default=10)

    stats = sub.add_parser("stats", help="recent runs: papers read, tokens, model, duration")
    stats.add_argument("--limit", type=count(MAX_LIMIT), default=14)

    site = sub.add_parser("site", help="write the static site (a page per day, search, Atom feeds) from the store")
    site.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write the site into")
    site.add_argument("--lang", choices=("zh", "en"), help="language of the pages (default DIGEST_LANGUAGE)")
    site.add_argument("--base-url", metavar="URL", help="the site's public URL, for absolute feed ids and links")

    sub.add_parser("serve", help="run the Telegram and/or Slack bots with the daily scheduler")

    deliver = sub.add_parser("deliver", help="send every digest that is due now (safe to run twice or to kill)")
    deliver.add_argument("--date", type=iso_day,
                         help="digest day (default: the newest announced listing day that has been scored)")
    deliver.add_argument("--force", action="store_true", help="ignore subscribers' delivery times")
    deliver.add_argument("--wait", type=seconds, default=600.0,
                         help="seconds to wait for another delivery of the database to finish (default 600)")

    add_subscriber_commands(sub)

    sub.add_parser("check", help="verify the deployment: settings, database, fields, LLM, arXiv, Telegram, Slack")
    sub.add_parser("migrate", help="upgrade the database to this version's schema (back it up first; safe to rerun)")

    status = sub.add_parser("status", help="the latest run and its deliveries by state")
    status.add_argument("--date", type=iso_day,
                        help="digest day (default: the newest announced listing day that has been scored)")
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


def main(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, *, clock: Clock = system_clock,
) -> int:
    """Console entry point: `arxiv-digest COMMAND ...`. `env` replaces the environment and `.env` (tests)."""
    args = parse_args(argv)
    try:
        code = _run(args, env, clock)
        sys.stdout.flush()  # a closed pipe shows here, not at exit (where Python would print a traceback)
        return code
    except BrokenPipeError:
        # `arxiv-digest status | head -1`: the reader has gone; stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, env: Mapping[str, str] | None, clock: Clock) -> int:
    environment = load_env() if env is None else env
    if args.command == "check":
        return asyncio.run(check(environment, sys.stdout, log_warnings=True))
    try:
        settings = Settings.from_env(environment)
    except ConfigError as exc:
        print(f"arxiv-digest: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings)
    try:
        if args.command == "migrate":
            return asyncio.run(cmd_migrate(settings))
        return asyncio.run(dispatch(args, settings, clock))
    except DigestError as exc:
        print(f"arxiv-digest: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # BrokenPipeError (an OSError) is main()'s
        if isinstance(exc, BrokenPipeError):
            raise
        # A file or folder the command needed (DIGEST_DIR, an --input path): say which, without a traceback.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"arxiv-digest: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


async def cmd_migrate(settings: Settings) -> int:
    """Upgrade the database to the head revision; print where it was and where it is now."""
    database = settings.database_url or settings.database_path
    before, after = await migrate(database)
    where = describe(to_url(database))
    print(f"{where}: schema {before} -> {after}" if before != after else f"{where}: schema {after}, nothing to do")
    return 0


async def dispatch(args: argparse.Namespace, settings: Settings, clock: Clock = system_clock) -> int:
    """Run the parsed command."""
    now = clock()
    offline = bool(getattr(args, "offline", False))
    if args.command in ("run", "serve"):
        # Before any token is spent: a run (or a service whose daily run) cannot write its digest should not start.
        problem = writable_dir_problem(settings.digest_dir)
        if problem:
            raise ConfigError(f"DIGEST_DIR: {problem}; set DIGEST_DIR to a folder you can write to")
    async with open_services(settings, offline=offline) as services:
        if args.command == "run":
            return await cmd_run(services, args, now, clock)
        if args.command == "score":
            return await cmd_score(services, args, now)
        if args.command == "paper":
            return await cmd_paper(services, args, now)
        if args.command == "search":
            return await cmd_search(services, args)
        if args.command == "stats":
            return await cmd_stats(services, args)
        if args.command == "site":
            return await cmd_site(services, args)
        if args.command == "serve":
            return await cmd_serve(services, clock)
        if args.command == "deliver":
            return await cmd_deliver(services, args, now, clock)
        if args.command == "status":
            return await cmd_status(services, args, now)
        if args.command == "subscribe":
            return await cmd_subscribe(services, args, now)
        if args.command == "unsubscribe":
            return await cmd_unsubscribe(services, args, now)
        if args.command == "subscribers":
            return await cmd_subscribers(services, args, now)
    raise ConfigError(f"unknown command {args.command}")


async def cmd_run(services: Services, args: argparse.Namespace, now: datetime, clock: Clock = system_clock) -> int:
    """Run the day (or every day of --input, oldest first); one summary line per day on stderr.

    Exits EXIT_DEGRADED when, on any day run, more than half of the papers meant for the LLM fell back
    to their offline score, and EXIT_BUSY when another run held the database past --wait.
    """
    days: list[date | None] = [args.date]
    if args.input is not None and args.date is None:
        days = [*input_days(args.input)] or [None]
    results: list[RunResult] = []
    for day in days:
        try:
            result = await run_day(
                services, now=now, clock=clock, day=day, input_path=args.input, offline=args.offline,
                min_score=args.min_score, progress=ProgressBar(), lock_wait=args.wait,
            )
        except RunInProgress as exc:
            print(f"arxiv-digest: {exc}", file=sys.stderr)
            return EXIT_BUSY
        results.append(result)
        if not args.quiet:
            print(result.markdown)
        where = f" -> {result.markdown_path}" if result.markdown_path else ""
        print(result.message + where, file=sys.stderr)
    return EXIT_DEGRADED if any(r.degraded for r in results) else 0


async def cmd_score(services: Services, args: argparse.Namespace, now: datetime) -> int:
    papers = load_papers(args.path)
    scored = await score_with_cache(
        services, papers, offline=args.offline, now=now, budget_day=None, use_cache=False, progress=ProgressBar(),
    )
    for s in scored.scores:
        print(json.dumps({"id": s.arxiv_id, "field": s.field_slug, "score": s.value, "reason": s.reason,
                          "stage": s.stage}, ensure_ascii=False))
    if scored.tokens_in or scored.tokens_out:
        print(f"tokens: {scored.tokens_in} in, {scored.tokens_out} out", file=sys.stderr)
    return 0


async def cmd_paper(services: Services, args: argparse.Namespace, now: datetime) -> int:
    view = await lookup_paper(services, args.id, now=now, offline=args.offline)
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


async def cmd_search(services: Services, args: argparse.Namespace) -> int:
    if not search_words(" ".join(args.words)):
        print("only common words (such as the, of, for), which search ignores: add a topic word"
              if search_words(" ".join(args.words), common=True) else "no words to search for", file=sys.stderr)
        return 1
    hits = await search_papers(services, " ".join(args.words), limit=args.limit)
    if not hits:
        print("no stored paper matches", file=sys.stderr)
        return 1
    for paper, score in hits:
        mark = f"{score.value:4.1f}" if score and score.value is not None else "  - "
        print(f"{mark}  {paper.arxiv_id}  {paper.published.isoformat()}  {paper.title}")
    return 0


async def cmd_stats(services: Services, args: argparse.Namespace) -> int:
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
