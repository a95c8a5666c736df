"""Rows to models and back: how each model's values are spelled in SQLite's columns.

Pure conversions shared by the store's table modules; no queries here. A row comes as a `Record`,
read by column name (`row["title"]`) or position (`row[0]`), the same from SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row

from core.models import ChatRef, Delivery, Paper, Run, Score, Subscription


class Record:
    """One result row, read by column name or by position."""

    __slots__ = ("_map", "_row")

    def __init__(self, row: Row[Any]) -> None:
        self._row, self._map = row, row._mapping

    def __getitem__(self, key: str | int) -> Any:
        return self._row[key] if isinstance(key, int) else self._map[key]

    def keys(self) -> list[str]:
        return [str(k) for k in self._map.keys()]


def iso(ts: datetime) -> str:
    """Spell an instant as stored: UTC, ISO 8601, whole seconds."""
    return ts.astimezone(UTC).isoformat(timespec="seconds")


def to_paper(row: Record) -> Paper:
    """Read a papers row (or a join carrying its columns) as a Paper."""
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
        comment=row["comment"],
    )


def to_score(row: Record) -> Score:
    """Read a scores row (or a join carrying its columns) as a Score."""
    return Score(
        arxiv_id=row["arxiv_id"],
        field_slug=row["field_slug"],
        value=row["value"],
        reason=row["reason"],
        stage=row["stage"],
        field_scores=json.loads(row["field_scores"]),
        reasons=json.loads(row["reasons"]) if "reasons" in row.keys() else {},
    )


def to_run(row: Record) -> Run:
    """Read a runs row (or a join carrying its columns) as a Run."""
    return Run(
        day=date.fromisoformat(row["day"]),
        papers_read=row["papers_read"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        model=row["model"],
        scorer_key=row["scorer_key"],
        started_at=datetime.fromisoformat(row["started_at"]),
        finished_at=datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None,
        status=row["status"],
        note=row["note"],
        scored=row["scored"],
    )


def to_subscription(row: Record) -> Subscription:
    """Read a subscriptions row (or a join carrying its columns) as a Subscription."""
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


def to_delivery(row: Record) -> Delivery:
    """Read a deliveries row (or a join carrying its columns) as a Delivery."""
    return Delivery(
        chat=ChatRef(row["platform"], row["chat_id"]),
        day=date.fromisoformat(row["day"]),
        state=row["state"],
        parts_sent=int(row["parts_sent"]),
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
    )
