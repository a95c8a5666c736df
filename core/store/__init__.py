"""All SQL lives here. Callers get models, never rows or cursors.

One SQLite file (aiosqlite) holds papers (with an FTS5 index over title, abstract and authors),
field definitions, scores keyed by (paper, scorer key), runs, subscriptions, votes, the delivery
ledger, per-language paper summaries and LLM usage outside the field run. The schema version is
`PRAGMA user_version`; MIGRATIONS[i] takes version i to i+1.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from core.errors import StoreError
from core.models import ChatRef, Delivery, Field, Paper, Run, Score, Subscription, Summary
from core.store.judgements import JUDGEMENTS, JudgementQueries

SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    arxiv_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    authors TEXT NOT NULL,          -- JSON list
    categories TEXT NOT NULL,       -- JSON list
    primary_category TEXT NOT NULL,
    published TEXT NOT NULL,        -- listing day, ISO date
    announce_type TEXT NOT NULL DEFAULT 'new',
    first_seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_by_day ON papers(published);

CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5(
    arxiv_id UNINDEXED, title, abstract, authors, tokenize = 'porter unicode61'
);

CREATE TABLE IF NOT EXISTS fields (
    slug TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_zh TEXT NOT NULL,
    description_en TEXT NOT NULL,
    keywords TEXT NOT NULL,         -- JSON list
    ignore TEXT NOT NULL,           -- JSON list
    fingerprint TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS scores (
    arxiv_id TEXT NOT NULL REFERENCES papers(arxiv_id),
    scorer_key TEXT NOT NULL,       -- model + prompt version + field fingerprints
    field_slug TEXT,
    value REAL,
    reason TEXT NOT NULL,
    stage TEXT NOT NULL,
    field_scores TEXT NOT NULL,     -- JSON object slug -> value
    created_at TEXT NOT NULL,
    PRIMARY KEY (arxiv_id, scorer_key)
);

CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    scorer_key TEXT NOT NULL,
    model TEXT NOT NULL,
    papers_read INTEGER NOT NULL DEFAULT 0,
    scored INTEGER NOT NULL DEFAULT 0,   -- papers scored anew (not from the cache)
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_day ON runs(day);

CREATE TABLE IF NOT EXISTS subscriptions (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    fields TEXT NOT NULL DEFAULT '[]',
    min_score REAL NOT NULL DEFAULT 7,
    lang TEXT NOT NULL DEFAULT 'zh',
    digest_time TEXT NOT NULL DEFAULT '09:00',
    timezone TEXT NOT NULL DEFAULT 'Asia/Shanghai',
    interests TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

CREATE TABLE IF NOT EXISTS votes (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    arxiv_id TEXT NOT NULL,
    vote INTEGER NOT NULL,          -- +1 or -1
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, arxiv_id)
);

CREATE TABLE IF NOT EXISTS deliveries (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    day TEXT NOT NULL,
    state TEXT NOT NULL,            -- pending | sent | failed | skipped-empty
    parts_sent INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, day)
);
"""

# Version 2: per-language paper summaries (the one LLM reading of a paper that every interest profile
# and every chat language reuses), and LLM usage outside the daily field run (summaries, interest
# profiles), so the daily token budget and `stats` see every token.
SUMMARIES_AND_USAGE = """
CREATE TABLE IF NOT EXISTS summaries (
    arxiv_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    summary_key TEXT NOT NULL,      -- model + prompt version + abstract characters read
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (arxiv_id, lang, summary_key)
);

CREATE TABLE IF NOT EXISTS llm_usage (
    day TEXT NOT NULL,
    purpose TEXT NOT NULL,          -- "summaries" | "interests"
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (day, purpose)
);
"""

# MIGRATIONS[i] upgrades a database at user_version i to i + 1. Version 0 is an empty file.
MIGRATIONS: tuple[str, ...] = (SCHEMA, SUMMARIES_AND_USAGE, JUDGEMENTS)
SCHEMA_VERSION = len(MIGRATIONS)

# announce_type of a paper stored by a one-off lookup (`paper ID`), not by a listing: it belongs to
# no listing day until a listing names it.
LOOKUP = "lookup"

