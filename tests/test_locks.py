"""The database's named locks: one holder at a time across stores and processes, freed by the holder's death."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from core.store import Store
from core.store.locks import lock_file
from tests.fakes.clock import FakeMonotonic


async def test_a_named_lock_has_one_holder_across_two_stores_of_one_database(db_location: str) -> None:
    db = db_location
    async with Store.open(db) as one, Store.open(db) as two:
        first, second = one.named_lock("leader", note="serve, pid 1"), two.named_lock("leader")
        assert await first.try_acquire() and first.held and await first.still_held()
        assert not await second.try_acquire() and not second.held
        # a lock file carries its holder's note; an advisory lock's session its application_name
        assert second.holder().startswith("serve, pid 1"), "the waiting side can say who holds it"
        if db.startswith("postgresql"):
            assert "server session" in second.holder()
        assert await one.named_lock("delivery").try_acquire(), "another name is another lock"
        await first.release()
        assert not await first.still_held()
        assert await second.try_acquire()
        await second.release()


async def test_acquire_waits_a_bounded_time_counted_in_polls(db_location: str) -> None:
    db = db_location
    clock = FakeMonotonic()
    async with Store.open(db) as one, Store.open(db) as two:
        async with one.named_lock("run") as held:
            assert await held.try_acquire()
            waiting = two.named_lock("run")
            assert not await waiting.acquire(2.0, poll=0.5, sleep=clock.sleep)
            assert clock.sleeps == [0.5] * 4
        assert await waiting.acquire(2.0, poll=0.5, sleep=clock.sleep), "free once its holder left the block"
        await waiting.release()


async def test_a_lock_whose_file_was_removed_is_no_longer_held(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    async with Store.open(db) as one, Store.open(db) as two:
        lock = one.named_lock("leader")
        assert await lock.try_acquire()
        lock_file(db, "leader").unlink()  # a newcomer would now lock a new file of that name
        newcomer = two.named_lock("leader")
        assert await newcomer.try_acquire()
        assert not await lock.still_held(), "the old holder must notice it lost the lock"
        await lock.release()
        await newcomer.release()


async def test_an_in_memory_database_has_in_process_locks_of_its_own() -> None:
    async with Store.open(":memory:") as store, Store.open(":memory:") as other:
        lock = store.named_lock("leader")
        assert await lock.try_acquire() and await lock.still_held()
        assert not await store.named_lock("leader").try_acquire()
        assert await other.named_lock("leader").try_acquire(), "another in-memory database is another database"
        await lock.release()
        assert await store.named_lock("leader").try_acquire()


HOLD = """
import asyncio, sys
from core.store import Store
async def main():
    async with Store.open(sys.argv[1]) as store:
        assert await store.named_lock("leader").try_acquire()
        print("held", flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"""


async def test_a_holder_killed_with_sigkill_leaves_no_stale_lock(db_location: str) -> None:
    db = db_location
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", HOLD, str(db), stdout=asyncio.subprocess.PIPE,
                                                cwd=Path(__file__).parents[1], env={**os.environ})
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"held\n"
    async with Store.open(db) as store:
        lock = store.named_lock("leader")
        assert not await lock.try_acquire()
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert await lock.try_acquire()
        await lock.release()


async def test_a_store_keeps_only_the_locks_still_held(db_location: str) -> None:
    """A serve's delivery tick takes a new lock every minute: the store must not keep every one it let go."""
    async with Store.open(db_location) as store:
        kept = store.named_lock("leader")
        assert await kept.try_acquire()
        for _ in range(50):
            async with store.named_lock("delivery") as tick:
                assert await tick.try_acquire()
        assert len(store._locks) <= 2, "one held lock and the newest"
        assert kept.held
    assert not kept.held, "released when the store closed"
