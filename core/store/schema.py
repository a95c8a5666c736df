"""The database's tables and how an older file becomes the current one.

MIGRATIONS[i] is the SQL that takes a file at `PRAGMA user_version` i to i + 1; version 0 is an empty
file. A new table is a new script appended to MIGRATIONS, never an edit of an old one. No queries here.
"""

from __future__ import annotations

import sqlite3

import aiosqlite

from core.errors import StoreError

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

# Version 3: interest judgements in their own table. Version 2 stored them in `scores` under the scorer key
# "interests:<profile key (16 hex)>:<judge key (12 hex)>"; the migration splits that key once, here, and
# moves the rows, so no code needs to know that spelling again.
JUDGEMENTS = """
CREATE TABLE IF NOT EXISTS judgements (
    arxiv_id TEXT NOT NULL REFERENCES papers(arxiv_id),
    profile_key TEXT NOT NULL,      -- the normalised interests profile
    judge_key TEXT NOT NULL,        -- model + prompt version + summary key + language
    field_slug TEXT,
    value REAL,
    reason TEXT NOT NULL,
    stage TEXT NOT NULL,
    field_scores TEXT NOT NULL,     -- JSON object slug -> value
    created_at TEXT NOT NULL,
    PRIMARY KEY (arxiv_id, profile_key, judge_key)
);

INSERT OR REPLACE INTO judgements
    (arxiv_id, profile_key, judge_key, field_slug, value, reason, stage, field_scores, created_at)
SELECT arxiv_id, substr(scorer_key, 11, 16), substr(scorer_key, 28), field_slug, value, reason, stage,
       field_scores, created_at
FROM scores WHERE scorer_key LIKE 'interests:%';

DELETE FROM scores WHERE scorer_key LIKE 'interests:%';
"""

# Version 4: a score's (and an interest judgement's) reason per language, as JSON
# {"zh": ..., "en": ...}, so one score serves readers of every language. `reason` keeps the reason in the
# language the score was asked in; rows stored before keep '{}' and show that one reason to every reader.
SCORE_REASONS = """
ALTER TABLE scores ADD COLUMN reasons TEXT NOT NULL DEFAULT '{}';
ALTER TABLE judgements ADD COLUMN reasons TEXT NOT NULL DEFAULT '{}';
"""

# Version 5: what an LLM endpoint accepts (its JSON mode, per base URL and model), and which JSON mode
# gave each paper its LLM score (core/store/capabilities.py).
CAPABILITIES = """
CREATE TABLE IF NOT EXISTS llm_capabilities (
    base_url TEXT NOT NULL,
    model TEXT NOT NULL,
    json_mode TEXT NOT NULL,        -- json_schema | json_object_schema | json_object | none
    checked_at TEXT NOT NULL,
    PRIMARY KEY (base_url, model)
);

CREATE TABLE IF NOT EXISTS json_modes (
    arxiv_id TEXT NOT NULL REFERENCES papers(arxiv_id),
    scorer_key TEXT NOT NULL,
    json_mode TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (arxiv_id, scorer_key)
);
"""

# Version 6: the authors each chat follows (/follow), under a spelling-blind key (core/score/authors.py)
# so "S\"oren Auer", "Sören Auer" and "Auer, Soren" are one follow.
FOLLOWS = """
CREATE TABLE IF NOT EXISTS follows (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    key TEXT NOT NULL,              -- the normalised name
    name TEXT NOT NULL,             -- as the chat wrote it
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, key)
);
"""

# Version 7: a subscription's signing secret (a Feishu/Lark webhook's), kept apart from its settings so
# that listing, logging or exporting subscriptions never carries it. No row: the webhook signs nothing.
WEBHOOK_SECRETS = """
CREATE TABLE IF NOT EXISTS webhook_secrets (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    secret     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
"""

# Version 8: a paper's arXiv comment, where code links are often given ("Code: https://github.com/...").
PAPER_COMMENTS = """
ALTER TABLE papers ADD COLUMN comment TEXT NOT NULL DEFAULT '';
"""

# Version 9: the weekly digest. `weekly` holds the chats that asked for it every week (`/weekly on`), apart
# from the daily subscription, which it neither needs nor changes; `weekly_deliveries` is its ledger, one
# row per chat and ISO week ("2026-W49"), so each week's digest is sent once.
WEEKLY = """
CREATE TABLE IF NOT EXISTS weekly (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

CREATE TABLE IF NOT EXISTS weekly_deliveries (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    week TEXT NOT NULL,             -- ISO week of the chat's local date, e.g. 2026-W49
    state TEXT NOT NULL,            -- sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, week)
);
"""

# Version 10: several `serve` processes on one database. `processed_updates` claims each inbound update or
# event (Telegram's update_id, Slack's event_id or trigger_id) once, so a redelivered one has one effect
# whichever instance it reaches; rows older than a few days are pruned. `send_slots` counts one bot's
# messages per second (Unix second, from the sending process's clock) across every instance sending them.
SEVERAL_INSTANCES = """
CREATE TABLE IF NOT EXISTS processed_updates (
    source TEXT NOT NULL,           -- telegram:<bot id> | slack
    key TEXT NOT NULL,              -- update_id | event_id | trigger_id
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE INDEX IF NOT EXISTS processed_updates_by_time ON processed_updates(claimed_at);

CREATE TABLE IF NOT EXISTS send_slots (
    bucket TEXT NOT NULL,           -- telegram:<bot id>
    second INTEGER NOT NULL,        -- Unix second
    sent INTEGER NOT NULL,
    PRIMARY KEY (bucket, second)
);
"""

# MIGRATIONS[i] upgrades a database at user_version i to i + 1. Version 0 is an empty file.
MIGRATIONS: tuple[str, ...] = (
    SCHEMA,
    SUMMARIES_AND_USAGE,
    JUDGEMENTS,
    SCORE_REASONS,
    CAPABILITIES,
    FOLLOWS,
    WEBHOOK_SECRETS,
    PAPER_COMMENTS,
    WEEKLY,
    SEVERAL_INSTANCES,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """The SQL statements of a migration script, one by one (sqlite3 decides where each one ends)."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    return [*found, pending.strip()] if pending.strip() else found


async def _version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(db: aiosqlite.Connection, where: str) -> None:
    """Bring the open database `db` (found at `where`) up to SCHEMA_VERSION in one transaction.

    Two processes may open a new or older file at once (`run` beside `serve`): each takes the write lock
    (BEGIN IMMEDIATE, waiting out busy_timeout) and reads the version again under it, so the second finds
    the first's work done instead of running a migration twice (ALTER TABLE is not idempotent).
    """
    version = await _version(db)
    if version == SCHEMA_VERSION:
        return
    if version < SCHEMA_VERSION:
        await db.execute("BEGIN IMMEDIATE")
        try:
            version = await _version(db)
            for target in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[target]):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {target + 1}")
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{where} has schema version {version}, newer than this program's {SCHEMA_VERSION}:"
            " upgrade arxiv-digest"
        )
