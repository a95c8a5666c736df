"""Benchmark (not a test): one delivery pass fanning a scored day out to 10,000 subscribers.

Subscribers are 70% Telegram (a tenth of them groups) and 30% Slack, with varied fields, thresholds,
languages, timezones and delivery times, and a `now` at which every one of them is due. The real
senders (python-telegram-bot with AIORateLimiter, slack_sdk with its retry handlers, Slack's 1 s
per-channel pacing; Telegram's per-chat pacing off) talk to the fake servers of tests/fakes, which run
in this process; the service runs `deliver_due` with its default concurrency in a worker subprocess
(`bench/fanout.py worker ...`), so the CPU and memory figures are the service's alone.

The Telegram fake enforces a global rate (`--rate`; Telegram's is 30 messages a second, scaled up to
keep the run short) and answers 429 past it. AIORateLimiter is scaled to match: a leaky bucket of
`--burst` at `--limiter-share` x (rate - burst), because the fake counts a strict sliding second and a
bucket admits rate + bucket in one (a 429 costs AIORateLimiter a 1.1 s pause, and the parts it held
back then leave together and can trip the next one).

Reported:
  1. ratio   pass time / (Telegram messages / rate); 1.0 is the rate limit's floor       (<= 1.1)
  2. CPU     the worker's process_time per delivered digest, its aiosqlite thread included (<= 5 ms),
             and the core's own share, measured in this process with in-memory senders
  3. memory  the worker's peak RSS, and how much the pass added to it
  4. kill    a worker SIGKILLed at a random point, then a second one finishing the day: digests lost
             (a part never accepted) and duplicated (a part accepted twice), target 0 and 0. Parts the
             platform had but the ledger had not at the kill (on the wire: sent, not yet answered or
             committed) are counted too: with no idempotency key on either platform those, and only
             those, can come twice. That run is unthrottled, so it takes less time and has more parts
             on the wire than the timed one.

Each figure is measured on SQLite and on PostgreSQL (`--backend`), printed side by side at the end.
The worker's CPU counts SQLite's work (in its process) but not the PostgreSQL server's (another process).
PostgreSQL: `--database-url` names a server where the user may create databases (the bench creates and
drops its own, `fanout_*`); without it, a throwaway server from tests/pgserver.py.

Run: `.venv/bin/python bench/fanout.py` (about two minutes per backend; --help for options).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PTB_TIMEDELTA", "true")

from core.config import Settings  # noqa: E402
from core.deliver.delivery import announced_at, deliver_due, digest_parts  # noqa: E402
from core.fields import load_fields  # noqa: E402
from core.models import Block, ChatRef, Subscription  # noqa: E402
from core.services import Services  # noqa: E402
from core.store import Store  # noqa: E402
from tests.samples import scored_sample  # noqa: E402

SAMPLE = ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
DAY = datetime(2025, 12, 22).date()
SCORED_AT = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
# A day after the announcement every subscriber's first delivery time has passed, wherever they live.
NOW = announced_at(DAY) + timedelta(hours=24)
TELEGRAM_TOKEN = "123456:BENCH"
TIMEZONES = ("Asia/Shanghai", "Asia/Tokyo", "Asia/Kolkata", "Europe/Berlin", "Europe/London", "UTC",
             "America/New_York", "America/Chicago", "America/Los_Angeles", "Australia/Sydney")
DIGEST_TIMES = ("07:00", "07:30", "08:00", "09:00", "12:15", "18:00", "21:45")
THRESHOLDS = (4.0, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 9.0)


# -- the subscribers and what they should get ------------------------------------------------------------


def make_subscriptions(n: int, slugs: Sequence[str], rng: random.Random, telegram_share: float) -> list[Subscription]:
    """`n` varied subscriptions with distinct chats."""
    subs: list[Subscription] = []
    for i in range(n):
        if rng.random() < telegram_share:
            chat_id = str(-1_000_000_000_000 - i) if rng.random() < 0.1 else str(100_000_000 + i)
            chat = ChatRef("telegram", chat_id)
        else:
            chat = ChatRef("slack", f"C{i:08d}")
        fields: tuple[str, ...] = ()
        if rng.random() < 0.6:
            fields = tuple(sorted(rng.sample(list(slugs), rng.randint(1, 3))))
        subs.append(Subscription(
            chat, fields=fields, min_score=rng.choice(THRESHOLDS), lang="zh" if rng.random() < 0.6 else "en",
            digest_time=rng.choice(DIGEST_TIMES), timezone=rng.choice(TIMEZONES),
        ))
    return subs


def db_env(target: str, work: Path) -> dict[str, str]:
    """The settings naming the database at `target` (an SQLite path or a PostgreSQL URL)."""
    if "://" in target:
        return {"DATABASE_URL": target, "DATABASE_PATH": str(work / "locks.db")}  # the run lock's file
    return {"DATABASE_PATH": target}


class Databases:
    """Where each run's copy of the seeded template lives: SQLite files, or PostgreSQL databases created
    from the template (CREATE DATABASE ... TEMPLATE) on the server of `server_url`, dropped at the end."""

    def __init__(self, backend: str, work: Path, server_url: str | None) -> None:
        self.backend, self.work, self.server_url = backend, work, server_url
        self.made: list[str] = []

    async def new(self, name: str, template: str | None = None) -> str:
        """A database called `name`: empty, or a copy of `template` (a target this object made)."""
        if self.backend == "sqlite":
            target = self.work / f"{name}.db"
            if template:
                shutil.copy(template, target)
            return str(target)
        assert self.server_url is not None
        db = f"fanout_{name}_{os.getpid()}"
        copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        await self._admin(f'CREATE DATABASE "{db}"{copy}')
        self.made.append(db)
        return self.server_url.rsplit("/", 1)[0] + f"/{db}"

    async def _admin(self, sql: str) -> None:
        from core.store.engine import make_engine, to_url

        engine = make_engine(to_url(self.server_url or ""))
        try:
            async with engine.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).exec_driver_sql(sql)
        finally:
            await engine.dispose()

    async def drop_all(self) -> None:
        for db in reversed(self.made):
            await self._admin(f'DROP DATABASE IF EXISTS "{db}"')


async def seed(target: str, work: Path, subs: Sequence[Subscription]) -> None:
    """A store with the sample day scored (offline) and every subscription saved."""
    settings = Settings.from_env(db_env(target, work))
    async with scored_sample(settings, SCORED_AT) as services:
        for sub in subs:
            await services.store.save_subscription(sub, SCORED_AT)


class Formatter:
    """The formatting half of a platform's Sender, with an in-memory `send_part` (core's own cost)."""

    def __init__(self, platform: str) -> None:
        from bot.slack import to_slack_messages
        from bot.telegram import to_telegram_html

        self.platform = platform
        self._render = to_telegram_html if platform == "telegram" else to_slack_messages
        self.sent = 0

    def render(self, blocks: Sequence[Block], lang: str) -> Sequence[object]:
        return self._render(blocks, lang)  # type: ignore[operator, no-any-return]

    async def send_part(self, chat: ChatRef, part: object) -> None:
        self.sent += 1


def part_key(platform: str, part: Any) -> str:
    """A message's identity: Telegram's HTML, Slack's blocks canonically encoded."""
    return part if platform == "telegram" else json.dumps(part, sort_keys=True, ensure_ascii=False)


