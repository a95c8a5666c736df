"""The scheduler's jobs, called directly; its timing rules as pure functions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.schedule import Scheduler, last_scheduled, needs_catch_up
from core.config import PROJECT_ROOT, Settings
from core.fetch.jsonl import load_papers
from core.fields import load_fields
from core.models import Block, ChatRef, PaperItem, Subscription
from core.runs import summarise_runs
from core.services import Services
from core.store import Store
from tests.fakes.arxiv import FakeArxiv, fake_arxiv  # noqa: F401

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
DAY = date(2025, 12, 22)


class ListSender:
    platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    def render(self, blocks: Sequence[Block], lang: str) -> Sequence[object]:
        return ["\n".join(b.title for b in blocks if isinstance(b, PaperItem))]

    async def send_part(self, chat: ChatRef, part: object) -> None:
        self.sent.append((chat.chat_id, part))


def test_the_last_scheduled_scoring_time_follows_days_and_timezone() -> None:
    s = Settings.from_env({})
    # Sunday 21 Dec 2025 21:00 New York: tonight's 20:30 run is the latest.
    now = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
    assert last_scheduled(s, now) == datetime(2025, 12, 22, 1, 30, tzinfo=UTC)
    # Saturday noon New York: the latest is Thursday 20:30 (no runs Friday or Saturday).
    saturday = datetime(2025, 12, 20, 17, 0, tzinfo=UTC)
    assert last_scheduled(s, saturday) == datetime(2025, 12, 19, 1, 30, tzinfo=UTC)
    assert needs_catch_up(s, None, now)
    assert needs_catch_up(s, datetime(2025, 12, 21, 1, 30, tzinfo=UTC), now)
    assert not needs_catch_up(s, datetime(2025, 12, 22, 1, 31, tzinfo=UTC), now)


@pytest.fixture
async def services(tmp_path: Path, fake_arxiv: FakeArxiv) -> AsyncIterator[Services]:
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), "ARXIV_REQUEST_DELAY": "0",
                                  "DIGEST_DIR": str(tmp_path / "digests"),
                                  "ARXIV_MAX_TRIES": "1", **fake_arxiv.settings_env()})
    async with Store.open(settings.database_path) as store, aiohttp.ClientSession() as http:
        yield Services(settings, store, tuple(load_fields(settings.fields_path)), http=http,
                        monotonic=time.monotonic, sleep=asyncio.sleep)


async def test_the_scoring_job_runs_the_day_then_delivers_to_due_subscribers(
    services: Services, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.set_listing(DAY, new=load_papers(SAMPLE))
    now = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    await services.store.save_subscription(Subscription(ChatRef("telegram", "7"), min_score=6), now)
    sender = ListSender()
    scheduler = Scheduler(services, {"telegram": sender}, clock=lambda: now)
    await scheduler.score_job()
    assert summarise_runs(DAY, await services.store.runs_of_day(DAY)) is not None
    assert [chat for chat, _ in sender.sent] == ["7"]
    assert scheduler.scheduler.get_job("score-retry") is None
    await scheduler.deliver_job()
    assert len(sender.sent) == 1, "the next tick sends nothing twice"


async def test_a_feed_that_has_not_moved_on_or_fails_is_retried_later(
    services: Services, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.set_listing(DAY, new=load_papers(SAMPLE)[:5])
    now = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
    scheduler = Scheduler(services, {}, clock=lambda: now)
    await scheduler.score_job()
    await scheduler.score_job()  # the same listing again: arXiv's RSS has not updated yet
    job = scheduler.scheduler.get_job("score-retry")
    assert job is not None
    fake_arxiv.fail_next("rss", 503)
    await scheduler.score_job()
    assert scheduler._retries == 2


async def test_a_job_whose_task_first_runs_after_the_stop_does_nothing(
    services: Services, caplog: pytest.LogCaptureFixture,
) -> None:
    """The scheduler makes a job's task, the service stops before that task first runs: the job must not
    start then, under a scheduler already closed and a store about to close."""
    caplog.set_level("INFO", logger="bot.schedule")
    scheduler = Scheduler(services, {}, clock=lambda: datetime(2025, 12, 23, 1, 30, tzinfo=UTC))
    ran: list[str] = []

    async def catch_up_job() -> None:
        ran.append("catch-up")

    scheduler.scheduler.start()
    task = asyncio.ensure_future(scheduler._job(catch_up_job)())  # made, not yet run
    await scheduler.aclose()
    await task
    assert ran == [] and "catch_up_job not started: the service is stopping" in caplog.text


async def test_stopping_the_service_stops_a_job_under_way_quietly(
    services: Services, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="bot.schedule")
    scheduler = Scheduler(services, {}, clock=lambda: datetime(2025, 12, 23, 1, 30, tzinfo=UTC))
    started = asyncio.Event()

    async def score_job() -> None:  # a scoring run waiting on arXiv when the service is told to stop
        started.set()
        await asyncio.Event().wait()

    scheduler.scheduler.start()
    task = asyncio.ensure_future(scheduler._job(score_job)())
    await started.wait()
    await scheduler.aclose()
    assert task.done() and task.exception() is None
    assert "score_job stopped by shutdown" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