_FTS_WORD = re.compile(r"[\w.\-]+", re.UNICODE)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def fts_query(words: str) -> str:
    """Turn free words into a safe FTS5 query: every word quoted, all required (pure)."""
    terms = [t.replace('"', "") for t in _FTS_WORD.findall(words)]
    return " ".join(f'"{t}"' for t in terms if t)


class Store(JudgementQueries):
    """An open database. Use `async with Store.open(path) as store:`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path | str) -> AsyncIterator[Store]:
        """Open (creating and migrating as needed) the database at `path`; ":memory:" works too."""
        if str(path) != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {path}: {exc}") from exc
        try:
            db = await aiosqlite.connect(str(path))
        except Exception as exc:  # aiosqlite surfaces sqlite3 errors from its worker thread
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        try:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA journal_mode=WAL")
            # Under WAL, NORMAL syncs at checkpoints, not at every commit: a commit survives the process
            # being killed, and only a power loss can undo the last few (a ledger row forgotten there
            # means a part sent twice, never one lost).
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            await db.execute("PRAGMA foreign_keys=ON")
            store = cls(db)
            await store._migrate(str(path))
            yield store
        finally:
            await db.close()

    async def _migrate(self, where: str) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{where} has schema version {version}, newer than this program's {SCHEMA_VERSION}:"
                " upgrade arxiv-digest"
            )
        for target in range(version, SCHEMA_VERSION):
            await self._db.executescript(MIGRATIONS[target])
            await self._db.execute(f"PRAGMA user_version = {target + 1}")
            await self._db.commit()

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement over many rows and close its cursor in aiosqlite's thread.

        A cursor left for the garbage collector is finalised in the event loop's thread, where it races
        the worker thread as soon as two coroutines write at once (sqlite3: "bad parameter or other API
        misuse"); interest profiles scored concurrently for delivery do exactly that.
        """
        async with self._db.executemany(sql, rows):
            pass

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # -- papers ---------------------------------------------------------------------------------

    async def save_papers(self, papers: Iterable[Paper], now: datetime) -> list[Paper]:
        """Insert papers not stored yet (by id without version); return the ones that were new."""
        papers = list(papers)
        stored = await self._stored_types([p.arxiv_id for p in papers])
        # A paper first stored by a one-off lookup takes its listing day when a listing names it.
        promote = [p for p in papers if stored.get(p.arxiv_id) == LOOKUP and p.announce_type != LOOKUP]
        await self._executemany(
            "UPDATE papers SET published = ?, announce_type = ?, version = MAX(version, ?) WHERE arxiv_id = ?",
            [(p.published.isoformat(), p.announce_type, p.version, p.arxiv_id) for p in promote],
        )
        new = [p for p in papers if p.arxiv_id not in stored]
        seen: set[str] = set()
        unique = []
        for p in new:
            if p.arxiv_id not in seen:
                seen.add(p.arxiv_id)
                unique.append(p)
        await self._executemany(
            "INSERT INTO papers (arxiv_id, version, title, abstract, authors, categories, primary_category,"
            " published, announce_type, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (p.arxiv_id, p.version, p.title, p.abstract, json.dumps(p.authors, ensure_ascii=False),
                 json.dumps(p.categories), p.primary_category, p.published.isoformat(), p.announce_type, _iso(now))
                for p in unique
            ],
        )
        await self._executemany(
            "INSERT INTO papers_fts (arxiv_id, title, abstract, authors) VALUES (?, ?, ?, ?)",
            [(p.arxiv_id, p.title, p.abstract, " ".join(p.authors)) for p in unique],
        )
        await self._db.commit()
        return unique + promote

    async def _stored_types(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(
                f"SELECT arxiv_id, announce_type FROM papers WHERE arxiv_id IN ({marks})", chunk
            ) as cur:
                async for row in cur:
                    found[row["arxiv_id"]] = row["announce_type"]
        return found

    async def known_ids(self, ids: Sequence[str]) -> dict[str, date]:
        """Map each id among `ids` that a listing already announced to its listing day."""
        found: dict[str, date] = {}
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(
                f"SELECT arxiv_id, published FROM papers WHERE announce_type != '{LOOKUP}' AND arxiv_id IN ({marks})",
                chunk,
            ) as cur:
                async for row in cur:
                    found[row["arxiv_id"]] = date.fromisoformat(row["published"])
        return found

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        """Return one stored paper, or None."""
        papers = await self.get_papers([arxiv_id])
        return papers.get(arxiv_id)

    async def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        """Return the stored papers among `ids`, keyed by id."""
        out: dict[str, Paper] = {}
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(f"SELECT * FROM papers WHERE arxiv_id IN ({marks})", chunk) as cur:
                async for row in cur:
                    out[row["arxiv_id"]] = _paper(row)
        return out

    async def papers_for_day(self, day: date) -> list[Paper]:
        """Every paper stored under listing day `day`, by id."""
        async with self._db.execute(
            f"SELECT * FROM papers WHERE published = ? AND announce_type != '{LOOKUP}' ORDER BY arxiv_id",
            (day.isoformat(),),
        ) as cur:
            return [_paper(row) async for row in cur]

    async def count_papers(self, day: date | None = None) -> int:
        sql = f"SELECT COUNT(*) FROM papers WHERE announce_type != '{LOOKUP}'"
        args: tuple[str, ...] = ()
        if day is not None:
            sql, args = sql + " AND published = ?", (day.isoformat(),)
        async with self._db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def latest_day(self) -> date | None:
        """The most recent listing day with stored papers."""
        async with self._db.execute(f"SELECT MAX(published) FROM papers WHERE announce_type != '{LOOKUP}'") as cur:
            row = await cur.fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    async def search(self, words: str, limit: int = 10) -> list[Paper]:
        """Full-text search over title, abstract and authors; best match first."""
        query = fts_query(words)
        if not query:
            return []
        async with self._db.execute(
            "SELECT p.* FROM papers_fts f JOIN papers p ON p.arxiv_id = f.arxiv_id"
            " WHERE papers_fts MATCH ? ORDER BY bm25(papers_fts, 0, 10.0, 3.0, 2.0), p.published DESC LIMIT ?",
            (query, limit),
        ) as cur:
            return [_paper(row) async for row in cur]

    # -- fields ---------------------------------------------------------------------------------

    async def save_fields(self, fields: Sequence[Field], now: datetime) -> None:
        """Upsert the current field definitions (kept for reference by scores and subscriptions)."""
        await self._executemany(
            "INSERT INTO fields (slug, name_zh, name_en, description_zh, description_en, keywords, ignore,"
            " fingerprint, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(slug) DO UPDATE SET"
            " name_zh=excluded.name_zh, name_en=excluded.name_en, description_zh=excluded.description_zh,"
            " description_en=excluded.description_en, keywords=excluded.keywords, ignore=excluded.ignore,"
            " fingerprint=excluded.fingerprint, updated_at=excluded.updated_at"
            " WHERE fields.fingerprint != excluded.fingerprint",
            [
                (f.slug, f.name_zh, f.name_en, f.description_zh, f.description_en,
                 json.dumps(f.keywords, ensure_ascii=False), json.dumps(f.ignore, ensure_ascii=False),
                 f.fingerprint, _iso(now))
                for f in fields
            ],
        )
        await self._db.commit()

    async def field_slugs(self) -> list[str]:
        async with self._db.execute("SELECT slug FROM fields ORDER BY slug") as cur:
            return [row["slug"] async for row in cur]

    # -- scores ---------------------------------------------------------------------------------

    async def save_scores(self, scorer_key: str, scores: Iterable[Score], now: datetime) -> None:
        """Store scores under `scorer_key`, replacing earlier ones for the same papers."""
        await self._executemany(
            "INSERT OR REPLACE INTO scores (arxiv_id, scorer_key, field_slug, value, reason, stage, field_scores,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (s.arxiv_id, scorer_key, s.field_slug, s.value, s.reason, s.stage,
                 json.dumps(dict(s.field_scores), ensure_ascii=False), _iso(now))
                for s in scores
            ],
        )
        await self._db.commit()

    async def get_scores(self, scorer_key: str, ids: Sequence[str]) -> dict[str, Score]:
        """Return stored scores under `scorer_key` for the papers among `ids`."""
        out: dict[str, Score] = {}
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(
                f"SELECT * FROM scores WHERE scorer_key = ? AND arxiv_id IN ({marks})", (scorer_key, *chunk)
            ) as cur:
                async for row in cur:
                    out[row["arxiv_id"]] = _score(row)
        return out

    async def scores_for_paper(self, arxiv_id: str) -> dict[str, Score]:
        """Every stored score of one paper, keyed by scorer key, newest first."""
        async with self._db.execute(
            "SELECT * FROM scores WHERE arxiv_id = ? ORDER BY created_at DESC", (arxiv_id,)
        ) as cur:
            return {row["scorer_key"]: _score(row) async for row in cur}

    async def scored_papers(self, day: date, scorer_key: str) -> list[tuple[Paper, Score]]:
        """The papers of `day` with their score under `scorer_key` (unscored papers are left out)."""
        async with self._db.execute(
            "SELECT p.*, s.field_slug, s.value, s.reason, s.stage, s.field_scores FROM papers p"
            " JOIN scores s ON s.arxiv_id = p.arxiv_id AND s.scorer_key = ?"
            f" WHERE p.published = ? AND p.announce_type != '{LOOKUP}' ORDER BY p.arxiv_id",
            (scorer_key, day.isoformat()),
        ) as cur:
            return [(_paper(row), _score(row)) async for row in cur]

    # -- runs -----------------------------------------------------------------------------------

    async def start_run(self, day: date, scorer_key: str, model: str, now: datetime) -> int:
        """Record that a run for `day` started; return its id."""
        async with self._db.execute(
            "INSERT INTO runs (day, scorer_key, model, started_at, status) VALUES (?, ?, ?, ?, 'running')",
            (day.isoformat(), scorer_key, model, _iso(now)),
        ) as cur:
            run_id = cur.lastrowid
        await self._db.commit()
        assert run_id is not None
        return run_id

    async def finish_run(
        self, run_id: int, *, status: str, now: datetime, papers_read: int = 0, scored: int = 0,
        tokens_in: int = 0, tokens_out: int = 0, note: str = "",
    ) -> None:
        """Record a run's outcome."""
        await self._db.execute(
            "UPDATE runs SET status = ?, finished_at = ?, papers_read = ?, scored = ?, tokens_in = ?,"
            " tokens_out = ?, note = ? WHERE id = ?",
            (status, _iso(now), papers_read, scored, tokens_in, tokens_out, note, run_id),
        )
        await self._db.commit()

    async def day_summary(self, day: date) -> Run | None:
        """One Run standing for every run of `day`: tokens summed, times of the run that last scored."""
        async with self._db.execute(
            "SELECT * FROM runs WHERE day = ? AND status != 'running' ORDER BY id", (day.isoformat(),)
        ) as cur:
            rows = list(await cur.fetchall())
        if not rows:
            return None
        latest = rows[-1]
        # Times and notes come from the last run of the same scorer that scored anything, so a
        # re-run that found everything cached reproduces the same digest.
        same = [r for r in rows if r["scorer_key"] == latest["scorer_key"]]
        last = ([r for r in same if r["scored"] > 0] or same[:1])[-1]
        return Run(
            day=day,
            papers_read=max(r["papers_read"] for r in rows),
            tokens_in=sum(r["tokens_in"] for r in rows),
            tokens_out=sum(r["tokens_out"] for r in rows),
            model=latest["model"],
            scorer_key=latest["scorer_key"],
            started_at=_dt(last["started_at"]) or datetime.now(UTC),
            finished_at=_dt(last["finished_at"]),
            status=latest["status"],
            note=last["note"],
            scored=sum(r["scored"] for r in rows),
        )

    async def tokens_spent(self, day: date) -> int:
        """Tokens spent on `day` (for the daily budget): its runs, plus summaries and interest profiles."""
        async with self._db.execute(
            "SELECT COALESCE((SELECT SUM(tokens_in + tokens_out) FROM runs WHERE day = ?), 0)"
            " + COALESCE((SELECT SUM(tokens_in + tokens_out) FROM llm_usage WHERE day = ?), 0)",
            (day.isoformat(), day.isoformat()),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def list_runs(self, limit: int = 30) -> list[Run]:
        """The most recent runs, newest first."""
        async with self._db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)) as cur:
            return [_run(row) async for row in cur]

    # -- subscriptions and votes ------------------------------------------------------------------

    async def get_subscription(self, chat: ChatRef) -> Subscription | None:
        async with self._db.execute(
            "SELECT * FROM subscriptions WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id)
        ) as cur:
            row = await cur.fetchone()
        return _subscription(row) if row else None

    async def save_subscription(self, sub: Subscription, now: datetime) -> None:
        """Insert or update a chat's settings."""
        await self._db.execute(
            "INSERT INTO subscriptions (platform, chat_id, active, fields, min_score, lang, digest_time, timezone,"
            " interests, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(platform, chat_id) DO UPDATE SET active=excluded.active, fields=excluded.fields,"
            " min_score=excluded.min_score, lang=excluded.lang, digest_time=excluded.digest_time,"
            " timezone=excluded.timezone, interests=excluded.interests, updated_at=excluded.updated_at",
            (sub.chat.platform, sub.chat.chat_id, int(sub.active), json.dumps(list(sub.fields)), sub.min_score,
             sub.lang, sub.digest_time, sub.timezone, sub.interests, _iso(now), _iso(now)),
        )
        await self._db.commit()

    async def move_subscription(self, old: ChatRef, new: ChatRef, now: datetime) -> None:
        """Move a chat's settings, votes and deliveries to a new id (a migrated Telegram group)."""
        for table in ("subscriptions", "votes", "deliveries"):
            await self._db.execute(
                f"UPDATE OR REPLACE {table} SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                (new.chat_id, old.platform, old.chat_id),
            )
        await self._db.execute(
            "UPDATE subscriptions SET updated_at = ? WHERE platform = ? AND chat_id = ?",
            (_iso(now), new.platform, new.chat_id),
        )
        await self._db.commit()

    async def list_subscriptions(self, *, active_only: bool = True, platform: str | None = None) -> list[Subscription]:
        sql = "SELECT * FROM subscriptions WHERE 1 = 1"
        args: list[Any] = []
        if active_only:
            sql += " AND active = 1"
        if platform:
            sql += " AND platform = ?"
            args.append(platform)
        async with self._db.execute(sql + " ORDER BY platform, chat_id", args) as cur:
            return [_subscription(row) async for row in cur]

    async def subscription_langs(self, interests: str) -> list[str]:
        """The languages of the active chats whose interests text is exactly `interests`."""
        async with self._db.execute(
            "SELECT DISTINCT lang FROM subscriptions WHERE active = 1 AND interests = ? ORDER BY lang", (interests,)
        ) as cur:
            return [row["lang"] async for row in cur]

    async def save_vote(self, chat: ChatRef, arxiv_id: str, vote: int, now: datetime) -> None:
        """Store a chat's 👍 (+1) or 👎 (-1) on a paper; a new vote replaces the old one."""
        if vote not in (1, -1):
            raise ValueError("vote must be +1 or -1")
        await self._db.execute(
            "INSERT INTO votes (platform, chat_id, arxiv_id, vote, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(platform, chat_id, arxiv_id)"
            " DO UPDATE SET vote=excluded.vote, created_at=excluded.created_at",
            (chat.platform, chat.chat_id, arxiv_id, vote, _iso(now)),
        )
        await self._db.commit()

    async def get_votes(self, chat: ChatRef) -> dict[str, int]:
        """A chat's votes, keyed by arXiv id."""
        async with self._db.execute(
            "SELECT arxiv_id, vote FROM votes WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id)
        ) as cur:
            return {row["arxiv_id"]: int(row["vote"]) async for row in cur}

    async def voting_chats(self) -> frozenset[ChatRef]:
        """Every chat that has voted on at least one paper."""
        rows = await self._db.execute_fetchall("SELECT DISTINCT platform, chat_id FROM votes")
        return frozenset(ChatRef(row["platform"], row["chat_id"]) for row in rows)

    async def voted_papers(self, chat: ChatRef, limit: int = 50) -> list[tuple[Paper, int]]:
        """A chat's most recent votes on stored papers, newest first, as (paper, +1 or -1)."""
        async with self._db.execute(
            "SELECT p.*, v.vote FROM votes v JOIN papers p ON p.arxiv_id = v.arxiv_id"
            " WHERE v.platform = ? AND v.chat_id = ? ORDER BY v.created_at DESC, v.arxiv_id LIMIT ?",
            (chat.platform, chat.chat_id, limit),
        ) as cur:
            return [(_paper(row), int(row["vote"])) async for row in cur]

    # -- summaries and LLM usage outside the field run ----------------------------------------------

    async def save_summaries(self, summary_key: str, summaries: Iterable[Summary], now: datetime) -> None:
        """Store LLM summaries under `summary_key`; excerpts are never stored (they cost nothing)."""
        await self._executemany(
            "INSERT OR REPLACE INTO summaries (arxiv_id, lang, summary_key, text, created_at) VALUES (?, ?, ?, ?, ?)",
            [(s.arxiv_id, s.lang, summary_key, s.text, _iso(now)) for s in summaries if s.source == "llm"],
        )
        await self._db.commit()

    async def get_summaries(self, summary_key: str, lang: str, ids: Sequence[str]) -> dict[str, Summary]:
        """Return stored summaries in `lang` under `summary_key` for the papers among `ids`."""
        out: dict[str, Summary] = {}
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(
                f"SELECT arxiv_id, text FROM summaries WHERE summary_key = ? AND lang = ? AND arxiv_id IN ({marks})",
                (summary_key, lang, *chunk),
            ) as cur:
                async for row in cur:
                    out[row["arxiv_id"]] = Summary(row["arxiv_id"], lang, row["text"], "llm")
        return out

    async def add_usage(
        self, day: date, purpose: str, *, tokens_in: int, tokens_out: int, requests: int, now: datetime,
    ) -> None:
        """Add LLM usage for `purpose` ("summaries", "interests") to `day`'s tally."""
        if not (tokens_in or tokens_out or requests):
            return
        await self._db.execute(
            "INSERT INTO llm_usage (day, purpose, tokens_in, tokens_out, requests, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(day, purpose)"
            " DO UPDATE SET tokens_in = tokens_in + excluded.tokens_in,"
            " tokens_out = tokens_out + excluded.tokens_out, requests = requests + excluded.requests,"
            " updated_at = excluded.updated_at",
            (day.isoformat(), purpose, tokens_in, tokens_out, requests, _iso(now)),
        )
        await self._db.commit()

    async def usage_for_day(self, day: date) -> dict[str, tuple[int, int, int]]:
        """`day`'s LLM usage outside the field run: purpose -> (tokens_in, tokens_out, requests)."""
        async with self._db.execute(
            "SELECT purpose, tokens_in, tokens_out, requests FROM llm_usage WHERE day = ? ORDER BY purpose",
            (day.isoformat(),),
        ) as cur:
            return {row["purpose"]: (int(row["tokens_in"]), int(row["tokens_out"]), int(row["requests"]))
                    async for row in cur}

    # -- the delivery ledger: one row per (subscription, digest day) -------------------------------------
    # Writes are upserts that commit at once, one statement each: a delivery pass records a part as
    # soon as the platform acknowledged it, without first creating its row, so a digest costs one
    # statement and one commit per part. They run through execute_fetchall, whose cursor lives and dies
    # in aiosqlite's thread (see _executemany): a delivery pass writes from many coroutines at once.

    async def open_delivery(self, chat: ChatRef, day: date, now: datetime) -> Delivery:
        """Create the (chat, day) row as pending if it does not exist; return it as it stands."""
        rows = await self._db.execute_fetchall(
            "INSERT INTO deliveries (platform, chat_id, day, state, updated_at) VALUES (?, ?, ?, 'pending', ?)"
            " ON CONFLICT(platform, chat_id, day) DO UPDATE SET updated_at = deliveries.updated_at RETURNING *",
            (chat.platform, chat.chat_id, day.isoformat(), _iso(now)),
        )
        await self._db.commit()
        return _delivery(next(iter(rows)))

    async def get_delivery(self, chat: ChatRef, day: date) -> Delivery | None:
        async with self._db.execute(
            "SELECT * FROM deliveries WHERE platform = ? AND chat_id = ? AND day = ?",
            (chat.platform, chat.chat_id, day.isoformat()),
        ) as cur:
            row = await cur.fetchone()
        return _delivery(row) if row else None

    async def deliveries_for_day(self, day: date) -> dict[ChatRef, Delivery]:
        """Every ledger row of one digest day, keyed by chat."""
        async with self._db.execute("SELECT * FROM deliveries WHERE day = ?", (day.isoformat(),)) as cur:
            return {d.chat: d for d in [_delivery(row) async for row in cur]}

    async def mark_part_sent(
        self, chat: ChatRef, day: date, parts_sent: int, now: datetime, *, done: bool = False,
    ) -> None:
        """Record that the platform acknowledged parts [0, parts_sent); with `done`, the delivery is sent."""
        await self._db.execute_fetchall(
            "INSERT INTO deliveries (platform, chat_id, day, state, parts_sent, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(platform, chat_id, day) DO UPDATE SET"
            " state = excluded.state, parts_sent = excluded.parts_sent,"
            " attempts = deliveries.attempts + excluded.attempts,"
            " last_error = CASE WHEN excluded.state = 'sent' THEN '' ELSE deliveries.last_error END,"
            " updated_at = excluded.updated_at",
            (chat.platform, chat.chat_id, day.isoformat(), "sent" if done else "pending", parts_sent, int(done),
             _iso(now)),
        )
        await self._db.commit()

    async def finish_delivery(
        self, chat: ChatRef, day: date, state: str, now: datetime, *, error: str = "", attempt: bool = True,
    ) -> None:
        """Set a delivery's state (sent, failed, skipped-empty, pending) and count the attempt."""
        await self._db.execute_fetchall(
            "INSERT INTO deliveries (platform, chat_id, day, state, last_error, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(platform, chat_id, day) DO UPDATE SET"
            " state = excluded.state, last_error = excluded.last_error,"
            " attempts = deliveries.attempts + excluded.attempts, updated_at = excluded.updated_at",
            (chat.platform, chat.chat_id, day.isoformat(), state, error[:500], int(attempt), _iso(now)),
        )
        await self._db.commit()

    async def delivery_counts(self, day: date) -> dict[str, int]:
        """How many deliveries of `day` are in each state."""
        async with self._db.execute(
            "SELECT state, COUNT(*) AS n FROM deliveries WHERE day = ? GROUP BY state ORDER BY state",
            (day.isoformat(),),
        ) as cur:
            return {row["state"]: int(row["n"]) async for row in cur}

    async def set_active(self, chat: ChatRef, active: bool, now: datetime) -> None:
        """Activate or deactivate a chat's subscription, keeping its settings."""
        await self._db.execute_fetchall(
            "UPDATE subscriptions SET active = ?, updated_at = ? WHERE platform = ? AND chat_id = ?",
            (int(active), _iso(now), chat.platform, chat.chat_id),
        )
        await self._db.commit()


