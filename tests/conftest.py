"""Suite-wide guard: tests write only under tmp_path, never into the project's own data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT

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
