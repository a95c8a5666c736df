"""Named locks shared by every process on one database: who runs (`run`), who leads (`serve`), who delivers.

`NamedLock` is the interface (try_acquire, acquire with a bounded wait, release, still_held, held); a
database backend supplies the kind that works across its processes. On SQLite that is `FileLock`: an
advisory `flock` on `<database>.<name>.lock` next to the file. The kernel drops it when its holder exits
or dies, so a crashed holder never leaves a stale lock, and two locks taken in one process conflict too
(each holds its own open file). The file names its holder for the one who waits. An in-memory database
is private to its connection: its locks are in-process asyncio locks of that store.

No lock here reads a clock: a bounded wait is counted in polls of `sleep`.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Self

POLL_SECONDS = 0.5


class NamedLock(ABC):
    """One named lock of a database, held by at most one holder (process, connection) at a time."""

    name: str
    held: bool = False

    @abstractmethod
    async def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this holder has it now (also when it had it already)."""

    @abstractmethod
    async def release(self) -> None:
        """Let the lock go (nothing when not held)."""

    @abstractmethod
    async def still_held(self) -> bool:
        """Whether this holder still has the lock (False once lost: released, or its file or session gone)."""

    def holder(self) -> str:
        """Who holds the lock, in words for a message ("another process" when it cannot tell)."""
        return "another process"

    async def acquire(
        self, timeout: float,  # noqa: ASYNC109 (the agreed interface: a wait counted in polls, no deadline)
        *, poll: float = POLL_SECONDS, sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> bool:
        """Take the lock, waiting up to `timeout` seconds (counted in polls of `sleep`); False when still busy."""
        waited = 0.0
        while not await self.try_acquire():
            if waited >= timeout:
                return False
            await (sleep or asyncio.sleep)(poll)
            waited += poll
        return True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


def lock_file(database: Path | str, name: str) -> Path:
    """The file a FileLock of `database` named `name` locks."""
    return Path(f"{database}.{name}.lock")


class FileLock(NamedLock):
    """A NamedLock over `flock` on `<database>.<name>.lock`; `note` is written into it for whoever waits."""

    def __init__(self, database: Path | str, name: str, *, note: str = "") -> None:
        self.name = name
        self.path = lock_file(database, name)
        self.note = note or f"pid {os.getpid()}"
        self._fd: int | None = None
        self.held = False

    def _open(self) -> int:
        if self._fd is not None and not self._same_file():  # removed or replaced since: lock the file there now
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, self.note.encode(), 0)
        self.held = True
        return True

    async def release(self) -> None:
        self.held = False
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None

    def _same_file(self) -> bool:
        assert self._fd is not None
        try:
            return os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except FileNotFoundError:
            return False

    async def still_held(self) -> bool:
        # Someone removing the file would let a newcomer lock a new file of the same name: then ours is lost.
        return self.held and self._fd is not None and self._same_file()

    def holder(self) -> str:
        if self._fd is None:
            return "another process"
        text = os.pread(self._fd, 200, 0).decode("utf-8", "replace").strip()
        return text or "another process"


class MemoryLock(NamedLock):
    """A NamedLock for an in-memory database: an asyncio lock of the one store that can see it."""

    def __init__(self, name: str, lock: asyncio.Lock) -> None:
        self.name = name
        self._lock = lock
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._lock.locked():
            return False
        await self._lock.acquire()  # free: returns at once
        self.held = True
        return True

    async def release(self) -> None:
        if self.held:
            self.held = False
            self._lock.release()

    async def still_held(self) -> bool:
        return self.held
