"""SharedRate: a bot's sends counted per second in the database, across the stores (processes) sending them."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from core.deliver.botrate import SharedRate
from core.store import Store
from tests.fakes.clock import FakeMonotonic


async def test_sends_of_two_stores_share_one_per_second_limit(tmp_path: Path) -> None:
    clock = FakeMonotonic(start=1000.0)  # Unix seconds here: it moves only when someone sleeps
    db = tmp_path / "db.sqlite"
    sent: list[float] = []
    async with Store.open(db) as one, Store.open(db) as two:
        rates = [SharedRate(s.take_send_slot, "telegram:1", 3, clock, sleep=clock.sleep) for s in (one, two)]

        async def send(rate: SharedRate) -> None:
            await rate.turn()
            sent.append(clock())

        for _ in range(5):
            await asyncio.gather(*(send(rate) for rate in rates))
    per_second = Counter(int(at) for at in sent)
    assert len(sent) == 10 and max(per_second.values()) == 3, per_second
    assert sorted(per_second) == [1000, 1001, 1002, 1003]


async def test_no_send_starts_at_the_very_end_of_a_second(tmp_path: Path) -> None:
    clock = FakeMonotonic(start=1000.98)
    async with Store.open(tmp_path / "db.sqlite") as store:
        await SharedRate(store.take_send_slot, "telegram:1", 30, clock, sleep=clock.sleep).turn()
    assert 1001.0 <= clock() < 1001.01


async def test_a_slot_whose_claim_runs_into_the_end_of_its_second_is_not_used(tmp_path: Path) -> None:
    """Under load the claim's round trip can take longer than the guard: the send, started after it, would
    reach the platform in the next second, on top of that second's full count."""
    clock = FakeMonotonic(start=1000.90)
    claims: list[int] = []
    async with Store.open(tmp_path / "db.sqlite") as store:
        async def slow_take(bucket: str, second: int) -> int:
            claims.append(second)
            await clock.sleep(0.08 if len(claims) == 1 else 0.0)  # the first claim returns at 1000.98
            return await store.take_send_slot(bucket, second)

        await SharedRate(slow_take, "telegram:1", 30, clock, sleep=clock.sleep).turn()
    assert claims == [1000, 1001] and 1001.0 <= clock() < 1001.01, "sent in the next second, on its own slot"
