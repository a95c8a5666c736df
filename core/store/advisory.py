"""The PostgreSQL kind of named lock (core/store/locks.py has the interface and the SQLite kinds).

`AdvisoryLock` is a session advisory lock held on a dedicated connection, kept out of the pool while
held, so the server frees it the moment that connection or its process dies. Advisory locks are scoped
to one database, so two deployments on one server never share a lock. The holding session carries its
note as its `application_name`, and a session that finds the lock taken reads it back from pg_stat_activity
with the holder's address, so a waiting run names who it waits for, as a lock file does on SQLite.
"""

from __future__ import annotations

import contextlib
import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.store.locks import NamedLock

APP_NAME = "arxiv-digest"
OTHER = "another instance of this database"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (the first 8 bytes of its SHA-256), as pg_advisory_lock takes."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLock(NamedLock):
    """A PostgreSQL session advisory lock named `name`, on its own connection while held."""

    def __init__(self, engine: AsyncEngine, name: str, *, note: str = "") -> None:
        self.name, self.key = name, lock_key(name)
        self.note = note
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self.held = False
        self._holder = ""  # who held it when this session last found it taken

    async def try_acquire(self) -> bool:
        """Take the lock if no session holds it; True when this one holds it now."""
        if self.held:
            return True
        conn = await self._engine.connect()
        try:
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}))
            if got and self.note:  # the session names its holder for whoever finds the lock taken
                await conn.execute(text("SELECT set_config('application_name', :name, false)"),
                                   {"name": f"{APP_NAME}: {self.note}"[:63]})
            await conn.commit()  # the lock is the session's, not the transaction's
        except BaseException:
            await conn.close()
            raise
        if not got:
            try:
                self._holder = await self._read_holder(conn)
            except Exception:  # who holds it is a courtesy: never a reason to fail
                self._holder = ""
            finally:
                await conn.close()
            return False
        self._conn, self.held = conn, True
        return True

    async def _read_holder(self, conn: AsyncConnection) -> str:
        """The holding session's note and address, from the server's own view of its sessions."""
        row = (await conn.execute(
            text("SELECT a.application_name, host(a.client_addr), a.pid FROM pg_locks l"
                 " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                 " AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1"),
            {"high": (self.key >> 32) & 0xFFFFFFFF, "low": self.key & 0xFFFFFFFF},
        )).first()
        if row is None:
            return ""
        name, address, pid = row  # name and address are NULL to a role that may not see that session
        who = str(name or "").removeprefix(f"{APP_NAME}: ") if str(name or "").startswith(APP_NAME) else ""
        where = f"from {address}, " if address else ""
        return f"{who or OTHER} ({where}server session {pid})"

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

    def holder(self) -> str:
        return self._holder or OTHER
