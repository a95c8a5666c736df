"""The weekly and weekly_deliveries tables: which chats asked for the weekly digest, and its ledger.

When a weekly digest is due, and what it holds, is decided in core/deliver/weekly.py and core/build/weekly.py;
this module only stores and reads. A week is its ISO name ("2026-W49") in the chat's own time zone.
"""

from __future__ import annotations

from datetime import datetime

from core.models import ChatRef
from core.store.base import StoreBase
from core.store.rows import iso


class WeeklyQueries(StoreBase):
    async def set_weekly(self, chat: ChatRef, enabled: bool, now: datetime) -> None:
        """Turn a chat's weekly digest on or off."""
        await self._run(
            "INSERT INTO weekly (platform, chat_id, enabled, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(platform, chat_id) DO UPDATE SET enabled = excluded.enabled,"
            " updated_at = excluded.updated_at",
            (chat.platform, chat.chat_id, int(enabled), iso(now)),
        )

    async def weekly_enabled(self, chat: ChatRef) -> bool:
        """Whether the chat asked for the weekly digest every week."""
        rows = await self._all(
            "SELECT enabled FROM weekly WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id)
        )
        return any(int(row["enabled"]) for row in rows)

    async def weekly_chats(self) -> list[ChatRef]:
        """Every chat with the weekly digest on, by chat."""
        rows = await self._all(
            "SELECT platform, chat_id FROM weekly WHERE enabled = 1 ORDER BY platform, chat_id"
        )
        return [ChatRef(row["platform"], row["chat_id"]) for row in rows]

    async def weekly_state(self, chat: ChatRef, week: str) -> tuple[str, int] | None:
        """The ledger's (state, attempts) of one chat's weekly digest of `week`, or None when none was tried."""
        rows = await self._all(
            "SELECT state, attempts FROM weekly_deliveries WHERE platform = ? AND chat_id = ? AND week = ?",
            (chat.platform, chat.chat_id, week),
        )
        return next(((str(row["state"]), int(row["attempts"])) for row in rows), None)

    async def mark_weekly(self, chat: ChatRef, week: str, state: str, now: datetime, *, error: str = "") -> None:
        """Record an attempt at one chat's weekly digest of `week`: "sent" or "failed"."""
        await self._run(
            "INSERT INTO weekly_deliveries (platform, chat_id, week, state, attempts, last_error, updated_at)"
            " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(platform, chat_id, week) DO UPDATE SET"
            " state = excluded.state, attempts = weekly_deliveries.attempts + 1,"
            " last_error = excluded.last_error, updated_at = excluded.updated_at",
            (chat.platform, chat.chat_id, week, state, error[:500], iso(now)),
        )
