"""The delivery ledger: every subscriber gets exactly one digest per day, whatever fails."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.deliver.delivery import announced_at, deliver_due, due_at
from core.errors import DeliveryError
from core.fields import load_fields
from core.models import Block, ChatRef, PaperItem, Subscription
from core.services import Services
from core.store import Store
from tests.samples import scored_sample

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
DAY = date(2025, 12, 22)
# Monday 22 Dec 2025 02:00 UTC = 10:00 in Shanghai: the 09:00 subscribers are due.
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands for the process dying between two sends (not an error a delivery may absorb)."""


@dataclass
class RecordingSender:
    """A Sender that keeps what it 'sent'; parts are one per paper so digests have several parts."""

    platform: str = "telegram"
    sent: list[tuple[str, str]] = field(default_factory=list)
    crash_after: int | None = None
    refuse: dict[str, DeliveryError] = field(default_factory=dict)

    def render(self, blocks: Sequence[Block], lang: str) -> Sequence[object]:
        return [b.arxiv_id for b in blocks if isinstance(b, PaperItem)]

    async def send_part(self, chat: ChatRef, part: object) -> None:
        if chat.chat_id in self.refuse:
            raise self.refuse[chat.chat_id]
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            raise Crash
        self.sent.append((chat.chat_id, str(part)))


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    async with scored_sample(settings, NOW) as svc:
        yield svc


async def subscribe(services: Services, n: int, **kw: object) -> list[Subscription]:
    subs = [Subscription(ChatRef("telegram", str(i)), min_score=6.0, **kw) for i in range(n)]  # type: ignore[arg-type]
    for sub in subs:
        await services.store.save_subscription(sub, NOW)
    return subs


def test_due_time_is_the_first_local_delivery_time_after_the_announcement() -> None:
    assert announced_at(DAY) == datetime(2025, 12, 21, 20, 0, tzinfo=announced_at(DAY).tzinfo)
    shanghai = Subscription(ChatRef("t", "1"), digest_time="09:00", timezone="Asia/Shanghai")
    assert due_at(shanghai, DAY) == datetime(2025, 12, 22, 1, 0, tzinfo=UTC)
    early = Subscription(ChatRef("t", "1"), digest_time="08:00", timezone="Asia/Shanghai")
    assert due_at(early, DAY) == datetime(2025, 12, 23, 0, 0, tzinfo=UTC)
    new_york = Subscription(ChatRef("t", "1"), digest_time="07:30", timezone="America/New_York")
    assert due_at(new_york, DAY) == datetime(2025, 12, 22, 12, 30, tzinfo=UTC)


async def test_each_due_subscriber_gets_one_digest_and_a_second_pass_sends_nothing(
    services: Services,
) -> None:
    await subscribe(services, 5)
    sender = RecordingSender()
    report = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert report.sent == 5 and report.failed == 0
    parts = len(sender.sent) // 5
    assert parts > 1 and Counter(chat for chat, _ in sender.sent) == {str(i): parts for i in range(5)}
    again = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert again.sent == 0 and again.already == 5 and len(sender.sent) == 5 * parts
    assert await services.store.delivery_counts(DAY) == {"sent": 5}


async def test_a_subscriber_whose_time_has_not_come_waits(services: Services) -> None:
    await subscribe(services, 2, digest_time="18:00")
    sender = RecordingSender()
    report = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert report.not_due == 2 and sender.sent == []
    later = await deliver_due(services, {"telegram": sender}, now=datetime(2025, 12, 22, 10, 1, tzinfo=UTC))
    assert later.sent == 2


@pytest.mark.parametrize("crash_after", [0, 1, 7, 23])
async def test_a_delivery_killed_after_k_sends_resumes_without_loss_or_duplicates(
    services: Services, crash_after: int
) -> None:
    await subscribe(services, 6)
    sender = RecordingSender(crash_after=crash_after)
    with pytest.raises(BaseExceptionGroup) as died:
        await deliver_due(services, {"telegram": sender}, now=NOW, concurrency=1)
    assert died.group_contains(Crash)
    assert len(sender.sent) == crash_after
    sender.crash_after = None
    await deliver_due(services, {"telegram": sender}, now=NOW)
    counts = Counter(sender.sent)
    assert all(n == 1 for n in counts.values()), "no part is sent twice"
    per_chat = Counter(chat for chat, _ in sender.sent)
    assert len(set(per_chat.values())) == 1 and len(per_chat) == 6, "every chat got the whole digest"
    assert await services.store.delivery_counts(DAY) == {"sent": 6}


async def test_a_blocked_chat_is_deactivated_and_the_others_still_get_theirs(services: Services) -> None:
    await subscribe(services, 3)
    sender = RecordingSender(refuse={"1": DeliveryError("Forbidden: bot was blocked by the user", permanent=True)})
    report = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert report.sent == 2 and report.deactivated == 1
    sub = await services.store.get_subscription(ChatRef("telegram", "1"))
    assert sub is not None and not sub.active and sub.min_score == 6.0


async def test_a_transient_failure_is_retried_at_the_next_tick(services: Services) -> None:
    await subscribe(services, 2)
    sender = RecordingSender(refuse={"0": DeliveryError("HTTP 502 after 3 tries")})
    first = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert first.sent == 1 and first.failed == 1
    assert (await services.store.get_delivery(ChatRef("telegram", "0"), DAY)).state == "failed"  # type: ignore[union-attr]
    sender.refuse.clear()
    second = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert second.sent == 1 and second.already == 1


