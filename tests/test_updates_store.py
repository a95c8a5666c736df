"""The tables several instances share: an update claimed once, and a bot's sends counted per second."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.store import Store

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_an_update_is_claimed_by_one_store_of_the_database_only(db_location: str) -> None:
    db = db_location
    async with Store.open(db) as one, Store.open(db) as two:
        claims = await asyncio.gather(*(s.claim_update("telegram:1", "17", NOW) for s in (one, two, one, two)))
        assert sorted(claims) == [False, False, False, True]
        assert await one.claim_update("telegram:1", "18", NOW), "another update"
        assert await one.claim_update("telegram:2", "17", NOW), "another bot's update 17"


async def test_old_claims_are_pruned_and_recent_ones_kept(db_location: str) -> None:
    async with Store.open(db_location) as store:
        await store.claim_update("slack", "Ev1", NOW - timedelta(days=3))
        await store.claim_update("slack", "Ev2", NOW)
        assert await store.prune_updates(NOW - timedelta(days=2)) == 1
        assert await store.claim_update("slack", "Ev1", NOW), "forgotten"
        assert not await store.claim_update("slack", "Ev2", NOW), "kept"


async def test_send_slots_count_every_store_s_sends_in_one_second(db_location: str) -> None:
    db = db_location
    async with Store.open(db) as one, Store.open(db) as two:
        counts = await asyncio.gather(*(s.take_send_slot("telegram:1", 1000) for s in (one, two) * 5))
        assert sorted(counts) == list(range(1, 11))
        assert await two.take_send_slot("telegram:1", 1001) == 1, "a new second starts at one"
        assert await two.take_send_slot("telegram:9", 1001) == 1, "another bot counts apart"
        assert await one.take_send_slot("telegram:1", 1000 + 61) == 1
        assert await one.take_send_slot("telegram:1", 1000) == 1, "seconds over a minute old were forgotten"
