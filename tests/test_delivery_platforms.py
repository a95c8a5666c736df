"""Delivery through the real senders (python-telegram-bot, slack_sdk) against the fake servers.

Telegram and Slack subscribers are mixed in every pass. The fakes answer 429 (Telegram's is honoured
by AIORateLimiter after retry_after, Slack's by slack_sdk's retry handler), 5xx (retried with bounded
backoff; past the retries the delivery is `failed` and the next pass sends it), 403 for a blocked chat
and `is_archived` for an archived channel (both deactivated). Whatever happens, each subscriber ends
up with every part of its digest exactly once, in order: the fakes' accepted messages per chat are
compared with the parts the pass renders. Retry delays are shrunk so the file runs in seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.commands import Commands
from bot.schedule import Scheduler
from bot.slack import SlackSender, build_slack_client
from bot.telegram import TelegramBot, TelegramSender
from core.config import PROJECT_ROOT, Settings
from core.deliver.delivery import deliver_due, digest_parts
from core.deliver.pacing import ChatPacer
from core.fields import load_fields
from core.models import ChatRef, Subscription
from core.services import Services
from core.store import Store
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.arxiv import fake_arxiv as fake_arxiv  # noqa: F401
from tests.fakes.clock import FakeMonotonic
from tests.fakes.slack import FakeSlack, fake_slack  # noqa: F401
from tests.fakes.telegram import FakeTelegram, fake_telegram  # noqa: F401
from tests.samples import scored_sample

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: the 09:00 subscribers are due
TOKEN = "123456:TEST"


@dataclass
class Platforms:
    services: Services
    senders: dict[str, Any]
    telegram: FakeTelegram
    slack: FakeSlack


@pytest.fixture
async def platforms(tmp_path: Path, fake_telegram: FakeTelegram, fake_slack: FakeSlack) -> AsyncIterator[Platforms]:
    """A scored day, and the real senders pointed at the fakes with tiny retry delays."""
    settings = Settings.from_env({
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake_telegram.api_url, "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_BASE_URL": f"{fake_slack.url}/api/",
    })
    async with scored_sample(settings, NOW) as services:
        # The clients as `serve` builds them (AIORateLimiter, slack_sdk's retry handlers); only the
        # 5xx backoff and Slack's per-channel pacing are shortened.
        client = build_slack_client(settings)
        for handler in client.retry_handlers:
            handler.interval_calculator = FixedValueRetryIntervalCalculator(0.01)
        bot = TelegramBot(settings, Commands(services))
        await bot.application.initialize()
        try:
            senders: dict[str, Any] = {
                "telegram": TelegramSender(bot.application.bot, retry_delay=0.01, min_interval=0),
                "slack": SlackSender(client, min_interval=0),
            }
            yield Platforms(services, senders, fake_telegram, fake_slack)
        finally:
            await bot.application.shutdown()


async def subscribe(p: Platforms, telegram: Sequence[str], slack: Sequence[str]) -> list[Subscription]:
    """Subscribers whose digests have several parts (a low threshold), on both platforms."""
    subs = [Subscription(ChatRef("telegram", c), min_score=5.0, lang="en") for c in telegram]
    subs += [Subscription(ChatRef("slack", c), min_score=5.0) for c in slack]
    for sub in subs:
        await p.services.store.save_subscription(sub, NOW)
    return subs


def received(p: Platforms, chat: ChatRef) -> list[Any]:
    """What the platform accepted for one chat, in order: HTML for Telegram, blocks for Slack."""
    if chat.platform == "telegram":
        return [c.text for c in p.telegram.accepted("sendMessage") if str(c.params["chat_id"]) == chat.chat_id]
    return [c.params["blocks"] for c in p.slack.accepted("chat.postMessage") if c.params["channel"] == chat.chat_id]


async def assert_each_got_its_digest_once(p: Platforms, subs: Sequence[Subscription]) -> None:
    for platform, sender in p.senders.items():
        mine = [s for s in subs if s.chat.platform == platform]
        for chat, parts in (await digest_parts(p.services, sender, mine, now=NOW)).items():
            expected = [part.html if platform == "telegram" else part["blocks"] for part in parts]  # type: ignore[attr-defined,index]
            assert len(expected) > 1, "the digests are meant to have several parts"
            assert received(p, chat) == expected, f"{chat} got its parts exactly once, in order"


async def test_mixed_platforms_ride_out_429s_and_5xx_and_each_chat_gets_one_digest(platforms: Platforms) -> None:
    p = platforms
    subs = await subscribe(p, ["101", "102", "103", "-100104"], ["C101", "C102", "C103"])
    p.telegram.fail_next("sendMessage", 429, retry_after=0, times=2)  # AIORateLimiter waits and retries
    p.telegram.fail_next("sendMessage", 500, times=2, chat_id="102")  # TelegramSender retries a 5xx
    p.telegram.fail_next("sendMessage", 502, chat_id="103")  # nginx's HTML page: a NetworkError, retried
    p.slack.fail_next("chat.postMessage", status=429, retry_after=0)  # slack_sdk's rate-limit handler
    p.slack.fail_next("chat.postMessage", status=503)  # slack_sdk's server-error handler
    report = await deliver_due(p.services, p.senders, now=NOW)
    assert (report.sent, report.failed, report.deactivated) == (7, 0, 0)
    def statuses(chat_id: str) -> list[int | None]:
        return [c.status for c in p.telegram.calls("sendMessage") if str(c.params["chat_id"]) == chat_id]

    assert [c.status for c in p.telegram.calls("sendMessage")].count(429) == 2
    assert statuses("102").count(500) == 2 and 502 in statuses("103")
    assert {429, 503} <= {c.status for c in p.slack.calls("chat.postMessage")}
    await assert_each_got_its_digest_once(p, subs)
    again = await deliver_due(p.services, p.senders, now=NOW)
    assert again.sent == 0 and again.already == 7
    await assert_each_got_its_digest_once(p, subs)
    assert await p.services.store.delivery_counts(DAY) == {"sent": 7}


class RecordingPacer(ChatPacer):
    """A ChatPacer on a fake clock that notes when each chat's turns start and how often the pass waited."""

    def __init__(self, clock: FakeMonotonic) -> None:
        super().__init__(1.0, clock, sleep=clock.sleep)
        self.clock = clock
        self.turns: defaultdict[ChatRef, list[float]] = defaultdict(list)
        self.readied = 0

    async def ready(self, chat: Hashable) -> None:
        self.readied += 1
        await super().ready(chat)

    @asynccontextmanager
    async def turn(self, chat: Hashable) -> AsyncIterator[None]:
        async with super().turn(chat):
            self.turns[cast(ChatRef, chat)].append(self.clock())
            yield


