"""The processed_updates and send_slots tables: what several `serve` processes on one database share.

An inbound update or event is claimed once (`claim_update`: an insert that does nothing on conflict), so
the instance that claims it handles it and any other copy is dropped. A bot's sends are counted per
second (`take_send_slot`: an upsert returning the new count), so every instance's sends together stay
under the platform's per-bot limit. Which keys and limits apply is decided by the callers.
"""

from __future__ import annotations

from datetime import datetime

from core.store.base import StoreBase
from core.store.rows import iso

SLOT_KEEP_SECONDS = 60  # send slots older than this are deleted when a new second begins


class UpdateQueries(StoreBase):
    async def claim_update(self, source: str, key: str, now: datetime) -> bool:
        """Claim the update `key` of `source`; True for the first claim only (this one handles it)."""
        rows = await self._all(
            "INSERT INTO processed_updates (source, key, claimed_at) VALUES (?, ?, ?)"
            " ON CONFLICT(source, key) DO NOTHING RETURNING 1",
            (source, key, iso(now)))
        return bool(rows)

    async def prune_updates(self, before: datetime) -> int:
        """Forget the claims made before `before`; return how many."""
        return max(await self._run("DELETE FROM processed_updates WHERE claimed_at < ?", (iso(before),)), 0)

    async def take_send_slot(self, bucket: str, second: int) -> int:
        """Count one send of `bucket` in the Unix second `second`; return the count with it (1 = the first)."""
        async with self._tx() as tx:
            row = await tx.one(
                "INSERT INTO send_slots (bucket, second, sent) VALUES (?, ?, 1)"
                " ON CONFLICT(bucket, second) DO UPDATE SET sent = send_slots.sent + 1 RETURNING sent",
                (bucket, second))
            assert row is not None  # an upsert with RETURNING returns its row
            sent = int(row[0])
            if sent == 1:  # a new second: forget the old ones
                await tx.run("DELETE FROM send_slots WHERE bucket = ? AND second < ?",
                             (bucket, second - SLOT_KEEP_SECONDS))
        return sent
