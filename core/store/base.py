"""The open database every table module works through: opening (and checking its schema), closing,
transactions, and the ways of running one statement: once, over many rows, over many ids in chunks.

Statements are SQL text with `?` placeholders, written in the SQL both SQLite and PostgreSQL read
(upserts as `INSERT ... ON CONFLICT ... DO UPDATE`, `RETURNING`); where the two differ, a table module
asks `self._postgres`. Each method of a table module is one transaction: it commits when it returns.
No table's queries live here; each table module adds its own methods on top of `StoreBase`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import StoreError
from core.store.advisory import AdvisoryLock
from core.store.engine import SQLITE, describe, make_engine, sqlite_path, to_url
from core.store.locks import FileLock, MemoryLock, NamedLock
from core.store.migrate import prepare, reason
from core.store.rows import Record

# Ids bound per `IN (...)` list: well under SQLite's limit on parameters in one statement (999 before 3.32).
CHUNK = 500


@lru_cache(maxsize=512)
def _compiled(sql: str) -> TextClause:
    """`sql` with its `?` placeholders as SQLAlchemy's named ones (:p0, :p1, ...), other colons kept literal."""
    count = iter(range(10**6))
    return text(re.sub(r"\?", lambda _: f":p{next(count)}", sql.replace(":", r"\:")))


def _params(args: Sequence[Any]) -> dict[str, Any]:
    return {f"p{i}": value for i, value in enumerate(args)}


class Tx:
    """One transaction on one connection (see StoreBase._tx)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[Record]:
        """Every row `sql` returns."""
        result = await self.conn.execute(_compiled(sql), _params(args))
        return [Record(row) for row in result] if result.returns_rows else []

    async def one(self, sql: str, args: Sequence[Any] = ()) -> Record | None:
        """The first row `sql` returns, or None."""
        rows = await self.all(sql, args)
        return rows[0] if rows else None

    async def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows; return how many rows it changed."""
        result = await self.conn.execute(_compiled(sql), _params(args))
        return int(result.rowcount)

    async def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement over many rows."""
        params = [_params(row) for row in rows]
        if params:
            await self.conn.execute(_compiled(sql), params)


class StoreBase:
    """An open database. Use `async with Store.open(path) as store:`."""

    def __init__(self, engine: AsyncEngine, where: str, sqlite_file: str | None) -> None:
        self._engine = engine
        self._where = where
        self._postgres = engine.dialect.name != SQLITE
        self._sqlite_file = sqlite_file
        # SQLite: one shared connection, its transactions one at a time; PostgreSQL: one pooled connection each.
        self._serial: asyncio.Lock | None = None if self._postgres else asyncio.Lock()
        self._locks: list[NamedLock] = []  # released when the store closes
        self._memory_locks: dict[str, asyncio.Lock] = {}

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path | str) -> AsyncIterator[Self]:
        """Open the database at `path`: an SQLite file, ":memory:", or a PostgreSQL URL.

        A new, empty database is created at the current schema; one at an older or newer schema raises
        StoreError saying what to do (`arxiv-digest migrate`, or upgrade arxiv-digest).
        """
        url = to_url(path)
        where, file = describe(url), sqlite_path(url)
        if file is not None:
            try:
                await asyncio.to_thread(Path(file).parent.mkdir, parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {file}: {exc}") from exc
        engine = make_engine(url)
        try:
            try:
                await prepare(engine, url)
            except StoreError:
                raise
            except Exception as exc:  # not a database, corrupt, read-only, unreachable, refused
                raise StoreError(f"cannot open database {where}: {reason(exc)}") from None
            store = cls(engine, where, file)
            try:
                yield store
            finally:
                for lock in store._locks:
                    await lock.release()
        finally:
            await engine.dispose()

    @classmethod
    def open_settings(cls, settings: Any) -> AbstractAsyncContextManager[Self]:
        """Open the database the settings name: `DATABASE_URL` when set, else SQLite at `DATABASE_PATH`."""
        return cls.open(settings.database_url or settings.database_path)

    @property
    def where(self) -> str:
        """The database in words safe to print: its path, or its URL without the password."""
        return self._where

    def named_lock(self, name: str, *, note: str = "") -> NamedLock:
        """A new (not yet taken) lock named `name` shared by every process on this database, `note` saying who
        takes it (core/store/locks.py); the store keeps it, and releases it when the store closes."""
        lock: NamedLock
        if self._postgres:
            lock = AdvisoryLock(self._engine, name, note=note)
        elif self._sqlite_file is not None:
            lock = FileLock(self._sqlite_file, name, note=note)
        else:  # in memory: no other process can see this database; its locks are this store's
            lock = MemoryLock(name, self._memory_locks.setdefault(name, asyncio.Lock()))
        # Forget the locks let go since (a serve's delivery tick takes a new one every minute), keep the rest.
        self._locks = [kept for kept in self._locks if kept.held]
        self._locks.append(lock)
        return lock

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self._serial or nullcontext(), self._engine.begin() as conn:
            yield Tx(conn)

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Record]:
        async with self._tx() as tx:
            return await tx.all(sql, args)

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> Record | None:
        async with self._tx() as tx:
            return await tx.one(sql, args)

    async def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        async with self._tx() as tx:
            return await tx.run(sql, args)

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement over many rows in one transaction."""
        async with self._tx() as tx:
            await tx.many(sql, rows)

    async def _select_in(self, sql: str, ids: Iterable[str], args: Sequence[Any] = ()) -> list[Record]:
        """Every row of `sql` over the distinct `ids`, run once per CHUNK of them.

        `sql` spells its id list as `IN ({ids})`; `args` bind to the placeholders before it.
        """
        unique = list(dict.fromkeys(ids))
        rows: list[Record] = []
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            rows.extend(await self._all(sql.format(ids=",".join("?" * len(chunk))), (*args, *chunk)))
        return rows
