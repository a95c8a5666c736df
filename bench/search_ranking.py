"""Benchmark (not a test): how `/search` ranks on SQLite (FTS5, bm25) and PostgreSQL (tsvector, ts_rank_cd).

Stores the four sample days of data/arxiv/ (505 papers) in an SQLite file and in a PostgreSQL database
(a throwaway server from tests/pgserver.py unless --database-url names an empty database), runs each
query on both, and prints per query: how many papers match on each (every word is required on both), the
overlap of the top 10, and whether the first hit is the same. The docs quote its output
(docs/search-ranking.md).

Run: `.venv/bin/python bench/search_ranking.py` (about ten seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.fetch.jsonl import load_papers  # noqa: E402
from core.store import Store  # noqa: E402

QUERIES = ("diffusion", "large language models", "reinforcement learning", "KV cache", "graph neural network",
           "vision transformer", "fine-tuning", "multimodal reasoning", "benchmark for agents")
NOW = datetime(2025, 12, 22, tzinfo=UTC)
ALL = 1000  # above the sample's 505 papers: every match


async def _results(target: str, queries: tuple[str, ...], source: Path) -> dict[str, tuple[list[str], list[str]]]:
    """query -> (top 10 ids, every matching id) on the database at `target`, loaded with `source`'s papers."""
    async with Store.open(target) as store:
        await store.save_papers(load_papers(source), NOW)
        found = {}
        for query in queries:
            top = [p.arxiv_id for p in await store.search(query, limit=10)]
            every = [p.arxiv_id for p in await store.search(query, limit=ALL)]
            found[query] = (top, every)
        return found


async def compare(sqlite_path: str, pg_url: str, queries: tuple[str, ...] = QUERIES,
                  source: Path = ROOT / "data" / "arxiv") -> list[dict[str, object]]:
    """One row per query: matches on each backend, shared matches, top-10 overlap, same first hit."""
    lite, pg = await _results(sqlite_path, queries, source), await _results(pg_url, queries, source)
    rows: list[dict[str, object]] = []
    for query in queries:
        (lite_top, lite_all), (pg_top, pg_all) = lite[query], pg[query]
        rows.append({"query": query, "fts5": len(lite_all), "tsvector": len(pg_all),
                     "both": len(set(lite_all) & set(pg_all)), "top10_overlap": len(set(lite_top) & set(pg_top)),
                     "top10": min(10, len(lite_top), len(pg_top)),
                     "same_first": bool(lite_top and pg_top and lite_top[0] == pg_top[0])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a throwaway server)")
    args = parser.parse_args()
    days = sorted((ROOT / "data" / "arxiv").glob("*.jsonl"))
    with ExitStack() as stack:
        url = args.database_url
        server = None
        if not url:
            from tests.pgserver import PgServer

            server = stack.enter_context(PgServer.start())
            url = server.create_database()
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        rows = asyncio.run(compare(str(Path(folder) / "search.db"), url))
        per_day = []
        if server is not None:  # one fresh database per day (a given --database-url holds the four days)
            for day in days:
                day_rows = asyncio.run(compare(str(Path(folder) / f"{day.stem}.db"), server.create_database(),
                                               source=day))
                per_day.append((day.stem, day_rows))
    print(f"{'query':<26} {'FTS5':>5} {'tsvector':>8} {'both':>5} {'top-10 overlap':>15} {'same #1':>8}")
    for row in rows:
        print(f"{row['query']:<26} {row['fts5']:>5} {row['tsvector']:>8} {row['both']:>5}"
              f" {row['top10_overlap']:>8} of {row['top10']:<4} {'yes' if row['same_first'] else 'no':>8}")
    overlap = sum(int(r["top10_overlap"]) for r in rows) / max(1, sum(int(r["top10"]) for r in rows))  # type: ignore[call-overload]
    print(f"top-10 overlap over all queries: {overlap:.0%}")
    if per_day:
        print(f"\neach sample day alone: {'day':<10} {'queries with hits':>17} {'same papers':>11}"
              f" {'top-10 overlap':>14} {'same #1':>8}")
        for day_name, day_rows in per_day:
            hits = [r for r in day_rows if r["top10"]]
            same = sum(1 for r in hits if r["fts5"] == r["tsvector"] == r["both"])
            shared = sum(int(r["top10_overlap"]) for r in hits)  # type: ignore[call-overload]
            shown = sum(int(r["top10"]) for r in hits)  # type: ignore[call-overload]
            print(f"{'':<22} {day_name:<10} {len(hits):>17} {same:>7} of {len(hits):<2}"
                  f" {shared:>6} of {shown:<4} {sum(1 for r in hits if r['same_first']):>4} of {len(hits)}")


if __name__ == "__main__":
    main()