async def test_a_migrated_chat_moves_and_gets_its_digest_at_the_new_id(services: Services) -> None:
    await subscribe(services, 1)
    sender = RecordingSender(refuse={"0": DeliveryError("migrated", migrate_to="-100999")})
    report = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert report.migrated == 1 and report.sent == 1
    assert {chat for chat, _ in sender.sent} == {"-100999"}
    assert await services.store.get_subscription(ChatRef("telegram", "0")) is None


async def test_an_empty_digest_is_recorded_and_not_sent(services: Services) -> None:
    await subscribe(services, 1)
    await services.store.save_subscription(Subscription(ChatRef("telegram", "0"), min_score=10.0), NOW)
    sender = RecordingSender()
    report = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert report.skipped_empty == 1 and sender.sent == []
    assert await services.store.delivery_counts(DAY) == {"skipped-empty": 1}


async def test_an_unexpected_error_for_one_chat_is_logged_and_retried_later(services: Services) -> None:
    await subscribe(services, 2)
    sender = RecordingSender()
    original = sender.send_part

    async def flaky(chat: ChatRef, part: object) -> None:
        if chat.chat_id == "1":
            raise KeyError("adapter bug")
        await original(chat, part)

    sender.send_part = flaky  # type: ignore[method-assign]
    report = await deliver_due(services, {"telegram": sender}, now=NOW)
    assert report.sent == 1 and report.failed == 1
    row = await services.store.get_delivery(ChatRef("telegram", "1"), DAY)
    assert row is not None and row.state == "failed" and "KeyError" in row.last_error


async def test_a_failing_platform_never_stops_the_other(services: Services) -> None:
    await subscribe(services, 2)
    await services.store.save_subscription(Subscription(ChatRef("slack", "C1"), min_score=6.0), NOW)
    broken = RecordingSender(refuse={str(i): DeliveryError("telegram is down") for i in range(2)})
    slack = RecordingSender(platform="slack")
    report = await deliver_due(services, {"telegram": broken, "slack": slack}, now=NOW)
    assert report.failed == 2 and report.sent == 1 and {c for c, _ in slack.sent} == {"C1"}


async def test_a_weekend_without_an_announcement_delivers_nothing_and_raises_nothing(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    async with Store.open(settings.database_path) as store:
        svc = Services(settings, store, tuple(load_fields(settings.fields_path)))
        empty = tmp_path / "empty.jsonl"
        empty.write_text("")
        result = await run_day(svc, now=NOW, day=date(2025, 12, 20), input_path=empty)
        assert result.status == "no-announcement"
        await store.save_subscription(Subscription(ChatRef("telegram", "1")), NOW)
        sender = RecordingSender()
        report = await deliver_due(svc, {"telegram": sender}, now=NOW, force=True)
        assert report.sent == 0 and sender.sent == [] and report.day is None  # no announced day to deliver
        report = await deliver_due(svc, {"telegram": sender}, now=NOW, day=date(2025, 12, 20), force=True)
        assert report.sent == 0 and sender.sent == [] and "no announcement" in report.note


async def test_subscribers_with_interests_get_their_own_section(services: Services) -> None:
    await subscribe(services, 1, interests="mixture of experts, low-rank compensation")
    sender = RecordingSender()
    await deliver_due(services, {"telegram": sender}, now=NOW)
    assert ("0", "2512.17073") in sender.sent


async def test_a_chats_votes_shape_its_daily_push_and_no_one_elses(services: Services) -> None:
    await subscribe(services, 2)
    disliked = "2512.17073"
    await services.store.save_vote(ChatRef("telegram", "0"), disliked, -1, NOW)
    sender = RecordingSender()
    await deliver_due(services, {"telegram": sender}, now=NOW)
    assert ("1", disliked) in sender.sent, "the other chat still gets the paper"
    assert ("0", disliked) not in sender.sent, "a 👎 hides the paper from that chat's later digests"


async def test_a_chats_follows_shape_its_daily_push_and_no_one_elses(services: Services) -> None:
    followed = "2512.17028"  # by Marcel Gühner
    for i in (0, 1):
        await services.store.save_subscription(Subscription(ChatRef("telegram", str(i)), min_score=10.0), NOW)
    await services.store.save_follow(ChatRef("telegram", "0"), "Guhner, Marcel", "marcel guhner", NOW)
    sender = RecordingSender()
    await deliver_due(services, {"telegram": sender}, now=NOW)
    assert ("0", followed) in sender.sent, "a followed author's paper is pushed even under the threshold"
    assert ("1", followed) not in sender.sent, "the same settings without the follow: no such paper"


async def test_each_settings_group_is_prepared_once_and_built_once(
    services: Services, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.deliver import delivery

    await subscribe(services, 3, interests="mixture of experts, low-rank compensation")
    await subscribe(services, 1)  # chat 0 again, now without interests: 3 groups would be wrong
    for i in (5, 6):
        await services.store.save_subscription(Subscription(ChatRef("telegram", str(i)), min_score=8.0), NOW)
    prepared: list[object] = []
    built: list[object] = []
    real_prepare, real_build = delivery.prepare_reader, delivery.build_reader_digest

    async def prepare(*args: object, **kw: object) -> object:
        prepared.append(args[1])
        return await real_prepare(*args, **kw)  # type: ignore[arg-type]

    def build(p: object) -> object:
        built.append(p)
        return real_build(p)  # type: ignore[arg-type]

    monkeypatch.setattr(delivery, "prepare_reader", prepare)
    monkeypatch.setattr(delivery, "build_reader_digest", build)
    report = await deliver_due(services, {"telegram": RecordingSender()}, now=NOW)
    assert report.sent == 5
    # Three settings groups: interests at 6.0 (chats 1, 2), plain at 6.0 (chat 0), plain at 8.0 (chats 5, 6).
    assert len(prepared) == len(built) == len(set(prepared)) == 3
