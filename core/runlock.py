"""One daily run at a time per database: a second run waits for the first (bounded), then stops clearly.

Two runs of one database at once (a cron job and a manual `run`, two `run --input` jobs) would both
store the same new papers and score them twice. The lock is an advisory `flock` on a file next to the
database (`<database>.run-lock`): the kernel drops it when the holder exits or dies, so a crashed run
never leaves a stale lock, and two locks taken in one process conflict too. The file names its
holder, so the waiting run says who it waits for. An in-memory database is private: no lock. It never
reads the clock: the wait is counted in polls of `sleep`.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from core.errors import DigestError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class RunInProgress(DigestError):
    """Another run holds the database's run lock and did not finish within the wait."""


def lock_path(database: Path | str) -> Path | None:
    """The run lock's file for a database; None for an in-memory one."""
    return None if str(database) == ":memory:" else Path(f"{database}.run-lock")


def _holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    return text or "another process"


@asynccontextmanager
async def run_lock(
    database: Path | str,
    *,
    wait: float,
    what: str = "run",
    sleep: Callable[[float], Awaitable[None]] | None = None,
    poll: float = POLL_SECONDS,
) -> AsyncIterator[None]:
    """Hold the database's run lock for the block; wait up to `wait` seconds for another run to end.

    Raises RunInProgress (with the holder and what to do) when the other run still holds it after `wait`.
    """
    path = lock_path(database)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        waited = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if waited >= wait:
                    raise RunInProgress(
                        f"another run is using {database} ({holder})"
                        + (f"; waited {waited:.0f} s" if waited else "")
                        + ": try again when it has finished"
                    ) from None
                if waited == 0:
                    log.warning("another run is using %s (%s): waiting up to %.0f s", database, holder, wait)
                await (sleep or asyncio.sleep)(poll)
                waited += poll
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what}, pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock
