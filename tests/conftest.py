"""Suite-wide guard: tests write only under tmp_path, never into the project's own data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT
from tests.pgserver import REQUIRE_ENV, PgServer, PgUnavailable

GUARDED = (PROJECT_ROOT / "data" / "digests", PROJECT_ROOT / "data" / "arxiv_digest.db")


def _snapshot() -> dict[Path, tuple[int, int] | None]:
    found: dict[Path, tuple[int, int] | None] = {}
    for root in GUARDED:
        paths = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in paths:
            found[path] = (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None
    return found


@pytest.fixture(autouse=True, scope="session")
def project_data_is_left_alone() -> Iterator[None]:
    before = _snapshot()
    yield
    after = _snapshot()
    assert after == before, "a test wrote into the project's data/ (use tmp_path for DATABASE_PATH and DIGEST_DIR)"


# A real PostgreSQL server for the whole session (tests/pgserver.py), and a fresh database per test.
@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{exc} ({REQUIRE_ENV}=1)")
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a new, empty PostgreSQL database on the session's server."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgres"])
def db_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's database lives, once per backend: an SQLite file path, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "db.sqlite")
    return str(request.getfixturevalue("pg_url"))
