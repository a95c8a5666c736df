"""All SQL lives here. Callers get models, never rows or cursors.

One SQLite file (aiosqlite) holds papers (with an FTS5 index over title, abstract and authors),
field definitions, scores keyed by (paper, scorer key), runs, subscriptions, votes, the delivery
ledger, per-language paper summaries, LLM usage outside the field run, and interest judgements.
`Store` is the one object callers hold; each table module below adds the queries of the tables it is
named for:

    schema.py         the tables, MIGRATIONS (PRAGMA user_version) and migrate
    base.py           open/close, and running one statement over many rows or many ids (chunked)
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
from core.store.locks import LockQueries
from core.store.papers import PaperQueries
from core.store.papers import fts_query as fts_query
from core.store.runs import RunQueries
from core.store.schema import MIGRATIONS as MIGRATIONS
from core.store.schema import SCHEMA as SCHEMA
from core.store.schema import SCHEMA_VERSION as SCHEMA_VERSION
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
    LockQueries,
):
    """An open database. Use `async with Store.open(path) as store:`."""