async def expected_parts(target: str, work: Path, subs: Sequence[Subscription]) -> dict[ChatRef, list[str]]:
    """What each subscriber should receive, part by part, as identity keys."""
    settings = Settings.from_env(db_env(target, work))
    out: dict[ChatRef, list[str]] = {}
    async with Store.open_settings(settings) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)))
        for platform in ("telegram", "slack"):
            mine = [s for s in subs if s.chat.platform == platform]
            parts = await digest_parts(services, Formatter(platform), mine, now=NOW, day=DAY)
            for chat, ps in parts.items():
                out[chat] = [part_key(platform, p.html if platform == "telegram" else p["blocks"])  # type: ignore[attr-defined, index]
                             for p in ps]
    return out


async def core_only(target: str, work: Path) -> tuple[float, int]:
    """CPU seconds and digests of a whole pass with in-memory senders: ledger, rendering, scheduling."""
    settings = Settings.from_env(db_env(target, work))
    async with Store.open_settings(settings) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)))
        senders: dict[str, Any] = {"telegram": Formatter("telegram"), "slack": Formatter("slack")}
        cpu = time.process_time()
        report = await deliver_due(services, senders, now=NOW)
        return time.process_time() - cpu, report.sent


# -- the worker: the service side, in its own process ---------------------------------------------------


def peak_rss_kb() -> int:
    """This process's peak RSS. /proc's VmHWM where there is one: ru_maxrss survives exec on Linux, so a
    worker started from a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def limiter_settings(args: argparse.Namespace) -> tuple[int, float]:
    """AIORateLimiter's bucket and rate (see the module docstring)."""
    burst = max(1, args.burst)
    return burst, (args.rate - burst) * args.limiter_share