async def test_the_pass_and_the_senders_pace_each_chat_through_one_pacer(platforms: Platforms) -> None:
    p = platforms
    subs = await subscribe(p, ["101", "102"], ["C101", "C102"])
    clock = FakeMonotonic()
    pacers = {platform: RecordingPacer(clock) for platform in p.senders}
    for platform, sender in p.senders.items():
        sender.pacer = pacers[platform]
    report = await deliver_due(p.services, p.senders, now=NOW)
    assert (report.sent, report.failed) == (4, 0)
    await assert_each_got_its_digest_once(p, subs)
    for platform, pacer in pacers.items():
        assert pacer.readied > 0, f"the pass waits for {platform}'s pacer before taking a slot"
        for sub in subs:
            if sub.chat.platform == platform:
                times = pacer.turns[sub.chat]
                assert len(times) == len(received(p, sub.chat)) > 1
                assert all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False)), (sub.chat, times)
    assert clock.sleeps, "parts to one chat waited on the (fake) clock"


async def test_a_5xx_past_the_retries_fails_the_delivery_and_the_next_pass_sends_the_rest(
    platforms: Platforms,
) -> None:
    p = platforms
    subs = await subscribe(p, ["201"], ["C201"])
    # Telegram: every try TelegramSender makes (three) answers 500.
    p.telegram.fail_next("sendMessage", 500, times=3, chat_id="201")
    # Slack: the first post fails three times (one try and slack_sdk's two server-error retries).
    p.slack.fail_next("chat.postMessage", status=500, times=3)
    report = await deliver_due(p.services, p.senders, now=NOW)
    assert report.sent == 0 and report.failed == 2
    assert {e.split(":")[0] for e in report.errors} == {"telegram", "slack"}
    for sub in subs:
        row = await p.services.store.get_delivery(sub.chat, DAY)
        assert row is not None and row.state == "failed" and row.attempts == 1
    second = await deliver_due(p.services, p.senders, now=NOW)
    assert second.sent == 2 and second.failed == 0
    await assert_each_got_its_digest_once(p, subs)


