"""A delivery killed midway and restarted: no part lost, and none repeated outside the unknowable window.

The ledger records a part only after the platform acknowledged it and commits that before the next
part goes out, so a pass that dies resumes at the first unrecorded part. Telegram's sendMessage takes
no idempotency key, so one window stays: a part whose request reached the platform while its answer
or its commit had not completed when the process died is sent again by the next pass (at least once
for the parts on the wire at the kill; at most one per chat, since a chat's parts go one at a time).
These tests pin that down: a death before a send repeats nothing; a death between the ack and the
commit repeats exactly that part; a cancelled pass (Ctrl-C, shutdown) lets the parts on the wire
finish and be recorded, so it repeats nothing; and a real `python -m bot deliver` killed with SIGKILL,
twice, loses nothing and repeats exactly the parts the platform had and the ledger did not at the
kills (counted from the fake and the ledger, not assumed zero: with parts on the wire there are some).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from telegram import Bot

from bot.commands import Commands
from bot.telegram import TelegramBot, TelegramSender
from bot.wiring import load_env
from core.config import PROJECT_ROOT, Settings
from core.deliver.delivery import deliver_due, digest_parts
from core.fields import load_fields
from core.models import ChatRef, Subscription
from core.services import Services
from core.store import Store
from tests.fakes.telegram import FakeTelegram, fake_telegram  # noqa: F401
from tests.samples import scored_sample

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
TOKEN = "123456:TEST"


class Crash(BaseException):
    """Stands for the process dying (not an error a delivery may absorb)."""


class DyingSender:
    """The real TelegramSender, dying before its `before`-th send or right after its `after`-th ack."""

    platform = "telegram"

    def __init__(self, inner: TelegramSender, *, before: int | None = None, after: int | None = None) -> None:
        self.inner, self.before, self.after, self.acked = inner, before, after, 0

    def render(self, blocks: Sequence[object], lang: str) -> Sequence[object]:
        return self.inner.render(blocks, lang)  # type: ignore[arg-type]

    async def send_part(self, chat: ChatRef, part: object) -> None:
        if self.before is not None and self.acked == self.before:
            raise Crash
        await self.inner.send_part(chat, part)
        self.acked += 1
        if self.after is not None and self.acked == self.after:
            raise Crash  # the platform has the part; the ledger will never hear of it


async def seed(db: Path, subs: Sequence[Subscription]) -> dict[ChatRef, list[str]]:
    """Score the sample day into `db`, subscribe `subs`; return each chat's parts as Telegram HTML."""
    settings = Settings.from_env({"DATABASE_PATH": str(db)})
    async with scored_sample(settings, NOW) as services:
        for sub in subs:
            await services.store.save_subscription(sub, NOW)
        formatter = TelegramSender(Bot(TOKEN))  # render only: never sends
        parts = await digest_parts(services, formatter, subs, now=NOW)
    return {chat: [p.html for p in ps] for chat, ps in parts.items()}  # type: ignore[attr-defined]


def received(fake: FakeTelegram) -> dict[ChatRef, Counter[str]]:
    """Every accepted message, counted per chat and text."""
    out: dict[ChatRef, Counter[str]] = {}
    for call in fake.accepted("sendMessage"):
        out.setdefault(ChatRef("telegram", str(call.params["chat_id"])), Counter())[call.text] += 1
    return out


def repeats(expected: dict[ChatRef, list[str]], fake: FakeTelegram) -> list[tuple[ChatRef, int]]:
    """(chat, part index) of every part accepted more than once; fails on any part lost or unknown."""
    got = received(fake)
    twice: list[tuple[ChatRef, int]] = []
    for chat, parts in expected.items():
        counts = got.pop(chat, Counter())
        assert set(counts) == set(parts), f"{chat}: every part arrives, and nothing else"
        twice += [(chat, i) for i, text in enumerate(parts) for _ in range(counts[text] - 1)]
    assert not got, f"messages to chats that have no digest: {sorted(got)}"
    return twice


# -- in the test process: the real Telegram sender and a pass that dies -----------------------------------


