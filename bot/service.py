"""The service commands: `serve` (bots and scheduler), `deliver` (one delivery pass) and `status`.

Like the rest of the command line, each calls into core and prints the outcome; what a day or a digest
is lives in core. Several `serve` processes may share one database (docs/deploy.md): each answers
commands and webhooks, one at a time leads (bot/leader.py), a receiver that allows one consumer
(Telegram long polling, Slack Socket Mode) refuses a second, and Telegram sends from every process
share the bot's rate (core/deliver/botrate.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from bot.commands import Commands
from bot.feishu.sender import FeishuSender
from bot.leader import DELIVERY_LOCK, LEADER_LOCK, SLACK_SOCKET_LOCK, TELEGRAM_POLLING_LOCK, Leadership
from bot.schedule import Scheduler
from bot.web import SiteServer
from bot.wiring import Clock, system_clock
from core.build.digest import llm_share_lines
from core.calendar import latest_listing_day
from core.daily import describe_scorer
from core.deliver.botrate import SharedRate
from core.deliver.delivery import Sender, deliver_due
from core.errors import ConfigError, DeliveryError
from core.prepare.day import latest_digest_day, load_day
from core.runs import NO_ANNOUNCEMENT, note_facts
from core.services import Services
from core.store.locks import NamedLock

log = logging.getLogger(__name__)

EXIT_BUSY = 4  # another run or delivery held the database past --wait


def telegram_rate(services: Services, clock: Clock) -> SharedRate:
    """The bot's send rate shared with every process of the database (TELEGRAM_MESSAGES_PER_SECOND), on the
    wall clock's Unix seconds; the bot is named by its id, the token's part before the colon."""
    settings = services.settings
    bot_id = settings.telegram_bot_token.split(":", 1)[0]
    return SharedRate(services.store.take_send_slot, f"telegram:{bot_id}", settings.telegram_messages_per_second,
                      lambda: clock().timestamp())


def feishu_sender(services: Services, clock: Clock) -> FeishuSender:
    """The Feishu/Lark webhook sender, on the process's HTTP session, signing with each webhook's stored secret."""
    return FeishuSender(services.http, services.store.get_webhook_secret, clock=clock)


async def has_feishu(services: Services) -> bool:
    """Whether any Feishu group is subscribed (Feishu alone is then enough to deliver)."""
    return bool(await services.store.list_subscriptions(platform="feishu"))


@asynccontextmanager
async def open_senders(services: Services, clock: Clock = system_clock) -> AsyncIterator[dict[str, Sender]]:
    """Senders for every configured platform, without receiving updates (for `deliver`).

    Feishu needs no setting (each subscription is its own webhook), so its sender is always there.
    """
    settings = services.settings
    senders: dict[str, Sender] = {"feishu": feishu_sender(services, clock)}
    telegram = None
    if settings.telegram_bot_token:
        from bot.telegram import TelegramBot

        telegram = TelegramBot(settings, Commands(services), send_turn=telegram_rate(services, clock).turn)
        await telegram.application.initialize()
        senders["telegram"] = telegram.sender
    email = None
    try:
        if settings.slack_bot_token:
            from bot.slack import SlackSender, build_slack_client

            senders["slack"] = SlackSender(build_slack_client(settings))
        if settings.smtp_host:
            from bot.email.sender import EmailSender

            senders["email"] = email = EmailSender(settings, clock=clock)
        yield senders
    finally:
        await senders["feishu"].close()  # type: ignore[attr-defined]
        if email is not None:
            await email.close()
        if telegram is not None:
            await telegram.application.shutdown()


async def cmd_deliver(
    services: Services, args: argparse.Namespace, now: datetime, clock: Clock = system_clock,
) -> int:
    # One delivery pass at a time per database (another `deliver`, serve's tick): the ledger each pass reads
    # is then the one the previous pass left, so every digest goes out once.
    lock = services.store.named_lock(DELIVERY_LOCK, note=f"deliver, pid {os.getpid()}")
    wait = getattr(args, "wait", 600.0)
    if not await lock.try_acquire():
        print(f"another delivery is under way ({lock.holder()}): waiting up to {wait:.0f} s", file=sys.stderr)
        if not await lock.acquire(wait):
            print(f"arxiv-digest: another delivery is still under way ({lock.holder()}): run deliver again when it"
                  " has finished (or give --wait more seconds)", file=sys.stderr)
            return EXIT_BUSY
    try:
        return await _deliver(services, args, now, clock)
    finally:
        await lock.release()


async def _deliver(services: Services, args: argparse.Namespace, now: datetime, clock: Clock) -> int:
    async with open_senders(services, clock) as senders:
        if set(senders) == {"feishu"} and not await has_feishu(services):
            raise ConfigError("deliver needs TELEGRAM_BOT_TOKEN, SLACK_BOT_TOKEN, SMTP_HOST or a Feishu subscription")
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


async def cmd_status(services: Services, args: argparse.Namespace, now: datetime) -> int:
    store = services.store
    newest = latest_listing_day(now)
    day = args.date or await latest_digest_day(services, now)
    if day is None:
        print("no run yet")
        return 0
    ctx = await load_day(services, day)
    if ctx is None:
        print(f"{day}: no run")
        return 0
    summary, share = ctx.summary, ctx.llm
    print(f"day:        {day} ({summary.status})" + ("" if args.date or day >= newest else
                                                     f"; arXiv's newest listing, {newest}, is not scored yet"))
    print(f"papers:     {summary.papers_read} read, {summary.scored} scored anew")
    print(f"tokens:     {summary.tokens_in:,} in, {summary.tokens_out:,} out")
    print(f"scorer:     {describe_scorer(summary.model, share)}")
    if share is not None:
        print("llm:        " + ("; ".join(llm_share_lines(share, "en"))
                                or f"scored {share.judged}/{share.asked} papers it was asked about"))
    facts = note_facts(summary.note)
    if facts is None and summary.note:  # a note from before notes were facts
        print(f"note:       {summary.note}")
    elif facts and facts.get("why"):
        print(f"note:       {NO_ANNOUNCEMENT.get(facts['why'], facts['why'])}")
    counts = await store.delivery_counts(day)
    subs = await store.list_subscriptions()
    by_platform: dict[str, int] = {}
    for sub in subs:
        by_platform[sub.chat.platform] = by_platform.get(sub.chat.platform, 0) + 1
    print("deliveries: " + (", ".join(f"{state} {n}" for state, n in counts.items()) or "none yet"))
    print("active:     " + (", ".join(f"{p} {n}" for p, n in sorted(by_platform.items())) or "no subscriptions"))
    return 0


async def cmd_serve(services: Services, clock: Clock = system_clock) -> int:
    """Start the configured bots and the scheduler; stop cleanly on SIGINT or SIGTERM, also one that comes
    while they start (the start-up stops where it is, and what had started is stopped)."""
    commands = Commands(services)
    held: list[NamedLock] = []
    stop, up = asyncio.Event(), asyncio.Event()
    serving = asyncio.ensure_future(_serve(services, commands, held, clock, stop, up))

    def told_to_stop() -> None:
        if stop.is_set():  # a second signal: the stop under way goes on undisturbed
            return
        stop.set()
        if not up.is_set():
            serving.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, told_to_stop)
    try:
        return await serving
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
        log.info("stopped while starting")
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for lock in held:
            await lock.release()


async def _one_consumer(services: Services, name: str, what: str, instead: str, held: list[NamedLock]) -> None:
    """Hold the lock `name` for the process's life, or refuse to start: `what` allows one consumer per bot."""
    lock = services.store.named_lock(name, note=f"serve, pid {os.getpid()}")
    if not await lock.try_acquire():
        raise ConfigError(f"another serve of this database already uses {what} ({lock.holder()}), which allows one"
                          f" consumer per bot: {instead} to run several instances (see docs/deploy.md)")
    held.append(lock)


