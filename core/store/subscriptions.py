"""The subscriptions and votes tables: each chat's settings, whether it is active, and its 👍/👎 on papers.

What a chat's settings or votes mean for its digest is decided outside the store (core/score/feedback.py,
core/deliver/); this module only stores and reads them. A row whose fields or threshold no longer read
(hand-edited JSON, a text threshold) is read with the default for that value and a logged warning, never
an exception: one bad row must not hide every other chat (core/stale.py judges the values that do read).
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from typing import Any

from core.models import ChatRef, Paper, Subscription
from core.store.base import StoreBase
from core.store.rows import Record, iso, to_paper, to_subscription

log = logging.getLogger(__name__)

# The tables keyed by a chat, and the rest of each one's primary key (move_subscription moves their rows).
_CHAT_TABLES: dict[str, tuple[str, ...]] = {
    "subscriptions": (), "votes": ("arxiv_id",), "follows": ("key",), "deliveries": ("day",), "weekly": (),
    "weekly_deliveries": ("week",),
}


class SubscriptionQueries(StoreBase):
    async def get_subscription(self, chat: ChatRef) -> Subscription | None:
        """A chat's settings, or None when it never subscribed."""
        row = await self._one(
            "SELECT * FROM subscriptions WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id)
        )
        return _read_subscription(row) if row else None

    async def save_subscription(self, sub: Subscription, now: datetime) -> None:
        """Insert or update a chat's settings."""
        await self._run(
            "INSERT INTO subscriptions (platform, chat_id, active, fields, min_score, lang, digest_time, timezone,"
            " interests, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(platform, chat_id) DO UPDATE SET active=excluded.active, fields=excluded.fields,"
            " min_score=excluded.min_score, lang=excluded.lang, digest_time=excluded.digest_time,"
            " timezone=excluded.timezone, interests=excluded.interests, updated_at=excluded.updated_at",
            (sub.chat.platform, sub.chat.chat_id, int(sub.active), json.dumps(list(sub.fields)), sub.min_score,
             sub.lang, sub.digest_time, sub.timezone, sub.interests, iso(now), iso(now)),
        )

    async def set_active(self, chat: ChatRef, active: bool, now: datetime) -> None:
        """Activate or deactivate a chat's subscription, keeping its settings."""
        await self._run(
            "UPDATE subscriptions SET active = ?, updated_at = ? WHERE platform = ? AND chat_id = ?",
            (int(active), iso(now), chat.platform, chat.chat_id),
        )

    async def move_subscription(self, old: ChatRef, new: ChatRef, now: datetime) -> None:
        """Move a chat's settings, votes, follows, deliveries and weekly digest to a new id (a migrated Telegram
        group)."""
        async with self._tx() as tx:
            for table in _CHAT_TABLES:
                # The moved rows win over rows already under the new id (as UPDATE OR REPLACE did).
                same = " AND ".join(f"o.{column} = {table}.{column}" for column in _CHAT_TABLES[table])
                await tx.run(
                    f"DELETE FROM {table} WHERE platform = ? AND chat_id = ? AND EXISTS (SELECT 1 FROM {table} o"
                    f" WHERE o.platform = ? AND o.chat_id = ?{' AND ' + same if same else ''})",
                    (new.platform, new.chat_id, old.platform, old.chat_id),
                )
                await tx.run(f"UPDATE {table} SET chat_id = ? WHERE platform = ? AND chat_id = ?",
                             (new.chat_id, old.platform, old.chat_id))
            await tx.run("UPDATE subscriptions SET updated_at = ? WHERE platform = ? AND chat_id = ?",
                         (iso(now), new.platform, new.chat_id))

    async def repair_subscription(self, stored: Subscription, repaired: Subscription, now: datetime) -> bool:
        """Store `repaired`'s fields, time and language for the chat, unless its row changed since `stored`
        was read (the chat set something meanwhile); return whether it was stored."""
        chat = stored.chat
        async with self._tx() as tx:
            row = await tx.one(
                "SELECT fields FROM subscriptions WHERE platform = ? AND chat_id = ? AND digest_time = ? AND lang = ?"
                f" AND timezone = ?{' FOR UPDATE' if self._postgres else ''}",
                (chat.platform, chat.chat_id, stored.digest_time, stored.lang, stored.timezone),
            )
            if row is None or _read_fields(row["fields"]) != stored.fields:
                return False
            await tx.run(
                "UPDATE subscriptions SET fields = ?, digest_time = ?, lang = ?, updated_at = ?"
                " WHERE platform = ? AND chat_id = ?",
                (json.dumps(list(repaired.fields)), repaired.digest_time, repaired.lang, iso(now),
                 chat.platform, chat.chat_id),
            )
        return True

    async def list_subscriptions(self, *, active_only: bool = True, platform: str | None = None) -> list[Subscription]:
        """Every subscription (only active ones by default, optionally of one platform), by chat."""
        sql = "SELECT * FROM subscriptions WHERE 1 = 1"
        args: list[Any] = []
        if active_only:
            sql += " AND active = 1"
        if platform:
            sql += " AND platform = ?"
            args.append(platform)
        return [_read_subscription(row) for row in await self._all(sql + " ORDER BY platform, chat_id", args)]

    async def subscription_langs(self, interests: str) -> list[str]:
        """The languages of the active chats whose interests text is exactly `interests`."""
        rows = await self._all(
            "SELECT DISTINCT lang FROM subscriptions WHERE active = 1 AND interests = ? ORDER BY lang", (interests,)
        )
        return [row["lang"] for row in rows]

    async def save_vote(self, chat: ChatRef, arxiv_id: str, vote: int, now: datetime) -> None:
        """Store a chat's 👍 (+1) or 👎 (-1) on a paper; a new vote replaces the old one."""
        if vote not in (1, -1):
            raise ValueError("vote must be +1 or -1")
        await self._run(
            "INSERT INTO votes (platform, chat_id, arxiv_id, vote, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(platform, chat_id, arxiv_id)"
            " DO UPDATE SET vote=excluded.vote, created_at=excluded.created_at",
            (chat.platform, chat.chat_id, arxiv_id, vote, iso(now)),
        )

    async def get_votes(self, chat: ChatRef) -> dict[str, int]:
        """A chat's votes, keyed by arXiv id."""
        rows = await self._all(
            "SELECT arxiv_id, vote FROM votes WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id)
        )
        return {row["arxiv_id"]: int(row["vote"]) for row in rows}

    async def voting_chats(self) -> frozenset[ChatRef]:
        """Every chat that has voted on at least one paper."""
        rows = await self._all("SELECT DISTINCT platform, chat_id FROM votes")
        return frozenset(ChatRef(row["platform"], row["chat_id"]) for row in rows)

    async def voted_papers(self, chat: ChatRef, limit: int = 50) -> list[tuple[Paper, int]]:
        """A chat's most recent votes on stored papers, newest first, as (paper, +1 or -1)."""
        rows = await self._all(
            "SELECT p.*, v.vote FROM votes v JOIN papers p ON p.arxiv_id = v.arxiv_id"
            " WHERE v.platform = ? AND v.chat_id = ? ORDER BY v.created_at DESC, v.arxiv_id LIMIT ?",
            (chat.platform, chat.chat_id, limit),
        )
        return [(to_paper(row), int(row["vote"])) for row in rows]


