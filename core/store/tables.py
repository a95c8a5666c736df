"""The tables, defined once for both backends (SQLite and PostgreSQL) as SQLAlchemy Core `Table`s.

Alembic's first revision (core/store/migrations/versions/0001_schema_v9.py) creates them with
`METADATA.create_all`, plus each backend's full-text index (FTS5 on SQLite, a tsvector column with a
GIN index on PostgreSQL). Values keep the spelling the SQLite store always had: days and instants are
ISO 8601 text, lists and objects JSON text, flags integers 0/1, so a row reads the same on both.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)

METADATA = MetaData()

# Float(53): double precision on PostgreSQL (its REAL is single precision), REAL affinity on SQLite.
_Score = Float(53)

papers = Table(
    "papers", METADATA,
    Column("arxiv_id", Text, primary_key=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("authors", Text, nullable=False),  # JSON list
    Column("categories", Text, nullable=False),  # JSON list
    Column("primary_category", Text, nullable=False),
    Column("published", Text, nullable=False),  # listing day, ISO date
    Column("announce_type", Text, nullable=False, server_default=text("'new'")),
    Column("first_seen", Text, nullable=False),
    Column("comment", Text, nullable=False, server_default=text("''")),
    Index("papers_by_day", "published"),
)

fields = Table(
    "fields", METADATA,
    Column("slug", Text, primary_key=True),
    Column("name_zh", Text, nullable=False),
    Column("name_en", Text, nullable=False),
    Column("description_zh", Text, nullable=False),
    Column("description_en", Text, nullable=False),
    Column("keywords", Text, nullable=False),  # JSON list
    Column("ignore", Text, nullable=False),  # JSON list
    Column("fingerprint", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

scores = Table(
    "scores", METADATA,
    Column("arxiv_id", Text, ForeignKey("papers.arxiv_id"), primary_key=True),
    Column("scorer_key", Text, primary_key=True),  # model + prompt version + field fingerprints
    Column("field_slug", Text),
    Column("value", _Score),
    Column("reason", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("field_scores", Text, nullable=False),  # JSON object slug -> value
    Column("created_at", Text, nullable=False),
    Column("reasons", Text, nullable=False, server_default=text("'{}'")),  # JSON object lang -> reason
)

runs = Table(
    "runs", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Text, nullable=False),
    Column("scorer_key", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("papers_read", Integer, nullable=False, server_default=text("0")),
    Column("scored", Integer, nullable=False, server_default=text("0")),  # papers scored anew
    Column("tokens_in", BigInteger, nullable=False, server_default=text("0")),
    Column("tokens_out", BigInteger, nullable=False, server_default=text("0")),
    Column("started_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("status", Text, nullable=False),
    Column("note", Text, nullable=False, server_default=text("''")),
    Index("runs_by_day", "day"),
    sqlite_autoincrement=True,
)

subscriptions = Table(
    "subscriptions", METADATA,
    Column("platform", Text, primary_key=True),
    Column("chat_id", Text, primary_key=True),
    Column("active", Integer, nullable=False, server_default=text("1")),
    Column("fields", Text, nullable=False, server_default=text("'[]'")),
    Column("min_score", _Score, nullable=False, server_default=text("7")),
    Column("lang", Text, nullable=False, server_default=text("'zh'")),
    Column("digest_time", Text, nullable=False, server_default=text("'09:00'")),
    Column("timezone", Text, nullable=False, server_default=text("'Asia/Shanghai'")),
    Column("interests", Text, nullable=False, server_default=text("''")),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

votes = Table(
    "votes", METADATA,
    Column("platform", Text, primary_key=True),
    Column("chat_id", Text, primary_key=True),
    Column("arxiv_id", Text, primary_key=True),
    Column("vote", Integer, nullable=False),  # +1 or -1
    Column("created_at", Text, nullable=False),
)

deliveries = Table(
    "deliveries", METADATA,
    Column("platform", Text, primary_key=True),
    Column("chat_id", Text, primary_key=True),
    Column("day", Text, primary_key=True),
    Column("state", Text, nullable=False),  # pending | sent | failed | skipped-empty
    Column("parts_sent", Integer, nullable=False, server_default=text("0")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=False, server_default=text("''")),
    Column("updated_at", Text, nullable=False),
)

summaries = Table(
    "summaries", METADATA,
    Column("arxiv_id", Text, primary_key=True),
    Column("lang", Text, primary_key=True),
    Column("summary_key", Text, primary_key=True),  # model + prompt version + abstract characters read
    Column("text", Text, nullable=False),
    Column("created_at", Text, nullable=False),
)

llm_usage = Table(
    "llm_usage", METADATA,
    Column("day", Text, primary_key=True),
    Column("purpose", Text, primary_key=True),  # "summaries" | "interests"
    Column("tokens_in", BigInteger, nullable=False, server_default=text("0")),
    Column("tokens_out", BigInteger, nullable=False, server_default=text("0")),
    Column("requests", Integer, nullable=False, server_default=text("0")),
    Column("updated_at", Text, nullable=False),
)

judgements = Table(
    "judgements", METADATA,
    Column("arxiv_id", Text, ForeignKey("papers.arxiv_id"), primary_key=True),
    Column("profile_key", Text, primary_key=True),  # the normalised interests profile
    Column("judge_key", Text, primary_key=True),  # model + prompt version + summary key + language
    Column("field_slug", Text),
    Column("value", _Score),
    Column("reason", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("field_scores", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("reasons", Text, nullable=False, server_default=text("'{}'")),
)

llm_capabilities = Table(
    "llm_capabilities", METADATA,
    Column("base_url", Text, primary_key=True),
    Column("model", Text, primary_key=True),
    Column("json_mode", Text, nullable=False),  # json_schema | json_object_schema | json_object | none
    Column("checked_at", Text, nullable=False),
)

json_modes = Table(
    "json_modes", METADATA,
    Column("arxiv_id", Text, ForeignKey("papers.arxiv_id"), primary_key=True),
    Column("scorer_key", Text, primary_key=True),
    Column("json_mode", Text, nullable=False),
    Column("created_at", Text, nullable=False),
)

follows = Table(
    "follows", METADATA,
    Column("platform", Text, primary_key=True),
    Column("chat_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),  # the normalised name
    Column("name", Text, nullable=False),  # as the chat wrote it
    Column("created_at", Text, nullable=False),
)

webhook_secrets = Table(
    "webhook_secrets", METADATA,
    Column("platform", Text, primary_key=True),
    Column("chat_id", Text, primary_key=True),
    Column("secret", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

weekly = Table(
    "weekly", METADATA,
    Column("platform", Text, primary_key=True),
    Column("chat_id", Text, primary_key=True),
    Column("enabled", Integer, nullable=False, server_default=text("1")),
    Column("updated_at", Text, nullable=False),
)

weekly_deliveries = Table(
    "weekly_deliveries", METADATA,
    Column("platform", Text, primary_key=True),
    Column("chat_id", Text, primary_key=True),
    Column("week", Text, primary_key=True),  # ISO week of the chat's local date, e.g. 2026-W49
    Column("state", Text, nullable=False),  # sent | failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=False, server_default=text("''")),
    Column("updated_at", Text, nullable=False),
)

# Revision 0002: what several `serve` processes on one database share. `processed_updates` claims each
# inbound update or event (Telegram's update_id, Slack's event_id or trigger_id) once, so a redelivered one
# has one effect whichever instance it reaches; rows older than a few days are pruned. `send_slots` counts
# one bot's messages per second (Unix second, from the sending process's clock) across every instance.
processed_updates = Table(
    "processed_updates", METADATA,
    Column("source", Text, primary_key=True),  # telegram:<bot id> | slack
    Column("key", Text, primary_key=True),  # update_id | event_id | trigger_id
    Column("claimed_at", Text, nullable=False),
    Index("processed_updates_by_time", "claimed_at"),
)

send_slots = Table(
    "send_slots", METADATA,
    Column("bucket", Text, primary_key=True),  # telegram:<bot id>
    Column("second", BigInteger, primary_key=True),  # Unix second
    Column("sent", Integer, nullable=False),
)

# The tables of revision 0001 (schema version 9 of the pre-Alembic store); later revisions add the rest.
V9_TABLES = (
    "papers", "fields", "scores", "runs", "subscriptions", "votes", "deliveries", "summaries", "llm_usage",
    "judgements", "llm_capabilities", "json_modes", "follows", "webhook_secrets", "weekly", "weekly_deliveries",
)

# The full-text index of each backend, created beside the tables (see papers.py for the queries).
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5("
    "arxiv_id UNINDEXED, title, abstract, authors, tokenize = 'porter unicode61')"
)
POSTGRES_FTS = (
    # title weighs most (A), then the abstract (B), then the authors (C), as bm25's 10/3/2 on SQLite
    "ALTER TABLE papers ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', abstract), 'B')"
    " || setweight(to_tsvector('english', authors), 'C')) STORED",
    "CREATE INDEX papers_search ON papers USING gin (search)",
)
