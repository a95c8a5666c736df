"""Schema revisions: `arxiv-digest migrate`, the start-up check, and a file from before Alembic.

tests/data/v9.sqlite was made by the aiosqlite store at PRAGMA user_version 9 (tests/data/make_v9_db.py):
a scored sample day and rows in every other table. Migrating a copy must keep every row (revision 0003
decodes the TeX in ten papers' text, and nothing else).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from core.config import PROJECT_ROOT
from core.errors import StoreError
from core.fetch.tex import decode_prose
from core.fetch.text import author_name
from core.models import ChatRef
from core.store import Store
from core.store.migrate import head
from tests.pgserver import PgServer

V9 = PROJECT_ROOT / "tests" / "data" / "v9.sqlite"
DAY = date(2025, 12, 22)


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (the FTS index's own shadow tables aside), sorted."""
    with closing(sqlite3.connect(path)) as con:
        tables = [name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if not name.startswith(("papers_fts_", "sqlite_")) and name != "alembic_version"]
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


TEXT = ("papers", "papers_fts")  # revision 0003 decodes TeX in their text


def _decoded(row: tuple[object, ...]) -> tuple[object, ...]:
    """A papers row as revision 0003 leaves it: title and abstract decoded outside math, author names decoded."""
    arxiv_id, version, title, abstract, authors, *rest = row
    names = [author_name(str(name)) for name in json.loads(str(authors))]
    return (arxiv_id, version, decode_prose(str(title)), decode_prose(str(abstract)),
            json.dumps(names, ensure_ascii=False), *rest)


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"), **more}


def test_a_v9_file_from_the_last_release_migrates_without_losing_a_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "db.sqlite"
    shutil.copy2(V9, path)
    before = _rows(path)
    assert len(before["papers"]) == 116 and len(before["papers_fts"]) == 116
    assert all(before[t] for t in ("scores", "runs", "fields", "subscriptions", "votes", "deliveries", "summaries",
                                   "llm_usage", "judgements", "llm_capabilities", "json_modes", "follows",
                                   "webhook_secrets", "weekly", "weekly_deliveries")), "the file has every table"

    assert main(["status"], env=_env(tmp_path)) == 1, "an older schema stops every other command"
    err = capsys.readouterr().err
    assert f"{path} is at schema v9 (before Alembic), this version needs {head()}: run `arxiv-digest migrate`" \
           " (back it up first)" in err

    assert main(["migrate"], env=_env(tmp_path)) == 0
    assert capsys.readouterr().out == f"{path}: schema v9 (before Alembic) -> {head()}\n"
    assert main(["migrate"], env=_env(tmp_path)) == 0
    assert capsys.readouterr().out == f"{path}: schema {head()}, nothing to do\n"
    after = _rows(path)
    assert {t: after[t] for t in before if t not in TEXT} == {t: before[t] for t in before if t not in TEXT}, \
        "every row of every other table kept as it was"
    assert after["papers"] == sorted(map(_decoded, before["papers"]), key=repr), "revision 0003: text decoded"
    assert sum(a != b for a, b in zip(after["papers"], before["papers"], strict=True)) == 10, "ten of them hold TeX"
    assert after["papers_fts"] == sorted(
        [(r[0], r[2], r[3], " ".join(json.loads(str(r[4])))) for r in after["papers"]], key=repr), \
        "the FTS index in step"
    assert after["processed_updates"] == after["send_slots"] == [], "revision 0002's tables, new and empty"

    assert main(["search", "diffusion"], env=_env(tmp_path)) == 0, "the FTS index still answers"
    assert "diffusion" in capsys.readouterr().out.lower()
    assert main(["status", "--date", DAY.isoformat()], env=_env(tmp_path)) == 0


async def test_the_migrated_file_reads_through_the_store(tmp_path: Path) -> None:
    from core.store import migrate

    path = tmp_path / "db.sqlite"
    shutil.copy2(V9, path)
    await migrate(path)
    async with Store.open(path) as store:
        assert await store.count_papers(DAY) == 116
        assert len(await store.runs_of_day(DAY)) == 1
        assert (await store.get_subscription(ChatRef("telegram", "42"))) is not None
        assert await store.get_webhook_secret(ChatRef("feishu", "hook-1")) == "feishu-signing-secret"
        assert await store.get_follows(ChatRef("telegram", "42")) == [("auer soren", "Sören Auer")]
        assert await store.delivery_counts(DAY) == {"failed": 1, "pending": 1, "sent": 2}
        assert await store.weekly_state(ChatRef("telegram", "42"), "2025-W52") == ("sent", 1)
        assert await store.tokens_spent(DAY) == 920
        run = await store.start_run(DAY, "k", "m", datetime(2026, 1, 1, tzinfo=UTC))
        assert run == 2, "AUTOINCREMENT goes on after the old rows"


