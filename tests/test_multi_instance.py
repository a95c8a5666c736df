"""Several instances on one database, as real processes: `serve` x3 behind webhooks, two `deliver` at once.

Three `python -m bot serve` processes share one database with the fake Telegram (webhook mode, updates
posted to different instances) and the fake Slack (HTTP mode). Commands work through any instance; an
update posted to two instances, or a Slack command replayed, has one effect; one instance leads and
delivers to a few hundred chats; SIGKILLed mid-delivery, another takes over and every chat ends with each
part of its digest once, except a part that was on the wire at the kill (sent again, once). Two
`deliver` processes started at once deliver each digest once. Two processes sending as one bot stay
under its shared per-second limit. A second instance in long polling or Socket Mode refuses to start.

The database is the `database` fixture's parameter: an SQLite file here (a Postgres URL joins it where the
store supports one). The failover time (the kill to the new leader's first send) is printed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier
from telegram import Bot

from bot.telegram import TelegramSender
from bot.telegram.bot import webhook_secret
from core.config import PROJECT_ROOT, Settings
from core.deliver.delivery import digest_parts
from core.models import ChatRef, Subscription
from core.store import Store
from tests.fakes.slack import FakeSlack, fake_slack  # noqa: F401
from tests.fakes.telegram import FakeTelegram, fake_telegram  # noqa: F401
from tests.samples import scored_sample

DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
TOKEN = "123456:TEST"
SIGNING = "multi-instance-signing-secret"
WEBHOOK_URL = "https://digest.example.org/telegram"
START_SECONDS = 60  # generous: three processes start at once on a busy machine
# Standbys try to lead this often; bench the default (15) with ARXIV_DIGEST_FAILOVER_RETRY=15 (-s prints the time).
RETRY = os.environ.get("ARXIV_DIGEST_FAILOVER_RETRY", "0.5")


@dataclass
class Database:
    """The database every process of a test shares: the settings that select it, and a way to open it."""

    env: dict[str, str]
    open: Callable[[], AbstractAsyncContextManager[Store]]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "postgres":  # a fresh database on the session's PostgreSQL server (tests/pgserver.py)
        url: str = request.getfixturevalue("pg_url")
        return Database({"DATABASE_URL": url, "DATABASE_PATH": str(tmp_path / "unused.sqlite")},
                        lambda: Store.open(url))
    path = tmp_path / "db.sqlite"
    return Database({"DATABASE_PATH": str(path)}, lambda: Store.open(path))


async def seed(database: Database, subs: Sequence[Subscription]) -> dict[ChatRef, list[str]]:
    """Score the sample day, subscribe `subs`; return each chat's non-empty digest as Telegram HTML parts."""
    async with scored_sample(Settings.from_env(database.env), NOW) as services:
        for sub in subs:
            await services.store.save_subscription(sub, NOW)
        parts = await digest_parts(services, TelegramSender(Bot(TOKEN)), subs, now=NOW)
    return {chat: [p.html for p in ps] for chat, ps in parts.items() if ps}  # type: ignore[attr-defined]


def base_env(database: Database, tmp_path: Path, fake_telegram: FakeTelegram, **more: str) -> dict[str, str]:
    """Only what the test passes: no .env, no proxy, the fakes' URLs, an arXiv nobody answers at."""
    return {"PATH": os.environ.get("PATH", ""), "PTB_TIMEDELTA": "true", "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost", "ARXIV_DIGEST_DOTENV": "", **database.env,
            "DIGEST_DIR": str(tmp_path / "digests"), "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": fake_telegram.api_url, "ARXIV_RSS_URL": "http://127.0.0.1:9/rss",
            "ARXIV_API_URL": "http://127.0.0.1:9/api/query", "ARXIV_REQUEST_DELAY": "0", "ARXIV_MAX_TRIES": "1",
            "LOG_LEVEL": "INFO",
            # Slack checks a request's signed timestamp against its own clock: the children share a wall
            # clock faked for the whole suite (faketime), as the test that signs the requests does.
            **{k: v for k, v in os.environ.items() if k == "LD_PRELOAD" or k.startswith("FAKETIME")}, **more}