async def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    from telegram.ext import AIORateLimiter, ApplicationBuilder

    from bot.slack import SlackSender, build_slack_client
    from bot.telegram import RATE_LIMIT_RETRIES, TelegramSender

    settings = Settings.from_env({
        **db_env(args.db, Path.cwd()), "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_BASE_URL": f"{args.telegram}/bot", "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_API_BASE_URL": f"{args.slack}/api/",
    })
    burst, limit = limiter_settings(args) if args.rate else (0, 1.0)  # rate 0: no overall limit
    limiter = AIORateLimiter(overall_max_rate=burst, overall_time_period=burst / limit, max_retries=RATE_LIMIT_RETRIES)
    # As TelegramBot builds it (bot/telegram/bot.py), with the overall limit scaled to the fake's rate.
    app = (ApplicationBuilder().token(settings.telegram_bot_token).base_url(settings.telegram_api_base_url)
           .rate_limiter(limiter).job_queue(None).build())
    await app.initialize()
    # As `deliver` builds them (bot/cli.py open_senders): Slack paced 1 s per channel. Telegram's per-chat
    # pacing (1 s) is off: at the fake's rate (Telegram's x5) it, not the rate limit measured here, would
    # set the pace (one run with it on: ratio 1.66 where the runs without it gave 1.17-1.39).
    senders: dict[str, Any] = {"telegram": TelegramSender(app.bot, min_interval=0),
                               "slack": SlackSender(build_slack_client(settings))}
    options = {"concurrency": args.concurrency} if args.concurrency else {}
    try:
        async with Store.open_settings(settings) as store:
            services = Services(settings, store, tuple(load_fields(settings.fields_path)))
            rss_before = peak_rss_kb()
            started = time.monotonic()  # system-wide on Linux: comparable with the fakes' stamps
            cpu0, t0 = time.process_time(), time.perf_counter()
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
            report = await deliver_due(services, senders, now=NOW, **options)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            if args.profile:
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
            rss_peak = peak_rss_kb()
    finally:
        await app.shutdown()
    return {"started": started, "elapsed": elapsed, "cpu": cpu, "rss_before_kb": rss_before, "rss_peak_kb": rss_peak,
            "sent": report.sent, "parts": report.parts, "failed": report.failed, "empty": report.skipped_empty,
            "already": report.already, "errors": report.errors[:5]}


def worker_main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(asyncio.run(run_worker(args))), flush=True)
    return 0


# -- the orchestrator: fakes, workers, counting -----------------------------------------------------------


@dataclass
class Tally:
    lost: int  # subscribers missing a part (or given one that is not theirs)
    duplicated: int  # subscribers with a part accepted twice
    extra_parts: int  # copies beyond the first, summed
    telegram: int  # messages accepted
    slack: int


def accepted(telegram: Any, slack: Any) -> dict[ChatRef, Counter[str]]:
    got: dict[ChatRef, Counter[str]] = {}
    for call in telegram.accepted("sendMessage"):
        got.setdefault(ChatRef("telegram", str(call.params["chat_id"])), Counter())[call.text] += 1
    for call in slack.accepted("chat.postMessage"):
        chat = ChatRef("slack", str(call.params["channel"]))
        got.setdefault(chat, Counter())[part_key("slack", call.params["blocks"])] += 1
    return got


def tally(expected: dict[ChatRef, list[str]], telegram: Any, slack: Any) -> Tally:
    got = accepted(telegram, slack)
    lost = duplicated = extra = 0
    for chat, parts in expected.items():
        counts = got.get(chat, Counter())
        if any(counts[p] == 0 for p in parts) or set(counts) - set(parts):
            lost += 1
        if any(n > 1 for n in counts.values()):
            duplicated += 1
            extra += sum(n - 1 for n in counts.values() if n > 1)
    return Tally(lost, duplicated, extra, len(telegram.accepted("sendMessage")),
                 len(slack.accepted("chat.postMessage")))


async def unrecorded(db: str, expected: dict[ChatRef, list[str]], telegram: Any, slack: Any) -> int:
    """Parts the fakes accepted that the ledger had not recorded: the at-least-once window at a kill."""
    async with Store.open(db) as store:
        ledger = await store.deliveries_for_day(DAY)
    got = accepted(telegram, slack)
    count = 0
    for chat, parts in expected.items():
        done = ledger[chat].parts_sent if chat in ledger else 0
        count += sum(1 for p in parts[done:] if got.get(chat, Counter())[p])
    return count


def worker_command(args: argparse.Namespace, db: str, telegram_url: str, slack_url: str, *,
                   rate: float, profile: bool = False) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "worker", "--db", str(db), "--telegram", telegram_url,
            "--slack", slack_url, "--rate", str(rate), "--limiter-share", str(args.limiter_share),
            "--burst", str(args.burst), "--concurrency", str(args.concurrency or 0),
            *(["--profile"] if profile else [])]


