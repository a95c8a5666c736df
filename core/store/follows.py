"""The follows table: the authors each chat follows, as the chat wrote them and under a spelling-blind key.

What a followed author means for a digest (matching, the boost, the mark) is decided outside the store
(core/score/authors.py, core/build/digest.py); this module only stores and reads the names.
"""

from __future__ import annotations

from datetime import datetime

from core.models import ChatRef
from core.store.base import StoreBase
from core.store.rows import iso


class FollowQueries(StoreBase):
    async def save_follow(self, chat: ChatRef, name: str, key: str, now: datetime) -> bool:
        """Follow an author under `key`; False when the chat already follows that key (its first spelling stays)."""
        row = await self._one(
            "INSERT INTO follows (platform, chat_id, key, name, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(platform, chat_id, key) DO NOTHING RETURNING key",
            (chat.platform, chat.chat_id, key, name, iso(now)),
        )
        return row is not None

    async def delete_follows(self, chat: ChatRef, keys: list[str]) -> int:
        """Stop following the authors under `keys`; return how many were followed."""
        removed = 0
        async with self._tx() as tx:
            for key in keys:
                removed += await tx.run(
                    "DELETE FROM follows WHERE platform = ? AND chat_id = ? AND key = ?",
                    (chat.platform, chat.chat_id, key),
                )
        return removed

    async def get_follows(self, chat: ChatRef) -> list[tuple[str, str]]:
        """A chat's followed authors as (key, name as written), in the order they were followed."""
        rows = await self._all(
            "SELECT key, name FROM follows WHERE platform = ? AND chat_id = ? ORDER BY created_at, key",
            (chat.platform, chat.chat_id),
        )
        return [(row["key"], row["name"]) for row in rows]

    async def following_chats(self) -> frozenset[ChatRef]:
        """Every chat that follows at least one author."""
        rows = await self._all("SELECT DISTINCT platform, chat_id FROM follows")
        return frozenset(ChatRef(row["platform"], row["chat_id"]) for row in rows)
