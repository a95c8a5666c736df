"""Leader election among serve processes of one database (bot/leader.py), in one process over two stores."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.leader import LEADER_LOCK, Leadership
from core.store import Store
from core.store.locks import lock_file


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
