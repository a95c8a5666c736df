"""Which schema a database is at, and bringing it to Alembic's head revision.

`prepare` runs when a store opens: an empty database (a new file, an empty PostgreSQL database) is
created at the head revision; one at the head opens; any other stops with what to do (`arxiv-digest
migrate`, or upgrade arxiv-digest). `migrate` is that command: an SQLite file from before Alembic
(PRAGMA user_version 1..9, no alembic_version table) is brought to version 9 by core/store/legacy.py,
stamped 0001, then upgraded. Setting up or migrating holds a lock: the file's setup lock on SQLite, a
transaction-scoped advisory lock on PostgreSQL, so two processes never migrate at once.

A schema change is a new file in migrations/versions/ (`0002_what.py`: `revision = "0002"`,
`down_revision = "0001"`, an `upgrade()` with alembic.op calls that read on both backends, batch mode on
SQLite) plus the change to tables.py; no alembic.ini is needed, `head()` finds it.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import StoreError
from core.store.advisory import lock_key
from core.store.engine import SQLITE, describe, make_engine, setup_lock, sqlite_path, to_url
from core.store.legacy import SCHEMA_VERSION, upgrade_to_v9

FIRST = "0001"  # the revision that is legacy schema version 9
MIGRATE_LOCK = "arxiv-digest:migrate"


@dataclass(frozen=True, slots=True)
class Schema:
    """Where a database stands: its Alembic revision, else its pre-Alembic SQLite version, else empty."""

    revision: str | None
    legacy: int = 0
    empty: bool = False

    @property
    def label(self) -> str:
        if self.revision:
            return self.revision
        return "empty" if self.empty else f"v{self.legacy} (before Alembic)"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "core.store:migrations")
    config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The newest revision this program knows."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None
    return found


def _known(revision: str) -> bool:
    return any(s.revision == revision for s in ScriptDirectory.from_config(_config()).walk_revisions())


def _read(sync: Connection) -> Schema:
    tables = set(inspect(sync).get_table_names())
    revision = MigrationContext.configure(sync).get_current_revision() if "alembic_version" in tables else None
    legacy = 0
    if sync.dialect.name == SQLITE:
        legacy = int(sync.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    return Schema(revision, legacy, empty=not (tables - {"alembic_version"}) and revision is None and not legacy)


def _upgrade(sync: Connection) -> None:
    command.upgrade(_config(sync), "head")


def _stamp_first(sync: Connection) -> None:
    command.stamp(_config(sync), FIRST)


def _verdict(where: str, schema: Schema) -> tuple[str, str]:
    """What `schema` means for this program: ("ok" | "create" | "migrate" | "newer" | "foreign", message)."""
    if schema.revision == head():
        return "ok", ""
    if schema.empty:
        return "create", ""
    if (schema.revision is not None and not _known(schema.revision)) or schema.legacy > SCHEMA_VERSION:
        return "newer", f"{where} is at schema {schema.label}, newer than this version's {head()}: upgrade arxiv-digest"
    if schema.revision is None and not 1 <= schema.legacy <= SCHEMA_VERSION:
        return "foreign", (f"{where} has tables but no arxiv-digest schema revision: point DATABASE_URL or"
                           " DATABASE_PATH at an arxiv-digest database or an empty one")
    return "migrate", (f"{where} is at schema {schema.label}, this version needs {head()}: run `arxiv-digest"
                       " migrate` (back it up first)")


async def _lock(conn: AsyncConnection) -> None:
    """Serialise set-up and migration between processes: on PostgreSQL until this transaction ends."""
    if conn.dialect.name == SQLITE:
        await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    else:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(MIGRATE_LOCK)})


async def read_schema(engine: AsyncEngine) -> Schema:
    """Where the database behind `engine` stands, read without writing."""
    async with engine.connect() as conn:
        return await conn.run_sync(_read)


async def prepare(engine: AsyncEngine, url: URL) -> None:
    """Create an empty database at the head revision; raise StoreError unless it is at the head then."""
    where = describe(url)
    async with setup_lock(sqlite_path(url)), engine.connect() as conn:
        await _lock(conn)
        verdict, message = _verdict(where, await conn.run_sync(_read))
        if message:
            raise StoreError(message)
        if verdict == "create":
            await conn.run_sync(_upgrade)
        await conn.commit()


async def migrate(target: Path | str) -> tuple[str, str]:
    """Upgrade the database at `target` (a path or URL) to the head revision; return (from, to) labels.

    Safe to run twice (the second finds nothing to do) and from two processes at once (one waits).
    """
    url = to_url(target)
    path = sqlite_path(url)
    if path:
        await asyncio.to_thread(Path(path).parent.mkdir, parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        async with setup_lock(path), engine.connect() as conn:
            await _lock(conn)
            before = await conn.run_sync(_read)
            verdict, message = _verdict(describe(url), before)
            if verdict in ("newer", "foreign"):
                raise StoreError(message)
            if path and before.revision is None and not before.empty:
                await conn.commit()  # hold no transaction while sqlite3 writes the file
                await asyncio.to_thread(upgrade_to_v9, path)
                await conn.run_sync(_stamp_first)
            await conn.run_sync(_upgrade)
            await conn.commit()
            after = await conn.run_sync(_read)
            await conn.commit()
        return before.label, after.label
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot migrate {describe(url)}: {reason(exc)}") from None
    finally:
        await engine.dispose()


# What an SQLite error means, in words a person running the command can act on.
_HINTS = {
    "file is not a database": "the file is not an SQLite database (or is corrupt); point DATABASE_PATH elsewhere",
    "database disk image is malformed": "the database file is corrupt; restore a backup or point DATABASE_PATH"
                                        " elsewhere",
    "attempt to write a readonly database": "the file or its folder is read-only",
    "unable to open database file": "the file or its folder cannot be opened (missing folder or no permission)",
}


def reason(exc: BaseException) -> str:
    """An error's own words (SQLite's as what to do), without SQLAlchemy's SQL echo and background link."""
    orig: Any = getattr(exc, "orig", None)
    said = (str(orig if orig is not None else exc).strip() or type(exc).__name__).splitlines()[0]
    return _HINTS.get(said, said)


def _read_only(url: URL, path: str | None) -> URL:
    """SQLite: the file opened read-only (a check must not create it or switch it to WAL)."""
    if path is None:
        return url
    return url.set(database=f"file:{quote(os.path.abspath(path))}", query={"mode": "ro", "uri": "true"})


async def inspect_store(target: Path | str) -> tuple[str, str]:
    """Read, without creating, migrating or writing, where the database at `target` stands.

    Return (verdict, words): verdict as `_verdict`'s ("ok", "create", "migrate", "newer", "foreign"); words
    name the backend, the database (never a password) and its schema. Raise StoreError when it cannot be read.
    """
    url = to_url(target)
    where = describe(url)
    path = sqlite_path(url)
    engine = make_engine(_read_only(url, path))
    try:
        schema = await read_schema(engine)
    except Exception as exc:
        raise StoreError(f"cannot open database {where}: {reason(exc)}") from None
    finally:
        await engine.dispose()
    backend = "sqlite" if path is not None or url.get_backend_name() == SQLITE else "postgresql"
    verdict, message = _verdict(where, schema)
    if verdict == "ok":
        return verdict, f"{backend} {where} at schema {schema.label} (current)"
    if verdict == "create":
        return verdict, f"{backend} {where} is empty; the first run creates it at schema {head()}"
    return verdict, f"{backend} {message}"