async def start_worker(cmd: list[str], cwd: Path) -> asyncio.subprocess.Process:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env = {**keep, "PTB_TIMEDELTA": "true", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
           "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(*cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)


async def finish_worker(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"worker exited {proc.returncode}:\n{err.decode()[-3000:]}")
    if err.strip():
        print(err.decode()[-6000:], file=sys.stderr)
    return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


async def settle(fake: Any) -> None:
    """Let the fakes answer what a dead worker had already sent them."""
    for _ in range(500):
        await asyncio.sleep(0.01)
        if not fake.in_flight:
            return


async def orchestrate(args: argparse.Namespace, backend: str, server_url: str | None) -> dict[str, str]:
    """Run the bench on one backend; print as it goes and return the figures for the side-by-side table."""
    from tests.fakes.slack import FakeSlack
    from tests.fakes.telegram import FakeTelegram

    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # a killed worker's half-sent requests
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="fanout-"))
    dbs = Databases(backend, work, server_url)
    figures: dict[str, str] = {}
    print(f"\n== {backend} ==")
    try:
        template = await dbs.new("template")
        t0 = time.perf_counter()
        subs = make_subscriptions(args.subscribers, [f.slug for f in load_fields(Settings.from_env({}).fields_path)],
                                  rng, args.telegram_share)
        await seed(template, work, subs)
        expected = await expected_parts(template, work, subs)
        platforms = Counter(s.chat.platform for s in subs)
        digests = sum(1 for parts in expected.values() if parts)
        tg_msgs = sum(len(p) for c, p in expected.items() if c.platform == "telegram")
        sl_msgs = sum(len(p) for c, p in expected.items() if c.platform == "slack")
        seeded = time.perf_counter() - t0
        core_cpu, core_sent = await core_only(await dbs.new("core", template), work)
        burst, limit = limiter_settings(args)
        print(f"{len(subs)} subscribers ({platforms['telegram']} Telegram, {platforms['slack']} Slack), all due: "
              f"{digests} digests ({len(subs) - digests} empty), {tg_msgs} Telegram + {sl_msgs} Slack messages "
              f"(seeded in {seeded:.0f}s)")
        print(f"rate: the Telegram fake allows {args.rate:g} msg/s (Telegram allows 30: scaled x{args.rate / 30:g}); "
              f"AIORateLimiter {limit:.1f}/s with a bucket of {burst}; Slack paced 1 s per channel; "
              f"deliver_due concurrency {args.concurrency or 'default'}")

        # -- a whole pass, timed --
        async with FakeTelegram(token=TELEGRAM_TOKEN) as telegram, FakeSlack() as slack:
            telegram.rate_limit = args.rate
            db = await dbs.new("full", template)
            fakes_cpu = time.process_time()
            proc = await start_worker(worker_command(args, db, telegram.url, slack.url, rate=args.rate,
                                                     profile=args.profile), work)
            result = await finish_worker(proc)
            fakes_cpu = time.process_time() - fakes_cpu
            counted = tally(expected, telegram, slack)
            limited = sum(1 for c in telegram.calls("sendMessage") if c.status == 429)
            tg_done = max((c.at for c in telegram.accepted("sendMessage")), default=result["started"])
            sl_done = max((c.at for c in slack.accepted("chat.postMessage")), default=result["started"])
        ideal = tg_msgs / args.rate
        cpu_ms = result["cpu"] * 1000
        print()
        print(f"full pass: {result['elapsed']:.1f}s, {result['sent']} digests sent ({counted.telegram} Telegram and "
              f"{counted.slack} Slack messages), {result['empty']} empty, {result['failed']} failed; "
              f"429s from the Telegram fake: {limited}")
        print(f"  last Telegram message at {tg_done - result['started']:.1f}s, last Slack message at "
              f"{sl_done - result['started']:.1f}s (the fakes' own CPU meanwhile: {fakes_cpu:.1f}s, not counted)")
        print(f"  1. elapsed / (Telegram messages / rate) = {result['elapsed']:.1f} / ({tg_msgs} / {args.rate:g}) "
              f"= {result['elapsed'] / ideal:.3f}   (target <= 1.1)")
        print(f"  2. CPU per delivered digest = {cpu_ms:.0f} ms / {result['sent']} = "
              f"{cpu_ms / max(1, result['sent']):.2f} ms   (target <= 5); core's own share (ledger, rendering, "
              f"the pass; in-memory senders): {core_cpu * 1000 / max(1, core_sent):.2f} ms, the rest is "
              f"python-telegram-bot/httpx and slack_sdk/aiohttp")
        added = (result["rss_peak_kb"] - result["rss_before_kb"]) / 1024
        print(f"  3. peak RSS {result['rss_peak_kb'] / 1024:.0f} MB ({added:.0f} MB added by the pass)")
        print(f"     lost {counted.lost}, duplicated {counted.duplicated}")
        figures.update({
            f"seed ({len(subs)} subscriptions saved one by one, a day scored)": f"{seeded:.0f} s",
            "full pass": f"{result['elapsed']:.1f} s", "1. ratio to the rate limit": f"{result['elapsed'] / ideal:.3f}",
            "2. CPU per digest (worker)": f"{cpu_ms / max(1, result['sent']):.2f} ms",
            "   core's own share": f"{core_cpu * 1000 / max(1, core_sent):.2f} ms",
            "3. peak RSS (added)": f"{result['rss_peak_kb'] / 1024:.0f} MB ({added:.0f} MB)",
            "   lost / duplicated": f"{counted.lost} / {counted.duplicated}",
        })

        # -- killed at a random point, then finished --
        async with FakeTelegram(token=TELEGRAM_TOKEN) as telegram, FakeSlack() as slack:
            db = await dbs.new("killed", template)
            at = rng.uniform(0.1, 0.9)
            proc = await start_worker(worker_command(args, db, telegram.url, slack.url, rate=0), work)
            while len(telegram.accepted("sendMessage")) + len(slack.accepted("chat.postMessage")) < at * (
                    tg_msgs + sl_msgs):
                if proc.returncode is not None:
                    raise RuntimeError("the worker finished before the kill")
                await asyncio.sleep(0.001)
            await asyncio.sleep(rng.uniform(0, 0.02))  # anywhere in a part's round trip
            proc.send_signal(signal.SIGKILL)
            await proc.communicate()
            await settle(telegram)
            before = tally(expected, telegram, slack)
            window = await unrecorded(db, expected, telegram, slack)
            second = await finish_worker(await start_worker(
                worker_command(args, db, telegram.url, slack.url, rate=0), work))
            counted = tally(expected, telegram, slack)
        print()
        print(f"killed (SIGKILL, unthrottled run) at {at:.0%} of the messages ({before.telegram + before.slack} "
              f"accepted), then rerun: {second['sent']} digests sent, {second['already']} already delivered")
        print(f"  4. lost {counted.lost}, duplicated {counted.duplicated} digests ({counted.extra_parts} parts twice)"
              f"   (target 0 and 0); parts the platforms had and the ledger had not at the kill: {window}")
        figures.update({"4. killed at": f"{at:.0%}", "   lost / duplicated digests": f"{counted.lost} / "
                        f"{counted.duplicated}", "   parts on the wire at the kill": str(window)})
        return figures
    finally:
        await dbs.drop_all()
        shutil.rmtree(work, ignore_errors=True)