@pytest.fixture
async def telegram_pass(tmp_path: Path, fake_telegram: FakeTelegram) -> AsyncIterator[
        tuple[Services, TelegramSender, dict[ChatRef, list[str]]]]:
    subs = [Subscription(ChatRef("telegram", str(500 + i)), min_score=5.0, lang="en") for i in range(4)]
    expected = await seed(tmp_path / "db.sqlite", subs)
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), "TELEGRAM_BOT_TOKEN": TOKEN,
                                  "TELEGRAM_API_BASE_URL": fake_telegram.api_url})
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)))
        bot = TelegramBot(settings, Commands(services))
        await bot.application.initialize()
        try:
            yield services, TelegramSender(bot.application.bot, retry_delay=0.01, min_interval=0), expected
        finally:
            await bot.application.shutdown()


@pytest.mark.parametrize("k", [0, 1, 5])
async def test_a_pass_dying_before_its_kth_send_resumes_without_loss_or_repeat(
    telegram_pass: tuple[Services, TelegramSender, dict[ChatRef, list[str]]],
    fake_telegram: FakeTelegram, k: int,
) -> None:
    services, sender, expected = telegram_pass
    assert sum(len(p) for p in expected.values()) > 5 and all(len(p) > 1 for p in expected.values())
    with pytest.raises(BaseExceptionGroup) as died:
        await deliver_due(services, {"telegram": DyingSender(sender, before=k)}, now=NOW, concurrency=1)
    assert died.group_contains(Crash)
    assert len(fake_telegram.accepted("sendMessage")) == k
    report = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert report.sent == 4
    assert repeats(expected, fake_telegram) == []


async def test_a_pass_dying_between_the_ack_and_the_ledger_repeats_exactly_that_part(
    telegram_pass: tuple[Services, TelegramSender, dict[ChatRef, list[str]]],
    fake_telegram: FakeTelegram,
) -> None:
    services, sender, expected = telegram_pass
    with pytest.raises(BaseExceptionGroup):
        await deliver_due(services, {"telegram": DyingSender(sender, after=3)}, now=NOW, concurrency=1)
    third = fake_telegram.accepted("sendMessage")[2]
    await deliver_due(services, {"telegram": sender}, now=NOW)
    [(chat, index)] = repeats(expected, fake_telegram)
    assert chat.chat_id == str(third.params["chat_id"]) and expected[chat][index] == third.text


async def test_a_cancelled_pass_finishes_the_parts_on_the_wire_and_repeats_none(
    telegram_pass: tuple[Services, TelegramSender, dict[ChatRef, list[str]]],
    fake_telegram: FakeTelegram,
) -> None:
    services, sender, expected = telegram_pass
    fake_telegram.delay = 0.3  # every answer takes a while: the cancel lands with parts on the wire
    task = asyncio.create_task(deliver_due(services, {"telegram": sender}, now=NOW))
    deadline = time.monotonic() + 5
    while len(fake_telegram.calls("sendMessage")) < 4:  # one part per chat is on the wire, unanswered
        assert time.monotonic() < deadline, "the pass never started sending"
        await asyncio.sleep(0.01)
    assert fake_telegram.accepted("sendMessage") == []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    accepted = received(fake_telegram)
    assert len(accepted) == 4, "the parts on the wire were answered before the pass stopped"
    for chat in accepted:
        row = await services.store.get_delivery(chat, DAY)
        assert row is not None and row.parts_sent == 1, "and recorded"
    fake_telegram.delay = 0
    await deliver_due(services, {"telegram": sender}, now=NOW)
    assert repeats(expected, fake_telegram) == []


# -- a real process killed with SIGKILL --------------------------------------------------------------------


def test_an_empty_dotenv_switch_reads_no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=from-a-dotenv\n")
    monkeypatch.chdir(tmp_path)
    assert load_env({})["TELEGRAM_BOT_TOKEN"] == "from-a-dotenv"
    assert "TELEGRAM_BOT_TOKEN" not in load_env({"ARXIV_DIGEST_DOTENV": ""})
    other = tmp_path / "other.env"
    other.write_text("SLACK_BOT_TOKEN=xoxb-other\n")
    assert load_env({"ARXIV_DIGEST_DOTENV": str(other)})["SLACK_BOT_TOKEN"] == "xoxb-other"


