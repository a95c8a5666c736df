"""The delivery ledger: one row per (subscription, digest day), saying how far its delivery got.

When to send, retry or give up is decided by core/deliver/; this module only records and reads.

Writes are upserts that commit at once, one statement each: a delivery pass records a part as soon as
the platform acknowledged it, without first creating its row, so a digest costs one statement and one
commit per part. A delivery pass writes from many coroutines at once: each write is its own transaction
(StoreBase._tx), on its own pooled connection on PostgreSQL, one after another on SQLite's one connection.
"""

from __future__ import annotations

from datetime import date, datetime

from core.models import ChatRef, Delivery
from core.store.base import StoreBase
from core.store.rows import iso, to_delivery


class DeliveryQueries(StoreBase):
    async def get_delivery(self, chat: ChatRef, day: date) -> Delivery | None:
        """The ledger row of one chat's digest of `day`, or None when none was attempted."""
        row = await self._one(
            "SELECT * FROM deliveries WHERE platform = ? AND chat_id = ? AND day = ?",
            (chat.platform, chat.chat_id, day.isoformat()),
        )
        return to_delivery(row) if row else None

    async def deliveries_for_day(self, day: date) -> dict[ChatRef, Delivery]:
        """Every ledger row of one digest day, keyed by chat."""
        rows = await self._all("SELECT * FROM deliveries WHERE day = ?", (day.isoformat(),))
        return {d.chat: d for d in map(to_delivery, rows)}

    async def mark_part_sent(
        self, chat: ChatRef, day: date, parts_sent: int, now: datetime, *, done: bool = False,
    ) -> None:
        """Record that the platform acknowledged parts [0, parts_sent); with `done`, the delivery is sent."""
        await self._run(
            "INSERT INTO deliveries (platform, chat_id, day, state, parts_sent, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(platform, chat_id, day) DO UPDATE SET"
            " state = excluded.state, parts_sent = excluded.parts_sent,"
            " attempts = deliveries.attempts + excluded.attempts,"
            " last_error = CASE WHEN excluded.state = 'sent' THEN '' ELSE deliveries.last_error END,"
            " updated_at = excluded.updated_at",
            (chat.platform, chat.chat_id, day.isoformat(), "sent" if done else "pending", parts_sent, int(done),
             iso(now)),
        )

    async def finish_delivery(
        self, chat: ChatRef, day: date, state: str, now: datetime, *, error: str = "", attempt: bool = True,
    ) -> None:
        """Set a delivery's state (sent, failed, skipped-empty, pending) and count the attempt."""
        await self._run(
            "INSERT INTO deliveries (platform, chat_id, day, state, last_error, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(platform, chat_id, day) DO UPDATE SET"
            " state = excluded.state, last_error = excluded.last_error,"
            " attempts = deliveries.attempts + excluded.attempts, updated_at = excluded.updated_at",
            (chat.platform, chat.chat_id, day.isoformat(), state, error[:500], int(attempt), iso(now)),
        )

    async def delivery_counts(self, day: date) -> dict[str, int]:
        """How many deliveries of `day` are in each state."""
        rows = await self._all(
            "SELECT state, COUNT(*) AS n FROM deliveries WHERE day = ? GROUP BY state ORDER BY state",
            (day.isoformat(),),
        )
        return {row["state"]: int(row["n"]) for row in rows}