class Instance:
    """One `python -m bot serve` process; its log (JSON lines) goes to a file, so no pipe ever fills."""

    def __init__(self, name: str, env: dict[str, str], cwd: Path, ports: dict[str, int]) -> None:
        self.name, self.env, self.cwd, self.ports = name, env, cwd, ports
        self.log = cwd / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", cwd=self.cwd, env=self.env,
                stdout=subprocess.DEVNULL, stderr=err)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    async def ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        for port in self.ports.values():
            while True:
                assert self.alive, f"{self.name} exited: {self.logs()[-3000:]}"
                assert time.monotonic() < deadline, f"{self.name} never listened on {port}: {self.logs()[-3000:]}"
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    await writer.wait_closed()
                    break
                except OSError:
                    await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def post_update(http: aiohttp.ClientSession, instance: Instance, update: dict[str, Any]) -> None:
    """Post a Telegram update to an instance's webhook, as Telegram does (with the secret token)."""
    secret = webhook_secret(Settings.from_env(instance.env))
    async with http.post(f"http://127.0.0.1:{instance.ports['telegram']}/telegram", json=update,
                         headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as resp:
        assert resp.status == 200, await resp.text()


async def post_slash(http: aiohttp.ClientSession, instance: Instance, fake: FakeSlack, text: str, *,
                     key: str, trigger_id: str) -> None:
    """Post a signed `/arxiv text` to an instance's /slack/events; its answer goes to response_url `key`."""
    body = urlencode({"token": "legacy", "team_id": fake.team_id, "channel_id": f"C{key}", "user_id": "U1",
                      "command": "/arxiv", "text": text, "api_app_id": "A0001",
                      "response_url": fake.response_url(key), "trigger_id": trigger_id})
    ts = str(int(time.time()))
    headers = {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": ts,
               "x-slack-signature": SignatureVerifier(SIGNING).generate_signature(timestamp=ts, body=body) or ""}
    async with http.post(f"http://127.0.0.1:{instance.ports['slack']}/slack/events", data=body,
                         headers=headers) as resp:
        assert resp.status == 200, await resp.text()


def received(fake: FakeTelegram, chats: set[ChatRef]) -> dict[ChatRef, Counter[str]]:
    out: dict[ChatRef, Counter[str]] = {}
    for call in fake.accepted("sendMessage"):
        chat = ChatRef("telegram", str(call.params["chat_id"]))
        if chat in chats:
            out.setdefault(chat, Counter())[call.text] += 1
    return out


async def wait_until(what: str, check: Callable[[], Any], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def replies_to(fake: FakeTelegram, chat_id: str, count: int = 1) -> list[str]:
    calls = await fake.wait_for("sendMessage", count=count, timeout=30, chat_id=chat_id)
    return [c.text for c in calls]


@pytest.fixture
async def instances(tmp_path: Path) -> AsyncIterator[list[Instance]]:
    started: list[Instance] = []
    yield started
    await asyncio.gather(*(i.stop() for i in started))


async def test_three_serve_instances_share_commands_one_leader_and_one_digest_per_chat(
    tmp_path: Path, database: Database, fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
    unused_tcp_port_factory: Callable[[], int], instances: list[Instance],
) -> None:
    thresholds = (6.0, 8.0, 9.0)
    subs = [Subscription(ChatRef("telegram", str(10_000 + i)), min_score=thresholds[i % 3], lang=("en", "zh")[i % 2])
            for i in range(240)]
    expected = await seed(database, subs)
    total = sum(len(parts) for parts in expected.values())
    assert len(expected) > 150 and total > 200
    fake_telegram.delay = 0.01  # a kill lands with parts on the wire
    for n in range(3):
        ports = {"telegram": unused_tcp_port_factory(), "slack": unused_tcp_port_factory()}
        env = base_env(database, tmp_path, fake_telegram, TELEGRAM_WEBHOOK_URL=WEBHOOK_URL,
                       TELEGRAM_WEBHOOK_PORT=str(ports["telegram"]), SLACK_BOT_TOKEN="xoxb-test",
                       SLACK_SIGNING_SECRET=SIGNING, SLACK_API_BASE_URL=f"{fake_slack.url}/api/",
                       SLACK_PORT=str(ports["slack"]), LEADER_RETRY_SECONDS=RETRY,
                       TELEGRAM_MESSAGES_PER_SECOND="30")
        instances.append(Instance(f"serve{n}", env, tmp_path, ports))
    await asyncio.gather(*(i.start() for i in instances))
    await asyncio.gather(*(i.ready() for i in instances))
    assert fake_telegram.webhook["url"] == WEBHOOK_URL

    async with aiohttp.ClientSession() as http:
        # Commands through any instance, on both platforms.
        for n, instance in enumerate(instances):
            await post_update(http, instance, fake_telegram.message_update(str(n + 1), "/help"))
            await post_slash(http, instance, fake_slack, "help", key=f"help{n}", trigger_id=f"{n}.1.1")
        for n in range(3):
            assert "/subscribe" in (await replies_to(fake_telegram, str(n + 1)))[0]
        await fake_slack.wait_for("response", 3, seconds=30)

        # One leader has been delivering since it started (its catch-up); kill it mid-delivery.
        [leader] = [i for i in instances if "now the leader" in i.logs()] or [None]
        assert leader is not None, [i.logs()[-2000:] for i in instances]
        chats = set(expected)
        deadline = time.monotonic() + 60
        while sum(sum(c.values()) for c in received(fake_telegram, chats).values()) < 0.3 * total:
            assert time.monotonic() < deadline, "the leader never got going"
            await asyncio.sleep(0.002)
        assert leader.proc is not None
        assert sum(sum(c.values()) for c in received(fake_telegram, chats).values()) < total, "killed mid-delivery"
        leader.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await leader.proc.wait()
        survivors = [i for i in instances if i is not leader]

        async def taken_over() -> bool:
            return any("now the leader" in i.logs() for i in survivors)

        await wait_until("no standby took over", taken_over)

        # The survivors still answer commands. The same update posted to both (Telegram redelivering, a load
        # balancer retrying), and the same Slack command replayed to both: one effect each.
        twice = fake_telegram.message_update("77", "/help")
        await asyncio.gather(*(post_update(http, instance, twice) for instance in survivors))
        await asyncio.gather(*(post_slash(http, instance, fake_slack, "help", key="twice", trigger_id="9.9.9")
                               for instance in survivors))
        for n, instance in enumerate(survivors):  # an instance handles its updates in order: once this is
            await post_update(http, instance, fake_telegram.message_update(str(90 + n), "/help"))  # answered,
            await replies_to(fake_telegram, str(90 + n))  # the copy before it was handled (or skipped) too
        assert len([c for c in fake_telegram.calls("sendMessage") if c.params["chat_id"] == "77"]) == 1
        await fake_slack.wait_for("response", 4, seconds=30)
        assert len([c for c in fake_slack.calls("response") if c.path.endswith("/twice")]) == 1
        assert sum(i.logs().count("already handled") for i in survivors) == 2, "each copy was seen and skipped"

        async def all_delivered() -> bool:
            async with database.open() as store:
                counts = await store.delivery_counts(DAY)
            return counts.get("sent", 0) == len(expected)

        await wait_until("the new leader never finished the delivery", all_delivered, seconds=120)

    after = [c.at for c in fake_telegram.accepted("sendMessage")
             if c.at > killed_at and ChatRef("telegram", str(c.params["chat_id"])) in chats]
    assert after, "the new leader sent the rest of the digests"
    failover = min(after) - killed_at
    # Every part arrived; a repeat only for a part on the wire at the kill: its first copy before the
    # kill, its second after, one per chat at most, no more than the parts one pass has in flight.
    got = received(fake_telegram, chats)
    repeated: list[tuple[ChatRef, str]] = []
    for chat, parts in expected.items():
        counts = got.get(chat, Counter())
        assert set(counts) == set(parts), f"{chat}: every part arrives, and nothing else"
        assert all(n in (1, 2) for n in counts.values()) and sum(counts.values()) <= len(parts) + 1, chat
        repeated += [(chat, text) for text, n in counts.items() if n == 2]
    for chat, text in repeated:
        first, second = [c.at for c in fake_telegram.accepted("sendMessage")
                         if c.params["chat_id"] == chat.chat_id and c.text == text]
        # The first copy left the dead leader: it may be read a moment after the kill (its bytes were already
        # in the socket); the second came from the new leader, which could only start after the kill.
        assert first < second and killed_at < second, (first, killed_at, second)
    assert len(repeated) <= 8, "no more than one pass's parts in flight"
    print(f"\nfailover: {failover:.2f} s from SIGKILL to the new leader's first send (LEADER_RETRY_SECONDS={RETRY});"
          f" {total} parts to {len(expected)} chats, {len(repeated)} sent twice (on the wire at the kill)")


async def test_two_deliver_processes_started_at_once_deliver_each_digest_once(
    tmp_path: Path, database: Database, fake_telegram: FakeTelegram,  # noqa: F811
) -> None:
    subs = [Subscription(ChatRef("telegram", str(20_000 + i)), min_score=(6.0, 8.0)[i % 2], lang="en")
            for i in range(40)]
    expected = await seed(database, subs)
    env = base_env(database, tmp_path, fake_telegram, LOG_LEVEL="WARNING")
    fake_telegram.delay = 0.01
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "deliver", "--force", cwd=tmp_path,
                                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    outcomes = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outcomes
    errs = [err.decode() for _, err in outcomes]
    assert sum("another delivery is under way" in err for err in errs) == 1, errs
    got = received(fake_telegram, set(expected))
    for chat, parts in expected.items():
        assert got.get(chat) == Counter(parts), f"{chat}: each part once"


SEND = """
import asyncio, sys
from bot.commands import Commands
from bot.service import telegram_rate
from bot.telegram import TelegramBot
from bot.wiring import load_env, open_services, system_clock
from core.config import Settings

async def main() -> None:
    settings = Settings.from_env(load_env())
    async with open_services(settings) as services:
        bot = TelegramBot(settings, Commands(services), send_turn=telegram_rate(services, system_clock).turn)
        await bot.application.initialize()
        first, count = int(sys.argv[1]), int(sys.argv[2])
        try:
            await asyncio.gather(*(bot.application.bot.send_message(chat_id=first + i, text=f"m{i}")
                                   for i in range(count)))
        finally:
            await bot.application.shutdown()

asyncio.run(main())
"""


async def test_two_processes_sending_as_one_bot_share_its_per_second_limit(
    tmp_path: Path, database: Database, fake_telegram: FakeTelegram,  # noqa: F811
) -> None:
    async with database.open():
        pass  # create and migrate it before two processes race to
    env = base_env(database, tmp_path, fake_telegram, TELEGRAM_MESSAGES_PER_SECOND="8", LOG_LEVEL="WARNING")
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-c", SEND, str(first), "16", cwd=PROJECT_ROOT,
                                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for first in (30_000, 40_000)]
    outcomes = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outcomes
    sent = fake_telegram.accepted("sendMessage")
    assert len(sent) == 32
    per_second = Counter(int(c.wall) for c in sent)
    assert max(per_second.values()) <= 8, sorted(per_second.items())
    assert {str(c.params["chat_id"])[0] for c in sent} == {"3", "4"}


@pytest.mark.parametrize("platform", ["telegram", "slack"])
async def test_a_second_instance_in_polling_or_socket_mode_refuses_to_start(
    tmp_path: Path, database: Database, fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
    instances: list[Instance], platform: str,
) -> None:
    if platform == "telegram":
        env = base_env(database, tmp_path, fake_telegram)
        setting = "TELEGRAM_WEBHOOK_URL"
    else:
        env = {k: v for k, v in base_env(database, tmp_path, fake_telegram).items() if k != "TELEGRAM_BOT_TOKEN"}
        env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-test",
                   SLACK_API_BASE_URL=f"{fake_slack.url}/api/")
        setting = "SLACK_APP_TOKEN"
    first = Instance("first", env, tmp_path, {})
    instances.append(first)
    await first.start()
    if platform == "telegram":
        await fake_telegram.wait_for("getUpdates", timeout=START_SECONDS)
    else:
        await fake_slack.wait_socket(seconds=START_SECONDS)
    second = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=env,
                                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = await asyncio.wait_for(second.communicate(), START_SECONDS)
    text = err.decode()
    assert second.returncode == 1, text
    assert setting in text and "docs/deploy.md" in text and "Traceback" not in text, text
    assert first.alive, "the first instance goes on"
