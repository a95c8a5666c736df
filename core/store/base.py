"""The open connection every table module works through: opening, migrating, closing, and the two
ways of running one statement many times (over many rows, over many ids in chunks).

No table's queries live here; each table module adds its own methods on top of `StoreBase`.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import aiosqlite

from core.errors import StoreError
from core.store.schema import SCHEMA_VERSION, migrate

# What a sqlite3 error means, in words a person running the command can act on.
_HINTS = {
    "file is not a database": "the file is not an SQLite database (or is corrupt); point DATABASE_PATH elsewhere",
    "database disk image is malformed": "the database file is corrupt; restore a backup or point DATABASE_PATH"
                                        " elsewhere",
    "attempt to write a readonly database": "the file or its folder is read-only",
    "unable to open database file": "the file or its folder cannot be opened (missing folder or no permission)",
}

# Ids bound per `IN (...)` list: well under SQLite's limit on parameters in one statement (999 before 3.32).
CHUNK = 500


@asynccontextmanager
async def _setup_lock(path: Path | str) -> AsyncIterator[None]:
    """Hold an advisory lock on `<database>.setup-lock` while a connection switches to WAL and migrates.

    Two processes setting up one new file at once can meet in SQLite's lock escalation, where SQLite
    answers "database is locked" at once instead of waiting (its deadlock rule), busy_timeout or not.
    Setting up one at a time avoids it; the kernel drops the lock if its holder dies. In-memory: none.
    """
    if str(path) == ":memory:":
        yield
        return
    fd = os.open(f"{path}.setup-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class StoreBase:
    """An open database. Use `async with Store.open(path) as store:`."""

    def __init__(self, db: aiosqlite.Connection, path: Path | str = ":memory:") -> None:
        self._db = db
        self._lock_database = str(path)  # where core/store/locks.py puts this database's lock files

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path | str) -> AsyncIterator[Self]:
        """Open (creating and migrating as needed) the database at `path`; ":memory:" works too."""
        if str(path) != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {path}: {exc}") from exc
        try:
            db = await aiosqlite.connect(str(path))
        except Exception as exc:  # aiosqlite surfaces sqlite3 errors from its worker thread
            raise StoreError(f"cannot open database {path}: {_reason(exc)}") from exc
        try:
            try:
                db.row_factory = aiosqlite.Row
                # First: every later statement waits for another process's lock rather than failing.
                await db.execute("PRAGMA busy_timeout=5000")
                # Under WAL, NORMAL syncs at checkpoints, not at every commit: a commit survives the process
                # being killed, and only a power loss can undo the last few (a ledger row forgotten there
                # means a part sent twice, never one lost).
                await db.execute("PRAGMA synchronous=NORMAL")
                await db.execute("PRAGMA foreign_keys=ON")
                async with _setup_lock(path):
                    await db.execute("PRAGMA journal_mode=WAL")
                    await migrate(db, str(path))
            except sqlite3.DatabaseError as exc:  # not a database, corrupt, read-only, locked
                raise StoreError(f"cannot open database {path}: {_reason(exc)}") from exc
            yield cls(db, path)
        finally:
            await db.close()

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement over many rows and close its cursor in aiosqlite's thread.

        A cursor left for the garbage collector is finalised in the event loop's thread, where it races
        the worker thread as soon as two coroutines write at once (sqlite3: "bad parameter or other API
        misuse"); interest profiles scored concurrently for delivery do exactly that.
        """
        async with self._db.executemany(sql, rows):
            pass

    async def _select_in(self, sql: str, ids: Iterable[str], args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """Every row of `sql` over the distinct `ids`, run once per CHUNK of them.

        `sql` spells its id list as `IN ({ids})`; `args` bind to the placeholders before it.
        """
        unique = list(dict.fromkeys(ids))
        rows: list[aiosqlite.Row] = []
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            async with self._db.execute(sql.format(ids=",".join("?" * len(chunk))), (*args, *chunk)) as cur:
                rows.extend(await cur.fetchall())
        return rows


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _HINTS.get(text, text)


def _read_only_uri(path: Path) -> str:
    return f"file:{quote(os.path.abspath(path))}?mode=ro"


async def inspect_database(path: Path) -> int:
    """The schema version of the existing database at `path`, read without creating, migrating or writing it.

    Raise StoreError naming the path when it is not an SQLite database, is corrupt or unreadable, or has a
    schema newer than this program knows.
    """
    try:
        async with aiosqlite.connect(_read_only_uri(path), uri=True) as db:
            async with db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            async with db.execute("SELECT count(*) FROM sqlite_master") as cur:
                await cur.fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {_reason(exc)}") from exc
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} has schema version {version}, newer than this program's {SCHEMA_VERSION}:"
                         " upgrade arxiv-digest")
    return version