async def test_a_blocked_chat_and_an_archived_channel_are_deactivated_and_a_migrated_group_moves(
    platforms: Platforms,
) -> None:
    p = platforms
    subs = await subscribe(p, ["301", "302", "-303"], ["C301", "C302"])
    p.telegram.block("302")
    p.slack.archived.add("C302")
    p.telegram.fail_next("sendMessage", 400, migrate_to_chat_id=-100303, chat_id="-303")
    report = await deliver_due(p.services, p.senders, now=NOW)
    assert (report.sent, report.deactivated, report.migrated, report.failed) == (3, 2, 1, 0)
    store = p.services.store
    for gone in (ChatRef("telegram", "302"), ChatRef("slack", "C302")):
        sub = await store.get_subscription(gone)
        assert sub is not None and not sub.active and sub.min_score == 5.0, "settings kept, delivery paused"
        assert received(p, gone) == []
    assert await store.get_subscription(ChatRef("telegram", "-303")) is None
    moved = [s for s in subs if s.chat.chat_id in ("301", "C301")]
    moved.append(Subscription(ChatRef("telegram", "-100303"), min_score=5.0, lang="en"))
    await assert_each_got_its_digest_once(p, moved)
    again = await deliver_due(p.services, p.senders, now=NOW)
    assert again.sent == 0 and again.deactivated == 0, "deactivated chats are not tried again"


async def test_slack_answering_500_to_everything_never_stops_telegram(platforms: Platforms) -> None:
    p = platforms
    subs = await subscribe(p, ["401", "402", "403"], ["C401", "C402", "C403"])
    p.slack.fail_next("chat.postMessage", status=500, times=1000)
    report = await deliver_due(p.services, p.senders, now=NOW)
    assert report.sent == 3 and report.failed == 3
    assert {e.split(":")[0] for e in report.errors} == {"slack"}
    await assert_each_got_its_digest_once(p, [s for s in subs if s.chat.platform == "telegram"])
    assert p.slack.accepted("chat.postMessage") == [] and len(p.slack.calls("chat.postMessage")) == 9
    p.slack.clear_failures()
    later = await deliver_due(p.services, p.senders, now=NOW)
    assert later.sent == 3 and later.already == 3
    await assert_each_got_its_digest_once(p, subs)


async def test_a_weekend_feed_through_the_scoring_job_sends_nothing_and_raises_nothing(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture,
) -> None:
    saturday = date(2025, 12, 20)
    fake_arxiv.serve_empty(saturday)  # rss.arxiv.org on a weekend: the channel, no items
    settings = Settings.from_env({
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "ARXIV_REQUEST_DELAY": "0", "ARXIV_MAX_TRIES": "1",
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake_telegram.api_url, **fake_arxiv.settings_env(),
    })
    now = datetime(2025, 12, 20, 2, 0, tzinfo=UTC)  # 10:00 Saturday in Shanghai: the subscriber is due
    async with Store.open(settings.database_path) as store, aiohttp.ClientSession() as http:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)), http=http,
                             monotonic=time.monotonic, sleep=asyncio.sleep)
        await store.save_subscription(Subscription(ChatRef("telegram", "501"), min_score=1.0), now)
        bot = TelegramBot(settings, Commands(services), min_interval=0)
        await bot.application.initialize()
        try:
            scheduler = Scheduler(services, {"telegram": bot.sender}, clock=lambda: now)
            await scheduler.score_job()  # scores (nothing), then runs the delivery tick
            await scheduler.deliver_job()
        finally:
            await bot.application.shutdown()
        [run] = await store.list_runs()
        assert (run.day, run.status) == (saturday, "no-announcement")
        assert await store.delivery_counts(saturday) == {}
        assert scheduler.scheduler.get_job("score-retry") is None, "an empty weekend feed is not retried"
    assert fake_arxiv.calls("rss") and fake_telegram.calls("sendMessage") == []
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
