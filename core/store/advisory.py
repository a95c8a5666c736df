"""Named locks between processes: a PostgreSQL advisory lock, or an flock beside an SQLite file.

`Store.named_lock(name)` returns the kind that fits the store: `AdvisoryLock` on PostgreSQL (a session
lock held on a dedicated connection, kept out of the pool while held, so the server frees it the moment
that connection or its process dies), `FileLock` on an SQLite file (`<db>.<name>.lock`; the kernel frees
it when the process dies), `LocalLock` in memory. All have the same methods: `try_acquire`,
`acquire(timeout)`, `release`, `still_held` and `held`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import re
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

POLL = 0.5  # seconds between tries while `acquire` waits


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (the first 8 bytes of its SHA-256), as pg_advisory_lock takes."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class NamedLock(Protocol):
    held: bool

    async def try_acquire(self) -> bool: ...
    async def acquire(self, timeout: float) -> bool: ...  # noqa: ASYNC109 (the leader-lock interface)
    async def release(self) -> None: ...
    async def still_held(self) -> bool: ...


async def _wait(lock: NamedLock, timeout: float) -> bool:  # noqa: ASYNC109 (the leader-lock interface)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await lock.try_acquire():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(min(POLL, max(0.0, deadline - loop.time())))
    return True


class AdvisoryLock:
    """A PostgreSQL session advisory lock named `name`, on its own connection while held."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.name, self.key = name, lock_key(name)
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        """Take the lock if no session holds it; True when this one holds it now."""
        if self.held:
            return True
        conn = await self._engine.connect()
        try:
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}))
            await conn.commit()  # the lock is the session's, not the transaction's
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn, self.held = conn, True
        return True

    async def acquire(self, timeout: float) -> bool:  # noqa: ASYNC109 (the leader-lock interface)
        """Wait up to `timeout` seconds for the lock; True when held."""
        return await _wait(self, timeout)

    async def still_held(self) -> bool:
        """Whether the lock's connection is alive and the server still counts the lock as this session's."""
        if not self.held or self._conn is None:
            return False
        try:
            found = await self._conn.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                     " AND granted AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"),
                {"high": (self.key >> 32) & 0xFFFFFFFF, "low": self.key & 0xFFFFFFFF},
            )
            await self._conn.commit()
        except Exception:
            await self._drop()
            return False
        if not found:
            await self._drop()
        return bool(found)

    async def release(self) -> None:
        """Give the lock up (closing its connection, which frees it even when unlock fails)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await self._conn.commit()
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn, self.held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # never back to the pool: a dead or lock-holding session must not be reused


class FileLock:
    """An flock on `<path>` (beside an SQLite database), held by this process while `held`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd, self.held = fd, True
        return True

    async def acquire(self, timeout: float) -> bool:  # noqa: ASYNC109 (the leader-lock interface)
        return await _wait(self, timeout)

    async def still_held(self) -> bool:
        return self.held

    async def release(self) -> None:
        fd, self._fd, self.held = self._fd, None, False
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock


_LOCAL: dict[str, asyncio.Lock] = {}


class LocalLock:
    """An in-process lock by name (a store in memory has no other process to share it with)."""

    def __init__(self, name: str) -> None:
        self._lock = _LOCAL.setdefault(name, asyncio.Lock())
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._lock.locked():
            return False
        await self._lock.acquire()
        self.held = True
        return True

    async def acquire(self, timeout: float) -> bool:  # noqa: ASYNC109 (the leader-lock interface)
        return await _wait(self, timeout)

    async def still_held(self) -> bool:
        return self.held

    async def release(self) -> None:
        if self.held:
            self.held = False
            self._lock.release()


def file_lock_path(database: str, name: str) -> str:
    """`<database>.<name>.lock`, with `name` reduced to characters safe in a file name."""
    return f"{database}.{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.lock"
