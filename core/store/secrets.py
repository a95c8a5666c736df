"""The webhook_secrets table: a subscription's signing secret (a Feishu/Lark custom bot's), nothing else.

Kept out of the subscriptions table on purpose: listing subscriptions (`subscribers`, /settings, status)
reads that table and never this one, so a secret is only ever read by the sender that signs with it.
This module stores and reads secrets; it never logs one.
"""

from __future__ import annotations

from datetime import datetime

from core.models import ChatRef
from core.store.base import StoreBase
from core.store.rows import iso


class SecretQueries(StoreBase):
    async def get_webhook_secret(self, chat: ChatRef) -> str | None:
        """The signing secret of `chat`'s webhook, or None when it signs nothing."""
        row = await self._one(
            "SELECT secret FROM webhook_secrets WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id))
        return None if row is None else str(row[0])

    async def save_webhook_secret(self, chat: ChatRef, secret: str | None, now: datetime) -> None:
        """Set `chat`'s signing secret; None or empty forgets it (the webhook no longer verifies signatures)."""
        if secret:
            await self._run(
                "INSERT INTO webhook_secrets (platform, chat_id, secret, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(platform, chat_id) DO UPDATE SET secret = excluded.secret,"
                " updated_at = excluded.updated_at",
                (chat.platform, chat.chat_id, secret, iso(now)))
        else:
            await self._run(
                "DELETE FROM webhook_secrets WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id))
