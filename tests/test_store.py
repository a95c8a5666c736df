"""Store round trips on real SQLite in tmp_path."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.errors import StoreError
from core.models import ChatRef, Run, Subscription
from core.runs import summarise_runs
from core.store import LOOKUP, SCHEMA_VERSION, Store, fts_query
from core.store.base import CHUNK
from tests.samples import DAY, FIELDS, paper, score

NOW = datetime(2026, 1, 19, 4, 30, tzinfo=UTC)


async def test_papers_round_trip_and_dedupe_by_id(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "db.sqlite") as store:
        p = paper(1, "KV cache <quantization> & more", authors=9)
        assert await store.save_papers([p, p], NOW) == [p]
        assert await store.save_papers([p], NOW) == []
        assert await store.get_paper(p.arxiv_id) == p
        assert await store.papers_for_day(DAY) == [p]
        assert await store.known_ids([p.arxiv_id, "2601.99999"]) == {p.arxiv_id: DAY}


async def test_data_survives_reopening_and_schema_version_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "db.sqlite"
    async with Store.open(path) as store:
        await store.save_papers([paper(1)], NOW)
    async with Store.open(path) as store:
        assert await store.count_papers() == 1
    assert _user_version(path) == SCHEMA_VERSION


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        async with Store.open(path):
            pass


async def test_full_text_search_ranks_title_matches_first(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "db.sqlite") as store:
        a = paper(1, "Speculative decoding for fast inference")
        b = paper(2, "Graph learning", abstract="We mention speculative decoding once in passing.")
        c = paper(3, "Unrelated work on robots")
        await store.save_papers([c, b, a], NOW)
        hits = await store.search("speculative decoding")
        assert [h.arxiv_id for h in hits] == [a.arxiv_id, b.arxiv_id]
        assert await store.search('"unbalanced (quote OR') == []
        assert [h.arxiv_id for h in await store.search("Author 3-1")] == [c.arxiv_id]


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('kv "cache" OR (x') == '"kv" "cache" "OR" "x"'
    assert fts_query("  ") == ""


async def test_scores_round_trip_per_scorer_key(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "db.sqlite") as store:
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


async def test_a_days_runs_add_up_tokens_and_keep_the_scoring_runs_time(tmp_path: Path) -> None:
    later = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
    async with Store.open(tmp_path / "db.sqlite") as store:
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


async def test_runs_of_day_are_the_finished_runs_oldest_first(tmp_path: Path) -> None:
    later = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
    async with Store.open(tmp_path / "db.sqlite") as store:
        first = await store.start_run(DAY, "k", "m", NOW)
        await store.finish_run(first, status="done", now=later, papers_read=10, scored=10, note="n")
        await store.start_run(DAY, "k", "m", later)  # still running: not one of the day's runs yet
        other_day = await store.start_run(date(2026, 1, 20), "k", "m", later)
        await store.finish_run(other_day, status="no-announcement", now=later)
        assert await store.runs_of_day(DAY) == [
            Run(day=DAY, papers_read=10, tokens_in=0, tokens_out=0, model="m", scorer_key="k", started_at=NOW,
                finished_at=later, status="done", note="n", scored=10)]
        assert await store.runs_of_day(date(2026, 1, 18)) == []


async def test_fields_are_saved_and_updated(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "db.sqlite") as store:
        await store.save_fields(FIELDS, NOW)
        await store.save_fields(FIELDS, NOW)
        assert await store.field_slugs() == sorted(f.slug for f in FIELDS)


async def test_subscriptions_votes_and_migration_to_a_new_chat_id(tmp_path: Path) -> None:
    chat, moved = ChatRef("telegram", "-100"), ChatRef("telegram", "-100200")
    async with Store.open(tmp_path / "db.sqlite") as store:
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


async def test_a_looked_up_paper_joins_its_listing_day_when_a_listing_names_it(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "db.sqlite") as store:
        looked_up = paper(7, day=date(2026, 1, 15))
        await store.save_papers([looked_up.__class__(**{**_fields(looked_up), "announce_type": LOOKUP})], NOW)
        assert await store.known_ids([looked_up.arxiv_id]) == {}
        assert await store.papers_for_day(date(2026, 1, 15)) == []
        listed = paper(7, day=DAY)
        assert await store.save_papers([listed], NOW) == [listed]
        assert await store.known_ids([listed.arxiv_id]) == {listed.arxiv_id: DAY}
        assert [p.arxiv_id for p in await store.papers_for_day(DAY)] == [listed.arxiv_id]


def _user_version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("PRAGMA user_version").fetchone()[0])
    finally:
        con.close()


def _fields(p: object) -> dict[str, object]:
    return {name: getattr(p, name) for name in p.__slots__}  # type: ignore[attr-defined]


async def test_a_version_1_database_migrates_and_keeps_its_data(tmp_path: Path) -> None:
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
    async with Store.open(path) as store:
        assert _user_version(path) == SCHEMA_VERSION == len(MIGRATIONS) == 10
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


async def test_concurrent_writers_share_one_store(tmp_path: Path) -> None:
    import asyncio

    async with Store.open(tmp_path / "db.sqlite") as store:
        papers = [paper(i) for i in range(30)]
        await store.save_papers(papers, NOW)

        async def write(k: int) -> None:
            await store.save_scores(f"key{k}", [score(p, "efficient-llm", 7.0) for p in papers], NOW)

        await asyncio.gather(*(write(k) for k in range(100)))
        assert len(await store.get_scores("key99", [p.arxiv_id for p in papers])) == 30


async def test_queries_over_more_ids_than_one_chunk_see_every_row_once(tmp_path: Path) -> None:
    from core.models import Summary

    papers = [paper(i) for i in range(1, 2 * CHUNK + 2)]  # three chunks: CHUNK, CHUNK, 1
    ids = [p.arxiv_id for p in papers]
    asked = [*ids, *ids[:10], "2601.99999"]  # repeated ids and one never stored
    async with Store.open(tmp_path / "db.sqlite") as store:
        assert len(await store.save_papers(papers, NOW)) == len(papers)
        await store.save_scores("k", [score(p, "efficient-llm", 7.0) for p in papers], NOW)
        await store.save_summaries("s", [Summary(i, "en", f"about {i}", "llm") for i in ids], NOW)
        statements: list[str] = []
        await store._db.set_trace_callback(statements.append)
        assert await store.stored_types(asked) == dict.fromkeys(ids, "new")
        assert await store.known_ids(asked) == dict.fromkeys(ids, DAY)
        got = await store.get_scores("k", asked)
        assert sorted(got) == ids and got[ids[-1]] == score(papers[-1], "efficient-llm", 7.0)
        summaries = await store.get_summaries("s", "en", asked)
        assert sorted(summaries) == ids and summaries[ids[CHUNK]].text == f"about {ids[CHUNK]}"
        await store._db.set_trace_callback(None)
        assert len(statements) == 4 * 3, "each query runs once per chunk of distinct ids"
        assert await store.get_scores("k", []) == {}


async def test_storing_papers_writes_what_the_listing_plan_says(tmp_path: Path) -> None:
    looked_up = replace(paper(7, day=date(2026, 1, 15)), announce_type=LOOKUP, version=3)
    async with Store.open(tmp_path / "db.sqlite") as store:
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


def test_stores_opened_at_once_on_a_new_file_migrate_it_once(tmp_path: Path) -> None:
    # Two processes starting together (a cron `run` and `serve`) each open the file; the second must see the
    # first one's migrations, not run them again ("duplicate column name").
    import subprocess
    import sys

    path = tmp_path / "db.sqlite"
    code = ("import asyncio, sys\nfrom core.store import Store\n"
            "async def main():\n    async with Store.open(sys.argv[1]):\n        pass\nasyncio.run(main())\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE) for _ in range(4)]
    results = [p.communicate() for p in procs]  # all four started before the first is waited for
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err.decode() for _, err in results]
    assert _user_version(path) == SCHEMA_VERSION
