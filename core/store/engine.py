"""Where the database is and how to connect to it: a URL from a path or `DATABASE_URL`, the engine per
backend (SQLite's pragmas, PostgreSQL's pool), and how to name a database without its password.

SQLite: one connection shared by the whole process's Store (a StaticPool), its transactions taken one
at a time by the store's lock; other processes wait on SQLite's own lock (busy_timeout). PostgreSQL: a
pool, one connection per transaction, so many coroutines write the delivery ledger at once.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.errors import StoreError

SQLITE = "sqlite"
POSTGRES = "postgresql"
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "sqlite+aiosqlite": "sqlite+aiosqlite", "postgres": "postgresql+asyncpg",
            "postgresql": "postgresql+asyncpg", "postgresql+asyncpg": "postgresql+asyncpg"}


def to_url(target: Path | str) -> URL:
    """The URL of a database given as a file path, ":memory:", or a URL (`postgresql://user:pw@host/db`)."""
    spelled = str(target)
    if "://" not in spelled:
        return URL.create("sqlite+aiosqlite", database=spelled)
    try:
        url = make_url(spelled)
    except ArgumentError as exc:
        raise StoreError(f"DATABASE_URL does not read as a database URL: {exc}") from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise StoreError(f"DATABASE_URL names {url.drivername!r}: use postgresql://user:password@host:5432/name"
                         " (or leave it empty for SQLite at DATABASE_PATH)")
    return url.set(drivername=driver)


def describe(url: URL) -> str:
    """The database in words safe to print or log: a path, or postgresql://user:***@host:port/name."""
    if url.get_backend_name() == SQLITE:
        return str(url.database or ":memory:")
    return url.set(drivername=POSTGRES).render_as_string(hide_password=True)


def sqlite_path(url: URL) -> str | None:
    """The file of an SQLite URL; None for ":memory:" and for PostgreSQL."""
    if url.get_backend_name() != SQLITE or url.database in (None, "", ":memory:"):
        return None
    return str(url.database)


def make_engine(url: URL) -> AsyncEngine:
    """An async engine for `url`, with SQL parameters kept out of its error messages (they may be secrets)."""
    if url.get_backend_name() == SQLITE:
        engine = create_async_engine(url, poolclass=StaticPool, hide_parameters=True,
                                     connect_args={"check_same_thread": False})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, hide_parameters=True, pool_size=10, max_overflow=20, pool_timeout=120,
                               pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # First: every later statement waits for another process's lock rather than failing.
    cursor.execute("PRAGMA busy_timeout=5000")
    # Under WAL, NORMAL syncs at checkpoints, not at every commit: a commit survives the process being
    # killed, and only a power loss can undo the last few (a ledger row forgotten there means a part sent
    # twice, never one lost).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@asynccontextmanager
async def setup_lock(path: str | None) -> AsyncIterator[None]:
    """Hold an advisory lock on `<database>.setup-lock` while a connection switches to WAL and migrates.

    Two processes setting up one new file at once can meet in SQLite's lock escalation, where SQLite
    answers "database is locked" at once instead of waiting (its deadlock rule), busy_timeout or not.
    Setting up one at a time avoids it; the kernel drops the lock if its holder dies. In-memory: none.
    """
    if path is None:
        yield
        return
    fd = os.open(f"{path}.setup-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
