"""All SQL lives here. Callers get models, never rows or cursors.

One database, an SQLite file (aiosqlite) or PostgreSQL (asyncpg, `DATABASE_URL`), both through
SQLAlchemy Core, holds papers (with a full-text index over title, abstract and authors),
field definitions, scores keyed by (paper, scorer key), runs, subscriptions, votes, the delivery
ledger, per-language paper summaries, LLM usage outside the field run, and interest judgements.
`Store` is the one object callers hold; each table module below adds the queries of the tables it is
named for:

    tables.py         the tables (SQLAlchemy Core), defined once for both backends
    engine.py         a URL from a path or DATABASE_URL, the engine per backend, naming it without password
    migrate.py        the schema revision, creating a new database, `arxiv-digest migrate` (Alembic)
    migrations/       Alembic's env.py and revisions (0001: the schema of PRAGMA user_version 9)
    legacy.py         the pre-Alembic MIGRATIONS (PRAGMA user_version 1..9), for files made before
    advisory.py       the PostgreSQL named lock (an advisory lock on a dedicated connection)
    base.py           open/close, transactions, running one statement over many rows or many ids (chunked)
    rows.py           rows to models
    papers.py         papers and their full-text search
    scores.py         field definitions and scores
    runs.py           runs and the day's token spending
    subscriptions.py  subscriptions and votes
    summaries.py      summaries and LLM usage outside the field run
    deliveries.py     the delivery ledger
    judgements.py     interest profiles' judgements of papers (never a paper's field score)
    capabilities.py   the JSON mode an LLM endpoint accepts, and the one that scored each paper
    follows.py        the authors each chat follows
    secrets.py        webhook signing secrets, apart from the subscriptions they belong to
    weekly.py         the chats that asked for the weekly digest, and its ledger
    updates.py        inbound updates claimed once, and per-second send counts, across instances
    locks.py          named locks shared by the database's processes (run, leader, delivery)

Domain rules stay out: what a listing changes is core/listing.py, what a day's runs add up to is
core/runs.py.
"""

from __future__ import annotations

from core.listing import LOOKUP as LOOKUP
from core.store.capabilities import CapabilityQueries
from core.store.deliveries import DeliveryQueries
from core.store.follows import FollowQueries
from core.store.judgements import JudgementQueries
from core.store.legacy import MIGRATIONS as MIGRATIONS
from core.store.legacy import SCHEMA as SCHEMA
from core.store.legacy import SCHEMA_VERSION as SCHEMA_VERSION
from core.store.migrate import migrate as migrate
from core.store.papers import PaperQueries
from core.store.papers import fts_query as fts_query
from core.store.papers import ts_terms as ts_terms
from core.store.runs import RunQueries
from core.store.scores import ScoreQueries
from core.store.secrets import SecretQueries
from core.store.subscriptions import SubscriptionQueries
from core.store.summaries import SummaryQueries
from core.store.updates import UpdateQueries
from core.store.weekly import WeeklyQueries


class Store(
    PaperQueries,
    ScoreQueries,
    RunQueries,
    SubscriptionQueries,
    SummaryQueries,
    DeliveryQueries,
    JudgementQueries,
    CapabilityQueries,
    FollowQueries,
    SecretQueries,
    WeeklyQueries,
    UpdateQueries,
):
    """An open database. Use `async with Store.open(path_or_url) as store:`, or `Store.open_settings(settings)`."""
