"""Several serve processes, in one process: leader election over two stores, the leader's delivery tick
beside a `deliver`, a failed scoring run that still delivers, the webhook secret every instance shares."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.leader import DELIVERY_LOCK, LEADER_LOCK, Leadership
from bot.schedule import Scheduler
from bot.telegram.bot import webhook_secret
from core.config import Settings
from core.deliver.report import DeliveryReport
from core.errors import SourceError
from core.services import Services
from core.store import Store
from core.store.locks import lock_file

NOW = datetime(2025, 12, 23, 2, 0, tzinfo=UTC)


class Role:
    """What `lead` and `step_down` did, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def lead(self) -> None:
        self.events.append("lead")

    async def step_down(self) -> None:
        self.events.append("step down")


async def test_one_leads_the_other_stands_by_and_takes_over_when_the_lock_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.leader")
    db = tmp_path / "db.sqlite"
    async with Store.open(db) as one_store, Store.open(db) as two_store:
        roles = Role(), Role()
        one, two = (Leadership(store.named_lock(LEADER_LOCK, note=name), lead=role.lead, step_down=role.step_down,
                               retry_seconds=1) for store, role, name in
                    ((one_store, roles[0], "serve one"), (two_store, roles[1], "serve two")))
        await one.check()
        await two.check()
        await two.check()
        assert (one.leading, two.leading) == (True, False)
        assert roles[0].events == ["lead"] and roles[1].events == []
        assert "standing by: another instance leads (serve one)" in caplog.text
        assert caplog.text.count("standing by") == 1, "said once, not at every try"
        # The lock is lost under the leader (its file removed, so a newcomer locks a new one): it steps down.
        lock_file(db, LEADER_LOCK).unlink()
        await two.check()
        await one.check()
        assert (one.leading, two.leading) == (False, True)
        assert roles[0].events == ["lead", "step down"] and roles[1].events == ["lead"]
        assert "leader lock lost" in caplog.text
        await one.check()
        assert not one.leading, "a standby again"
        await two.lock.release()


# -- what the leader runs ----------------------------------------------------------------------------------


class Passes:
    """Stands in for deliver_due: counts the passes run."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self, *args: object, **kwargs: object) -> DeliveryReport:
        self.runs += 1
        return DeliveryReport(None)


async def test_the_delivery_tick_skips_while_another_process_delivers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes = Passes()
    monkeypatch.setattr("bot.schedule.deliver_due", passes)
    db = tmp_path / "db.sqlite"
    settings = Settings.from_env({"DATABASE_PATH": str(db)})
    async with Store.open(db) as store, Store.open(db) as other:
        scheduler = Scheduler(Services(settings, store, ()), {"telegram": object()},  # type: ignore[dict-item]
                              clock=lambda: NOW)
        async with other.named_lock(DELIVERY_LOCK, note="deliver, pid 1") as manual:
            assert await manual.try_acquire()
            await scheduler.deliver_job()
            assert passes.runs == 0, "a `deliver` is under way: the tick leaves it alone"
        await scheduler.deliver_job()
        assert passes.runs == 1
        assert await other.named_lock(DELIVERY_LOCK).try_acquire(), "the tick let the lock go"


async def test_a_failed_scoring_run_still_delivers_what_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def failing_run(*args: object, **kwargs: object) -> None:
        raise SourceError("arXiv could not be reached")

    passes = Passes()
    monkeypatch.setattr("bot.schedule.deliver_due", passes)
    monkeypatch.setattr("bot.schedule.run_day", failing_run)
    db = tmp_path / "db.sqlite"
    async with Store.open(db) as store:
        scheduler = Scheduler(Services(Settings.from_env({"DATABASE_PATH": str(db)}), store, ()),
                              {"telegram": object()}, clock=lambda: NOW)  # type: ignore[dict-item]
        await scheduler.score_job()  # a new leader's catch-up, arXiv down: yesterday's digests still go out
        scheduler.shutdown()
    assert passes.runs == 1


def test_the_default_webhook_secret_is_the_same_everywhere_and_not_the_token() -> None:
    one = webhook_secret(Settings.from_env({"TELEGRAM_BOT_TOKEN": "123:AAA"}))
    assert one == webhook_secret(Settings.from_env({"TELEGRAM_BOT_TOKEN": "123:AAA"}))
    assert one != webhook_secret(Settings.from_env({"TELEGRAM_BOT_TOKEN": "123:AAB"}))
    assert "AAA" not in one and Settings.from_env({"TELEGRAM_WEBHOOK_SECRET": one}).telegram_webhook_secret == one
    given = Settings.from_env({"TELEGRAM_BOT_TOKEN": "123:AAA", "TELEGRAM_WEBHOOK_SECRET": "chosen-secret"})
    assert webhook_secret(given) == "chosen-secret"