async def ledger_parts(db: Path) -> dict[ChatRef, int]:
    async with Store.open(db) as store:
        return {chat: row.parts_sent for chat, row in (await store.deliveries_for_day(DAY)).items()}


async def settle(fake: FakeTelegram) -> None:
    """Wait until the fake has answered every request it got (a dead client's included)."""
    deadline = time.monotonic() + 5
    await asyncio.sleep(0.05)
    while fake.in_flight:
        assert time.monotonic() < deadline, "the fake never settled"
        await asyncio.sleep(0.01)


async def test_a_deliver_process_killed_with_sigkill_and_rerun_loses_nothing(
    tmp_path: Path, fake_telegram: FakeTelegram,
) -> None:
    db = tmp_path / "db.sqlite"
    thresholds = (4.0, 5.0, 6.0, 9.5)  # from several parts down to one (or none: an empty digest is not sent)
    subs = [Subscription(ChatRef("telegram", str(7000 + i)), min_score=thresholds[i % 4], lang=("zh", "en")[i % 2])
            for i in range(40)]
    expected = {chat: parts for chat, parts in (await seed(db, subs)).items() if parts}
    total = sum(len(parts) for parts in expected.values())
    assert max(len(p) for p in expected.values()) >= 3 and total > 60
    # Only what the test passes: no .env (a developer's real tokens), no proxy, the fake's URL.
    env = {"PATH": os.environ.get("PATH", ""), "PTB_TIMEDELTA": "true", "NO_PROXY": "127.0.0.1,localhost",
           "no_proxy": "127.0.0.1,localhost", "ARXIV_DIGEST_DOTENV": "", "DATABASE_PATH": str(db),
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake_telegram.api_url, "LOG_LEVEL": "WARNING"}
    fake_telegram.delay = 0.01  # slow enough that a kill lands mid-run
    # (chat, part index) -> copies the platform had accepted while the ledger had not recorded the part
    unrecorded: dict[tuple[ChatRef, int], int] = {}
    for kill_at in (0.3, 0.65, None):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "deliver", "--force", cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if kill_at is None:
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0 and b"sent" in out, err.decode()[-2000:]
            break
        deadline = time.monotonic() + 30
        while len(fake_telegram.accepted("sendMessage")) < kill_at * total:
            if proc.returncode is not None:
                pytest.fail(f"deliver exited {proc.returncode} before the kill: {(await proc.communicate())[1]!r}")
            assert time.monotonic() < deadline, "the delivery never got going"
            await asyncio.sleep(0.002)
        await asyncio.sleep(random.uniform(0, 0.015))  # not right on an answer: anywhere in the cycle
        proc.send_signal(signal.SIGKILL)
        await proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        await settle(fake_telegram)
        recorded = await ledger_parts(db)
        got = received(fake_telegram)
        for chat, parts in expected.items():
            # Parts go out one at a time per chat, each recorded before the next: at most the part
            # after the recorded ones can have reached the platform without the ledger knowing.
            done, counts = recorded.get(chat, 0), got.get(chat, Counter())
            assert all(counts[text] == 0 for text in parts[done + 1:])
            if done < len(parts) and counts[parts[done]]:
                unrecorded[(chat, done)] = counts[parts[done]]
    # Nothing lost; and the only repeats are the parts the platform had when the ledger did not.
    assert Counter(repeats(expected, fake_telegram)) == Counter(unrecorded)
    async with Store.open(db) as store:
        counts = await store.delivery_counts(DAY)
    assert counts["sent"] == len(expected) and counts.get("skipped-empty", 0) == len(subs) - len(expected)
    print(f"\nSIGKILL twice over {total} messages: {sum(unrecorded.values())} acknowledged but unrecorded")