async def _serve(services: Services, commands: Commands, held: list[NamedLock], clock: Clock,
                 stop: asyncio.Event, up: asyncio.Event) -> int:
    settings = services.settings
    bots: list[Any] = []
    if settings.telegram_bot_token:
        from bot.telegram import TelegramBot

        if not settings.telegram_webhook_url:
            await _one_consumer(services, TELEGRAM_POLLING_LOCK, "Telegram long polling",
                                "set TELEGRAM_WEBHOOK_URL (webhook mode)", held)
        bots.append(TelegramBot(settings, commands, clock=clock, send_turn=telegram_rate(services, clock).turn))
    if settings.slack_bot_token:
        from bot.slack import SlackBot

        if settings.slack_app_token:
            await _one_consumer(services, SLACK_SOCKET_LOCK, "Slack Socket Mode",
                                "empty SLACK_APP_TOKEN and set SLACK_SIGNING_SECRET (HTTP mode)", held)
        bots.append(SlackBot(settings, commands, clock=clock))
    senders: dict[str, Sender] = {}
    if settings.smtp_host:
        from bot.email.sender import EmailSender

        senders["email"] = EmailSender(settings, clock=clock)
    feishu = feishu_sender(services, clock)
    if await has_feishu(services):
        senders["feishu"] = feishu
    if not bots and not senders and not settings.web_port:
        raise ConfigError("serve needs TELEGRAM_BOT_TOKEN, SLACK_BOT_TOKEN, SMTP_HOST, WEB_PORT and/or a Feishu"
                          " subscription (see README)")
    started: list[Any] = []
    leading: list[Scheduler] = []
    election: asyncio.Task[None] | None = None
    web: SiteServer | None = None
    try:
        if settings.web_port:
            # One web server: the static site, and with email the one-click unsubscribe links.
            mounts: dict[str, Any] = {}
            if settings.smtp_host:
                from bot.unsubscribe import PREFIX, unsubscribe_app

                mounts[PREFIX] = unsubscribe_app(services, clock)
            web = SiteServer(services, mounts=mounts)
            await web.start()
        for bot in bots:
            try:
                await bot.start()
                started.append(bot)
            except DeliveryError as exc:  # one unreachable platform must not keep the other down
                log.error("could not start %s: %s", type(bot).__name__, exc)
        if bots and not started and not senders:
            raise ConfigError("no chat platform could be started")
        senders = {**{bot.sender.platform: bot.sender for bot in started}, **senders}
        if senders:  # a delivery tick runs anyway: Feishu groups subscribed while serving get theirs too
            senders["feishu"] = feishu

        async def lead() -> None:
            scheduler = Scheduler(services, senders, clock=clock,
                                  after_scoring=web.rebuild if web is not None else None)
            scheduler.start()  # its catch-up runs a missed scoring and delivers what is due, at once
            leading.append(scheduler)

        async def step_down() -> None:
            while leading:
                await leading.pop().aclose()

        leadership = Leadership(services.store.named_lock(LEADER_LOCK, note=f"serve, pid {os.getpid()}"),
                                lead=lead, step_down=step_down, retry_seconds=settings.leader_retry_seconds)
        election = asyncio.create_task(leadership.run())
        log.info("serving: %s; scoring %s %s on %s", ", ".join([*senders, *(["web"] if web is not None else [])]),
                 settings.scoring_time, settings.scoring_timezone, ",".join(settings.scoring_days))
        up.set()  # from here a signal stops the service through `stop`, not by cancelling its start-up
        await stop.wait()
        log.info("stopping")
    finally:
        if election is not None:
            election.cancel()
            await asyncio.gather(election, return_exceptions=True)
        await feishu.close()
        for sender in senders.values():
            if sender.platform == "email":
                await sender.close()  # type: ignore[attr-defined]
        for bot in reversed(started):
            await bot.stop()
        if web is not None:
            await web.stop()
    return 0