def _read_subscription(row: Record) -> Subscription:
    """A subscriptions row as a Subscription, even when its fields or threshold no longer read."""
    fields, min_score = _read_fields(row["fields"]), _read_score(row["min_score"])
    texts = (row["lang"], row["digest_time"], row["timezone"], row["interests"])
    if fields is not None and min_score is not None and all(isinstance(t, str) for t in texts):
        return to_subscription(row)
    default = Subscription(ChatRef(row["platform"], row["chat_id"]))
    unread = {"fields": row["fields"]} if fields is None else {}
    unread.update({"min_score": row["min_score"]} if min_score is None else {})
    log.warning("subscription row does not read, using defaults chat=%s:%s %s", row["platform"], row["chat_id"],
                " ".join(f"{name}={value!r}" for name, value in unread.items()) or "texts")
    return Subscription(
        chat=default.chat, active=bool(row["active"]), fields=default.fields if fields is None else fields,
        min_score=default.min_score if min_score is None else min_score, lang=_text(row["lang"]),
        digest_time=_text(row["digest_time"]), timezone=_text(row["timezone"]), interests=_text(row["interests"]),
    )


def _text(value: object) -> str:
    """A stored text column as text, even when something else was written there (a blob, by hand)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _read_fields(text: object) -> tuple[str, ...] | None:
    """A stored JSON list of slugs, or None when it is not one."""
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError:
        return None
    return tuple(value) if isinstance(value, list) and all(isinstance(s, str) for s in value) else None


def _read_score(value: object) -> float | None:
    """A stored threshold, or None when it is not a finite number."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None
