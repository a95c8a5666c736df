"""One daily run at a time per database: a second run waits for the first (bounded), then stops clearly.

Two runs of one database at once (a cron job and a manual `run`, two `run --input` jobs, a `run` beside
`serve`'s leader) would both store the same new papers and score them twice. The lock is the database's
named lock "run" (core/store/locks.py: a file lock beside an SQLite file, whatever the backend provides
otherwise): its holder's death releases it, so a crashed run never leaves a stale lock. The lock names
its holder, so the waiting run says who it waits for. It never reads the clock: the wait is counted in
polls of `sleep`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from core.errors import DigestError
from core.store import Store
from core.store.locks import POLL_SECONDS

log = logging.getLogger(__name__)

RUN_LOCK = "run"


class RunInProgress(DigestError):
    """Another run holds the database's run lock and did not finish within the wait."""


@asynccontextmanager
async def run_lock(
    store: Store,
    *,
    wait: float,
    what: str = "run",
    sleep: Callable[[float], Awaitable[None]] | None = None,
    poll: float = POLL_SECONDS,
) -> AsyncIterator[None]:
    """Hold the database's run lock for the block; wait up to `wait` seconds for another run to end.

    Raises RunInProgress (with the holder and what to do) when the other run still holds it after `wait`.
    """
    lock = store.named_lock(RUN_LOCK, note=f"{what}, pid {os.getpid()}")
    try:
        if not await lock.try_acquire():
            if wait > 0:
                log.warning("another run is using the database (%s): waiting up to %.0f s", lock.holder(), wait)
            if not await lock.acquire(wait, poll=poll, sleep=sleep):
                raise RunInProgress(
                    f"another run is using the database ({lock.holder()})"
                    + (f"; waited {wait:.0f} s" if wait else "")
                    + ": try again when it has finished"
                )
        yield
    finally:
        await lock.release()
