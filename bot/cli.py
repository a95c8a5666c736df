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
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.args import MAX_LIMIT, count, iso_day, score_threshold
from bot.check import check, writable_dir_problem
from bot.commands import Commands
from bot.logs import setup_logging
from bot.schedule import Scheduler
from bot.wiring import load_env, open_services
from core.config import Settings
from core.daily import run_day
from core.deliver.delivery import Sender, deliver_due
from core.errors import ConfigError, DeliveryError, DigestError
from core.fetch.jsonl import load_papers
from core.lookup import lookup_paper, search_papers
from core.prepare.day import latest_digest_day
from core.runs import summarise_runs
from core.score.cache import score_with_cache
from core.services import Services

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a command killed by a closed pipe exits


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arxiv-digest",
        description="Score each day's new arXiv papers against your research fields and build digests.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one daily cycle: fetch, score, store, write the digest")
    run.add_argument("--date", type=iso_day, help="listing day to run (default: today's listing)")
    run.add_argument("--input", type=Path, help="a JSONL file or folder of them, instead of arXiv")
    run.add_argument("--min-score", type=score_threshold, help="threshold for this digest (default MIN_SCORE)")
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
    search.add_argument("--limit", type=count(MAX_LIMIT), default=10)

    stats = sub.add_parser("stats", help="recent runs: papers read, tokens, model, duration")
    stats.add_argument("--limit", type=count(MAX_LIMIT), default=14)

    sub.add_parser("serve", help="run the Telegram and/or Slack bots with the daily scheduler")

    deliver = sub.add_parser("deliver", help="send every digest that is due now (safe to run twice or to kill)")
    deliver.add_argument("--date", type=iso_day, help="digest day (default: the latest scored day)")
    deliver.add_argument("--force", action="store_true", help="ignore subscribers' delivery times")

    sub.add_parser("check", help="verify the deployment: settings, database, fields, LLM, arXiv, Telegram, Slack")

    status = sub.add_parser("status", help="the latest run and its deliveries by state")
    status.add_argument("--date", type=iso_day, help="digest day (default: the latest scored day)")
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


def system_clock() -> datetime:
    """The wall clock, in UTC: the one place the command line reads it."""
    return datetime.now(UTC)


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
        if args.command == "serve":
            return await cmd_serve(services, clock)
        if args.command == "deliver":
            return await cmd_deliver(services, args, now, clock)
        if args.command == "status":
            return await cmd_status(services, args)
    raise ConfigError(f"unknown command {args.command}")


async def cmd_run(services: Services, args: argparse.Namespace, now: datetime, clock: Clock = system_clock) -> int:
    result = await run_day(
        services, now=now, clock=clock, day=args.date, input_path=args.input, offline=args.offline,
        min_score=args.min_score, progress=ProgressBar(),
    )
    if not args.quiet:
        print(result.markdown)
    where = f" -> {result.markdown_path}" if result.markdown_path else ""
    print(result.message + where, file=sys.stderr)
    return 0


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


@asynccontextmanager
async def open_senders(services: Services) -> AsyncIterator[dict[str, Sender]]:
    """Senders for every configured platform, without receiving updates (for `deliver`)."""
    settings = services.settings
    senders: dict[str, Sender] = {}
    telegram = None
    if settings.telegram_bot_token:
        from bot.telegram import TelegramBot

        telegram = TelegramBot(settings, Commands(services))
        await telegram.application.initialize()
        senders["telegram"] = telegram.sender
    try:
        if settings.slack_bot_token:
            from bot.slack import SlackSender, build_slack_client

            senders["slack"] = SlackSender(build_slack_client(settings))
        yield senders
    finally:
        if telegram is not None:
            await telegram.application.shutdown()


async def cmd_deliver(
    services: Services, args: argparse.Namespace, now: datetime, clock: Clock = system_clock,
) -> int:
    async with open_senders(services) as senders:
        if not senders:
            raise ConfigError("deliver needs TELEGRAM_BOT_TOKEN or SLACK_BOT_TOKEN")
        # SIGTERM (cron timeouts, systemd) stops the pass as Ctrl-C does: the parts on the wire finish
        # and are recorded, so the next run resumes without a duplicate.
        task = asyncio.ensure_future(deliver_due(services, senders, now=now, day=args.date, force=args.force,
                                                 clock=clock))
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            report = await task
        except asyncio.CancelledError:
            print("delivery stopped; run deliver again to finish", file=sys.stderr)
            return 130
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
    print(report.summary())
    return 1 if report.failed else 0


async def cmd_status(services: Services, args: argparse.Namespace) -> int:
    store = services.store
    day = args.date or await latest_digest_day(services)
    if day is None:
        print("no run yet")
        return 0
    summary = summarise_runs(day, await store.runs_of_day(day))
    if summary is None:
        print(f"{day}: no run")
        return 0
    scorer = "offline scorer" if summary.model == "offline" else f"LLM {summary.model}"
    print(f"day:        {day} ({summary.status})")
    print(f"papers:     {summary.papers_read} read, {summary.scored} scored anew")
    print(f"tokens:     {summary.tokens_in:,} in, {summary.tokens_out:,} out")
    print(f"scorer:     {scorer}")
    if summary.note:
        print(f"note:       {summary.note}")
    counts = await store.delivery_counts(day)
    subs = await store.list_subscriptions()
    by_platform: dict[str, int] = {}
    for sub in subs:
        by_platform[sub.chat.platform] = by_platform.get(sub.chat.platform, 0) + 1
    print("deliveries: " + (", ".join(f"{state} {n}" for state, n in counts.items()) or "none yet"))
    print("active:     " + (", ".join(f"{p} {n}" for p, n in sorted(by_platform.items())) or "no subscriptions"))
    return 0


async def cmd_serve(services: Services, clock: Clock = system_clock) -> int:
    """Start the configured bots and the scheduler; stop cleanly on SIGINT or SIGTERM."""
    settings = services.settings
    commands = Commands(services)
    bots: list[Any] = []
    if settings.telegram_bot_token:
        from bot.telegram import TelegramBot

        bots.append(TelegramBot(settings, commands, clock=clock))
    if settings.slack_bot_token:
        from bot.slack import SlackBot

        bots.append(SlackBot(settings, commands, clock=clock))
    if not bots:
        raise ConfigError("serve needs TELEGRAM_BOT_TOKEN and/or SLACK_BOT_TOKEN (see README)")
    started: list[Any] = []
    scheduler: Scheduler | None = None
    try:
        for bot in bots:
            try:
                await bot.start()
                started.append(bot)
            except DeliveryError as exc:  # one unreachable platform must not keep the other down
                log.error("could not start %s: %s", type(bot).__name__, exc)
        if not started:
            raise ConfigError("no chat platform could be started")
        scheduler = Scheduler(services, {bot.sender.platform: bot.sender for bot in started}, clock=clock)
        scheduler.start()
        log.info("serving: %s; scoring %s %s on %s", ", ".join(b.sender.platform for b in started),
                 settings.scoring_time, settings.scoring_timezone, ",".join(settings.scoring_days))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        for bot in reversed(started):
            await bot.stop()
    return 0