def _delivery(row: aiosqlite.Row) -> Delivery:
    return Delivery(
        chat=ChatRef(row["platform"], row["chat_id"]),
        day=date.fromisoformat(row["day"]),
        state=row["state"],
        parts_sent=int(row["parts_sent"]),
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
    )


def _paper(row: aiosqlite.Row) -> Paper:
    return Paper(
        arxiv_id=row["arxiv_id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(json.loads(row["authors"])),
        categories=tuple(json.loads(row["categories"])),
        primary_category=row["primary_category"],
        published=date.fromisoformat(row["published"]),
        version=row["version"],
        announce_type=row["announce_type"],
    )


def _score(row: aiosqlite.Row) -> Score:
    return Score(
        arxiv_id=row["arxiv_id"],
        field_slug=row["field_slug"],
        value=row["value"],
        reason=row["reason"],
        stage=row["stage"],
        field_scores=json.loads(row["field_scores"]),
    )


def _run(row: aiosqlite.Row) -> Run:
    return Run(
        day=date.fromisoformat(row["day"]),
        papers_read=row["papers_read"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        model=row["model"],
        scorer_key=row["scorer_key"],
        started_at=_dt(row["started_at"]) or datetime.now(UTC),
        finished_at=_dt(row["finished_at"]),
        status=row["status"],
        note=row["note"],
        scored=row["scored"],
    )


def _subscription(row: aiosqlite.Row) -> Subscription:
    return Subscription(
        chat=ChatRef(platform=row["platform"], chat_id=row["chat_id"]),
        active=bool(row["active"]),
        fields=tuple(json.loads(row["fields"])),
        min_score=float(row["min_score"]),
        lang=row["lang"],
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        interests=row["interests"],
    )