def side_by_side(results: dict[str, dict[str, str]]) -> None:
    backends = list(results)
    print("\n" + f"{'':<58}" + "".join(f"{b:>16}" for b in backends))
    for key in results[backends[0]]:
        print(f"{key:<58}" + "".join(f"{results[b].get(key, '-'):>16}" for b in backends))


async def bench(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, dict[str, str]] = {}
    with contextlib.ExitStack() as stack:
        server_url = args.database_url
        if "postgres" in backends and not server_url:
            from tests.pgserver import PgServer

            server_url = stack.enter_context(PgServer.start()).url()
        for backend in backends:
            results[backend] = await orchestrate(args, backend, server_url)
    side_by_side(results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "worker"))
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--telegram-share", type=float, default=0.7)
    parser.add_argument("--rate", type=float, default=150.0, help="the Telegram fake's global msg/s limit")
    parser.add_argument("--limiter-share", type=float, default=0.97,
                        help="AIORateLimiter's rate / (--rate - --burst)")
    parser.add_argument("--burst", type=int, default=5, help="AIORateLimiter's bucket")
    parser.add_argument("--concurrency", type=int, default=0, help="deliver_due's (0: its default)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgres"), default="both")
    parser.add_argument("--database-url", help="a PostgreSQL server's URL (postgresql://user:pw@host:5432/db; the"
                        " bench creates and drops its own databases there); default: a throwaway server")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed pass (worker's stderr)")
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--telegram", help=argparse.SUPPRESS)
    parser.add_argument("--slack", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode == "worker":
        return worker_main(args)
    asyncio.run(bench(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
