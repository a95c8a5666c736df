"""Store round trips on both backends: SQLite in tmp_path and a real PostgreSQL server (tests/pgserver.py).

Every test taking `db` runs once per backend; tests about an SQLite file itself (its PRAGMA user_version,
pre-Alembic files) say so in their name and stay SQLite-only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from core.errors import StoreError
from core.models import ChatRef, Run, Subscription
from core.runs import summarise_runs
from core.searchwords import search_words
from core.store import LOOKUP, SCHEMA_VERSION, Store, fts_query, migrate, ts_terms
from core.store.base import CHUNK
from core.store.engine import describe, to_url
from core.store.migrate import head, inspect_store
from tests.pgserver import PgServer
from tests.samples import DAY, FIELDS, paper, score

NOW = datetime(2026, 1, 19, 4, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's database lives: an SQLite file path, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "db.sqlite")
    return str(request.getfixturevalue("pg_url"))


async def test_papers_round_trip_and_dedupe_by_id(db: str) -> None:
    async with Store.open(db) as store:
        p = paper(1, "KV cache <quantization> & more", authors=9)
        assert await store.save_papers([p, p], NOW) == [p]
        assert await store.save_papers([p], NOW) == []
        assert await store.get_paper(p.arxiv_id) == p
        assert await store.papers_for_day(DAY) == [p]
        assert await store.known_ids([p.arxiv_id, "2601.99999"]) == {p.arxiv_id: DAY}


async def test_data_survives_reopening_and_the_schema_revision_is_recorded(db: str, tmp_path: Path) -> None:
    if not db.startswith("postgresql"):
        db = str(tmp_path / "nested" / "db.sqlite")
    async with Store.open(db) as store:
        await store.save_papers([paper(1)], NOW)
    async with Store.open(db) as store:
        assert await store.count_papers() == 1
    assert await inspect_store(db) == ("ok", f"{_backend(db)} {_where(db)} at schema {head()} (current)")
    if not db.startswith("postgresql"):
        assert _user_version(Path(db)) == SCHEMA_VERSION, "a pre-Alembic reader sees version 9, not an empty file"


async def test_a_newer_sqlite_file_from_before_alembic_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer.*upgrade arxiv-digest"):
        async with Store.open(path):
            pass


async def test_a_database_at_an_unknown_newer_revision_is_refused(db: str) -> None:
    async with Store.open(db) as store:
        await store._run("UPDATE alembic_version SET version_num = ?", ("9999_future",))
    with pytest.raises(StoreError, match="9999_future, newer than this version's .*: upgrade arxiv-digest"):
        async with Store.open(db):
            pass
    with pytest.raises(StoreError, match="upgrade arxiv-digest"):
        await migrate(db)


async def test_full_text_search_ranks_title_matches_first(db: str) -> None:
    async with Store.open(db) as store:
        a = paper(1, "Speculative decoding for fast inference")
        b = paper(2, "Graph learning", abstract="We mention speculative decoding once in passing.")
        c = paper(3, "Unrelated work on robots")
        await store.save_papers([c, b, a], NOW)
        hits = await store.search("speculative decoding")
        assert [h.arxiv_id for h in hits] == [a.arxiv_id, b.arxiv_id]
        assert await store.search('"unbalanced (quote OR') == []
        assert [h.arxiv_id for h in await store.search("Author 3-1")] == [c.arxiv_id]


def test_fts_query_quotes_every_word_but_the_common_ones() -> None:
    assert fts_query('kv "cache" NEAR (x') == '"kv" "cache" "NEAR" "x"', "FTS5's operators are words, quoted"
    assert fts_query("attention is all you need") == '"attention" "need"'
    assert fts_query("  ") == "" == fts_query("The OF and")
    assert search_words("state-of-the-art of LLMs") == ["state-of-the-art", "LLMs"]


async def test_scores_round_trip_per_scorer_key(db: str) -> None:
    async with Store.open(db) as store:
        p1, p2 = paper(1), paper(2)
        await store.save_papers([p1, p2], NOW)
        await store.save_scores("k1", [score(p1, "efficient-llm", 8.5), score(p2, "safety-alignment", 3.0)], NOW)
        await store.save_scores("k2", [score(p1, "safety-alignment", 6.0, stage="llm")], NOW)
        got = await store.get_scores("k1", [p1.arxiv_id, p2.arxiv_id])
        assert got[p1.arxiv_id].value == 8.5 and got[p1.arxiv_id].field_scores == {"efficient-llm": 8.5}
        assert (await store.get_scores("k2", [p1.arxiv_id]))[p1.arxiv_id].stage == "llm"
        pairs = await store.scored_papers(DAY, "k1")
        assert [(p.arxiv_id, s.field_slug) for p, s in pairs] == [
            (p1.arxiv_id, "efficient-llm"), (p2.arxiv_id, "safety-alignment")]


async def test_a_days_runs_add_up_tokens_and_keep_the_scoring_runs_time(db: str) -> None:
    later = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
    async with Store.open(db) as store:
        first = await store.start_run(DAY, "k", "m", NOW)
        await store.finish_run(first, status="done", now=NOW, papers_read=10, scored=10, tokens_in=900, tokens_out=100)
        again = await store.start_run(DAY, "k", "m", later)
        await store.finish_run(again, status="done", now=later, papers_read=10, scored=0)
        summary = summarise_runs(DAY, await store.runs_of_day(DAY))
        assert summary is not None
        assert summary.tokens == 1000 and summary.papers_read == 10
        assert summary.finished_at == NOW
        assert await store.tokens_spent(DAY) == 1000
        assert [r.scored for r in await store.list_runs()] == [0, 10]
        assert summarise_runs(date(2026, 1, 20), await store.runs_of_day(date(2026, 1, 20))) is None


async def test_runs_of_day_are_the_finished_runs_oldest_first(db: str) -> None:
    later = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
    async with Store.open(db) as store:
        first = await store.start_run(DAY, "k", "m", NOW)
        await store.finish_run(first, status="done", now=later, papers_read=10, scored=10, note="n")
        await store.start_run(DAY, "k", "m", later)  # still running: not one of the day's runs yet
        other_day = await store.start_run(date(2026, 1, 20), "k", "m", later)
        await store.finish_run(other_day, status="no-announcement", now=later)
        assert await store.runs_of_day(DAY) == [
            Run(day=DAY, papers_read=10, tokens_in=0, tokens_out=0, model="m", scorer_key="k", started_at=NOW,
                finished_at=later, status="done", note="n", scored=10)]
        assert await store.runs_of_day(date(2026, 1, 18)) == []


async def test_fields_are_saved_and_updated(db: str) -> None:
    async with Store.open(db) as store:
        await store.save_fields(FIELDS, NOW)
        await store.save_fields(FIELDS, NOW)
        assert await store.field_slugs() == sorted(f.slug for f in FIELDS)


async def test_subscriptions_votes_and_migration_to_a_new_chat_id(db: str) -> None:
    chat, moved = ChatRef("telegram", "-100"), ChatRef("telegram", "-100200")
    async with Store.open(db) as store:
        sub = Subscription(chat, fields=("efficient-llm",), min_score=7.5, lang="en")
        await store.save_subscription(sub, NOW)
        assert await store.get_subscription(chat) == sub
        await store.save_vote(chat, "2601.00001", 1, NOW)
        await store.save_vote(chat, "2601.00001", -1, NOW)
        assert await store.get_votes(chat) == {"2601.00001": -1}
        await store.move_subscription(chat, moved, NOW)
        assert await store.get_subscription(chat) is None
        assert (await store.get_subscription(moved)) == Subscription(moved, fields=("efficient-llm",),
                                                                     min_score=7.5, lang="en")
        assert await store.get_votes(moved) == {"2601.00001": -1}
        await store.save_subscription(Subscription(moved, active=False), NOW)
        assert await store.list_subscriptions() == []
        assert len(await store.list_subscriptions(active_only=False)) == 1


async def test_a_looked_up_paper_joins_its_listing_day_when_a_listing_names_it(db: str) -> None:
    async with Store.open(db) as store:
        looked_up = paper(7, day=date(2026, 1, 15))
        await store.save_papers([looked_up.__class__(**{**_fields(looked_up), "announce_type": LOOKUP})], NOW)
        assert await store.known_ids([looked_up.arxiv_id]) == {}
        assert await store.papers_for_day(date(2026, 1, 15)) == []
        listed = paper(7, day=DAY)
        assert await store.save_papers([listed], NOW) == [listed]
        assert await store.known_ids([listed.arxiv_id]) == {listed.arxiv_id: DAY}
        assert [p.arxiv_id for p in await store.papers_for_day(DAY)] == [listed.arxiv_id]


def _backend(db: str) -> str:
    return "postgresql" if db.startswith("postgresql") else "sqlite"


def _where(db: str) -> str:
    return describe(to_url(db))


def _user_version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("PRAGMA user_version").fetchone()[0])
    finally:
        con.close()


def _fields(p: object) -> dict[str, object]:
    return {name: getattr(p, name) for name in p.__slots__}  # type: ignore[attr-defined]


async def test_a_version_1_sqlite_file_is_refused_until_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    from core.models import Summary
    from core.store import MIGRATIONS, SCHEMA

    path = tmp_path / "v1.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO papers (arxiv_id, title, abstract, authors, categories, primary_category, published,"
                " first_seen) VALUES ('2601.00001', 'T', 'A.', '[]', '[\"cs.LG\"]', 'cs.LG', '2026-01-19', 'x')")
    con.execute("INSERT INTO runs (day, scorer_key, model, started_at, status, tokens_in, tokens_out)"
                " VALUES ('2026-01-19', 'k', 'm', '2026-01-19T00:00:00+00:00', 'done', 100, 20)")
    con.execute("INSERT INTO votes VALUES ('telegram', '42', '2601.00001', -1, '2026-01-19T00:00:00+00:00')")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=r"v1 \(before Alembic\), this version needs .*arxiv-digest migrate"):
        async with Store.open(path):
            pass
    assert await migrate(path) == ("v1 (before Alembic)", head())
    assert await migrate(path) == (head(), head()), "safe to run twice"
    async with Store.open(path) as store:
        assert _user_version(path) == SCHEMA_VERSION == len(MIGRATIONS) == 9
        assert (await store.get_paper("2601.00001")) is not None
        assert await store.get_votes(ChatRef("telegram", "42")) == {"2601.00001": -1}
        [(voted, vote)] = await store.voted_papers(ChatRef("telegram", "42"))
        assert voted.arxiv_id == "2601.00001" and vote == -1
        await store.save_summaries("key", [Summary("2601.00001", "zh", "摘要", "llm"),
                                           Summary("2601.00001", "en", "excerpt", "excerpt")], NOW)
        assert await store.get_summaries("key", "zh", ["2601.00001"]) == {
            "2601.00001": Summary("2601.00001", "zh", "摘要", "llm")}
        assert await store.get_summaries("key", "en", ["2601.00001"]) == {}, "excerpts are never stored"
        await store.add_usage(DAY, "interests", tokens_in=30, tokens_out=5, requests=1, now=NOW)
        await store.add_usage(DAY, "interests", tokens_in=10, tokens_out=5, requests=1, now=NOW)
        assert await store.usage_for_day(DAY) == {"interests": (40, 10, 2)}
        assert await store.tokens_spent(DAY) == 120 + 50


async def test_concurrent_writers_share_one_store(db: str) -> None:
    async with Store.open(db) as store:
        papers = [paper(i) for i in range(30)]
        await store.save_papers(papers, NOW)

        async def write(k: int) -> None:
            await store.save_scores(f"key{k}", [score(p, "efficient-llm", 7.0) for p in papers], NOW)

        await asyncio.gather(*(write(k) for k in range(100)))
        assert len(await store.get_scores("key99", [p.arxiv_id for p in papers])) == 30


async def test_queries_over_more_ids_than_one_chunk_see_every_row_once(db: str) -> None:
    from core.models import Summary

    papers = [paper(i) for i in range(1, 2 * CHUNK + 2)]  # three chunks: CHUNK, CHUNK, 1
    ids = [p.arxiv_id for p in papers]
    asked = [*ids, *ids[:10], "2601.99999"]  # repeated ids and one never stored
    async with Store.open(db) as store:
        assert len(await store.save_papers(papers, NOW)) == len(papers)
        await store.save_scores("k", [score(p, "efficient-llm", 7.0) for p in papers], NOW)
        await store.save_summaries("s", [Summary(i, "en", f"about {i}", "llm") for i in ids], NOW)
        statements: list[str] = []

        def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        event.listen(store._engine.sync_engine, "before_cursor_execute", seen)
        assert await store.stored_types(asked) == dict.fromkeys(ids, "new")
        assert await store.known_ids(asked) == dict.fromkeys(ids, DAY)
        got = await store.get_scores("k", asked)
        assert sorted(got) == ids and got[ids[-1]] == score(papers[-1], "efficient-llm", 7.0)
        summaries = await store.get_summaries("s", "en", asked)
        assert sorted(summaries) == ids and summaries[ids[CHUNK]].text == f"about {ids[CHUNK]}"
        event.remove(store._engine.sync_engine, "before_cursor_execute", seen)
        assert len(statements) == 4 * 3, "each query runs once per chunk of distinct ids"
        assert await store.get_scores("k", []) == {}


async def test_storing_papers_writes_what_the_listing_plan_says(db: str) -> None:
    looked_up = replace(paper(7, day=date(2026, 1, 15)), announce_type=LOOKUP, version=3)
    async with Store.open(db) as store:
        assert await store.save_papers([looked_up], NOW) == [looked_up]
        assert await store.stored_types([looked_up.arxiv_id, "2601.99999"]) == {looked_up.arxiv_id: LOOKUP}
        assert await store.save_papers([looked_up], NOW) == [], "a second lookup changes nothing"
        listed, fresh = paper(7, day=DAY), paper(8, day=DAY)
        assert await store.save_papers([listed, fresh, fresh], NOW) == [fresh, listed]
        stored = await store.get_paper(listed.arxiv_id)
        assert stored == replace(listed, version=3), "the listing's day and type, the higher version"
        assert await store.count_papers(DAY) == 2 and await store.count_papers() == 2
        assert [p.arxiv_id for p in await store.search("number 8")] == [fresh.arxiv_id]


def test_all_sql_lives_in_the_store() -> None:
    import re

    from core.config import PROJECT_ROOT

    sql = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE (TABLE|INDEX)|PRAGMA)\b")
    store = PROJECT_ROOT / "core" / "store"
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for folder in ("core", "bot", "bench")
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
        if store not in path.parents and sql.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert sql.search((store / "papers.py").read_text(encoding="utf-8")), "the pattern finds SQL where it is"


def test_stores_opened_at_once_on_a_new_database_create_it_once(db: str) -> None:
    # Two processes starting together (a cron `run` and `serve`) each open the new database; the second must
    # see the first one's tables, not create them again ("already exists").
    import subprocess
    import sys

    code = ("import asyncio, sys\nfrom core.store import Store\n"
            "async def main():\n    async with Store.open(sys.argv[1]):\n        pass\nasyncio.run(main())\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, db], stderr=subprocess.PIPE) for _ in range(4)]
    results = [p.communicate() for p in procs]  # all four started before the first is waited for
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err.decode() for _, err in results]
    assert asyncio.run(inspect_store(db))[0] == "ok"


SEARCHES = ("diffusion", "large language models", "reinforcement learning", "KV cache", "graph neural network",
            "vision transformer", "fine-tuning", "multimodal reasoning", "benchmark for agents",
            "attention is all you need", "a survey of the agents", "what do the models learn")


async def test_search_finds_the_same_papers_on_both_backends_over_the_sample_days(tmp_path: Path, pg_url: str) -> None:
    from core.config import PROJECT_ROOT
    from core.fetch.jsonl import load_papers

    papers = load_papers(PROJECT_ROOT / "data" / "arxiv")  # the four sample days, 505 papers
    found: list[list[set[str]]] = []
    for target in (str(tmp_path / "db.sqlite"), pg_url):
        async with Store.open(target) as store:
            await store.save_papers(papers, NOW)
            found.append([{p.arxiv_id for p in await store.search(q, limit=1000)} for q in SEARCHES])
            assert len(await store.search("large language models")) == 10, "the default limit"
    fts5, tsvector = found
    assert fts5 == tsvector, "the same papers match; only their order may differ (docs/search-ranking.md)"
    assert all(fts5) and sum(map(len, fts5)) > 300


async def test_a_query_of_common_words_alone_finds_nothing_on_either_backend(db: str) -> None:
    async with Store.open(db) as store:
        await store.save_papers([paper(1, "The art of what we do and why")], NOW)
        assert await store.search("the of and") == [] and await store.search("What we do") == []
        assert [p.arxiv_id for p in await store.search("the art")] == ["2601.00001"]


def test_postgres_search_terms_read_a_word_of_parts_both_ways() -> None:
    assert ts_terms('fine-tuning "KV" OR (x') == [('"fine-tuning"', '"fine tuning"'), ('"KV"',), ('"x"',)]
    assert ts_terms("Author 3-1") == [('"Author"',), ('"3-1"', '"3 1"')]
    assert ts_terms(" - ") == []


# -- named locks between processes (core/store/advisory.py) -------------------------------------------------


async def test_a_named_lock_is_held_by_one_store_at_a_time(db: str) -> None:
    async with Store.open(db) as one, Store.open(db) as two:
        first, second = one.named_lock("leader"), two.named_lock("leader")
        assert await first.try_acquire() and first.held and await first.still_held()
        assert not await second.try_acquire() and not second.held
        assert not await second.acquire(timeout=0.3)
        assert await two.named_lock("another").try_acquire(), "another name is another lock"
        await first.release()
        assert not first.held and not await first.still_held()
        assert await second.acquire(timeout=5) and await second.still_held()
        await second.release()


async def test_a_postgres_lock_is_freed_when_its_connection_dies(pg_server: PgServer, pg_url: str) -> None:
    async with Store.open(pg_url) as one, Store.open(pg_url) as two:
        holder, waiter = one.named_lock("leader"), two.named_lock("leader")
        assert await holder.try_acquire()
        assert not await waiter.try_acquire()
        pg_server.psql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'")
        assert not await holder.still_held() and not holder.held, "the holder learns it lost the lock"
        assert await waiter.acquire(timeout=10)
        await waiter.release()
        await holder.release()  # harmless after the loss


def test_a_postgres_lock_is_freed_when_its_process_is_killed(pg_url: str) -> None:
    import signal
    import subprocess
    import sys

    code = ("import asyncio, sys\nfrom core.store import Store\n"
            "async def main():\n    async with Store.open(sys.argv[1]) as store:\n"
            "        assert await store.named_lock('leader').try_acquire()\n"
            "        print('held', flush=True)\n        await asyncio.sleep(600)\nasyncio.run(main())\n")
    proc = subprocess.Popen([sys.executable, "-c", code, pg_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"

        async def other_store() -> tuple[bool, bool]:
            async with Store.open(pg_url) as store:
                lock = store.named_lock("leader")
                refused = not await lock.try_acquire()
                proc.send_signal(signal.SIGKILL)
                taken = await lock.acquire(timeout=30)
                await lock.release()
                return refused, taken

        assert asyncio.run(other_store()) == (True, True)
    finally:
        proc.kill()
        proc.communicate()


async def test_an_in_memory_store_locks_within_the_process() -> None:
    async with Store.open(":memory:") as store:
        first, second = store.named_lock("leader"), store.named_lock("leader")
        assert await first.try_acquire() and not await second.try_acquire()
        await first.release()
        assert await second.try_acquire()
        await second.release()


async def test_an_sqlite_store_waits_for_locks_uses_wal_and_checks_foreign_keys(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "db.sqlite") as store:
        pragmas = {name: (await store._one(f"PRAGMA {name}") or [None])[0]
                   for name in ("busy_timeout", "journal_mode", "synchronous", "foreign_keys")}
        assert pragmas == {"busy_timeout": 5000, "journal_mode": "wal", "synchronous": 1, "foreign_keys": 1}


async def test_a_postgres_password_never_reaches_an_error_or_its_traceback(pg_server: PgServer) -> None:
    import traceback

    from core.config import Settings

    secret = "Very-s3cret-pw"
    unreachable = pg_server.url("nowhere", password=secret).replace(f":{pg_server.port}/", ":9/")
    missing = pg_server.url("no_such_database", password=secret)
    for url in (unreachable, missing):
        with pytest.raises(StoreError) as caught:
            async with Store.open(url):
                pass
        text = "".join(traceback.format_exception(caught.value))
        assert secret not in text and "postgres:***@127.0.0.1" in str(caught.value), text
    url = pg_server.create_database().replace("postgres@", f"postgres:{secret}@")
    settings = Settings.from_env({"DATABASE_URL": url})
    assert secret not in repr(settings)
    async with Store.open_settings(settings) as store:
        assert secret not in store.where and store.where.startswith("postgresql://postgres:***@127.0.0.1:")


async def test_a_paper_stored_meanwhile_by_another_postgres_instance_is_no_error(pg_url: str) -> None:
    async with Store.open(pg_url) as one, Store.open(pg_url) as two:
        p = paper(1)
        assert await one.save_papers([p], NOW) == [p]

        async def nothing_stored(ids: object) -> dict[str, str]:
            return {}  # as `two` read it just before `one` wrote

        two.stored_types = nothing_stored  # type: ignore[method-assign]
        await two.save_papers([p], NOW)
        assert await two.count_papers() == 1 and [h.arxiv_id for h in await two.search("number 1")] == [p.arxiv_id]


def test_database_url_must_name_postgresql_and_is_never_echoed() -> None:
    from core.config import Settings
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="DATABASE_URL: must be a postgresql://") as caught:
        Settings.from_env({"DATABASE_URL": "mysql://user:Hidden-pw@db:3306/x"})
    assert "Hidden-pw" not in str(caught.value)
    assert to_url("postgresql://u:p@db/x").drivername == "postgresql+asyncpg"
    assert to_url("postgres://u:p@db/x").drivername == "postgresql+asyncpg"
    assert describe(to_url("postgresql://u:Hidden-pw@db:5433/x")) == "postgresql://u:***@db:5433/x"
    assert describe(to_url("data/x.db")) == "data/x.db"