def test_migrate_on_postgres_creates_an_empty_database_and_is_safe_to_run_twice(
    tmp_path: Path, pg_server: PgServer, capsys: pytest.CaptureFixture[str],
) -> None:
    url = pg_server.create_database().replace("postgres@", "postgres:Migr4te-pw@")
    env = _env(tmp_path, DATABASE_URL=url)
    assert main(["migrate"], env=env) == 0
    where = url.replace("Migr4te-pw", "***")
    assert capsys.readouterr().out == f"{where}: schema empty -> {head()}\n"
    assert main(["migrate"], env=env) == 0
    out = capsys.readouterr().out
    assert out == f"{where}: schema {head()}, nothing to do\n" and "Migr4te-pw" not in out


def test_two_migrations_at_once_on_postgres_both_finish(tmp_path: Path, pg_server: PgServer) -> None:
    url = pg_server.create_database()
    code = "import sys\nfrom bot.cli import main\nsys.exit(main(['migrate']))\n"
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "ARXIV_DIGEST_DOTENV": "", "DATABASE_PATH": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    outs = sorted(out for out, _ in results)
    assert outs[-1].endswith(f"schema empty -> {head()}\n") and outs[0].endswith("nothing to do\n"), outs


async def _at_revision_0002_with_a_tex_paper(target: str) -> None:
    """A database as the previous release left it: schema 0002, a paper stored with the feed's TeX."""
    from alembic import command
    from sqlalchemy import text

    from core.store.engine import make_engine, to_url
    from core.store.migrate import _config

    engine = make_engine(to_url(target))
    paper = {"id": "2602.00001", "title": r"Schr\"odinger Bridges for \textbf{Fast} Sampling",
             "abstract": r"We cut the error by 40\% with $\alpha\_1$ steps, \emph{without} retraining.",
             "authors": json.dumps([r"J\'er\^ome Th\'eau", "Ada Lovelace"]), "categories": '["cs.LG"]'}
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(_config(sync), "0002"))
            await conn.execute(text(
                "INSERT INTO papers (arxiv_id, version, title, abstract, authors, categories, primary_category,"
                " published, announce_type, first_seen, comment) VALUES (:id, 1, :title, :abstract, :authors,"
                " :categories, 'cs.LG', '2026-02-02', 'new', '2026-02-02T01:00:00+00:00', '')"), paper)
            if conn.dialect.name == "sqlite":
                await conn.execute(text("INSERT INTO papers_fts (arxiv_id, title, abstract, authors) VALUES"
                                        " (:id, :title, :abstract, :names)"),
                                   {**paper, "names": r"J\'er\^ome Th\'eau Ada Lovelace"})
    finally:
        await engine.dispose()


async def test_revision_0003_decodes_stored_tex_and_search_finds_the_decoded_words(db_location: str) -> None:
    from core.store import migrate

    db = db_location
    await _at_revision_0002_with_a_tex_paper(db)
    with pytest.raises(StoreError, match="is at schema 0002, this version needs"):
        async with Store.open(db):
            pass
    assert await migrate(db) == ("0002", head())
    async with Store.open(db) as store:
        paper = await store.get_paper("2602.00001")
        assert paper is not None
        assert paper.title == "Schrödinger Bridges for Fast Sampling"
        assert paper.abstract == r"We cut the error by 40% with $\alpha\_1$ steps, without retraining.", \
            "math kept as written"
        assert paper.authors == ("Jérôme Théau", "Ada Lovelace")
        for words in ("Schrödinger bridges", "Jérôme", "Théau sampling"):
            assert [p.arxiv_id for p in await store.search(words)] == ["2602.00001"], words
        assert await store.search("textbf") == [], "markup no longer indexed"
    assert await migrate(db) == (head(), head()), "a second run finds nothing to do"


def test_revision_0003_decodes_a_row_and_leaves_a_decoded_one_alone() -> None:
    import importlib

    decoded = importlib.import_module("core.store.migrations.versions.0003_decoded_text").decoded
    assert decoded(("1", "Schrödinger", "40% $\\alpha$", '["Jérôme Théau"]')) is None, "already decoded"
    assert decoded(("1", 'Schr\\"odinger', "x", '["J\\\\\'er\\\\^ome"]')) == {
        "arxiv_id": "1", "title": "Schrödinger", "abstract": "x", "authors": '["Jérôme"]', "names": "Jérôme"}
    assert decoded(("1", 'Schr\\"odinger', "x", "not a list"))["names"] == "not a list", \
        "authors that are not a JSON list are kept as they are"
