"""What adapters report about chats and read for their own pages, through the command layer (bot/commands.py).

A platform says a chat is gone (blocked, removed, archived) or moved (a group became a supergroup); the
Slack App Home lists the workspace's subscriptions; an inbound update is claimed once across instances.
Adapters call these instead of touching the store.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.texts import say
from core.models import ChatRef, Subscription
from core.services import Services
from core.stale import check_subscription

log = logging.getLogger(__name__)

KEEP_CLAIMS = timedelta(days=3)  # Telegram keeps an update 24 hours, Slack retries within minutes
PRUNE_EVERY = 500  # claims between two prunings of the old ones


class ChatEvents:
    """The chat events and lookups adapters need; `Commands` inherits them."""

    services: Services
    _claims: int = 0

    async def claim_update(self, source: str, key: str, now: datetime) -> bool:
        """Claim an inbound update (`source`: the platform and bot; `key`: its id) for this instance: True
        the first time across every instance of the database, False for a redelivered copy."""
        claimed = await self.services.store.claim_update(source, key, now)
        self._claims += 1
        if self._claims % PRUNE_EVERY == 0:
            await self.services.store.prune_updates(now - KEEP_CLAIMS)
        return claimed

    async def chat_gone(self, chat: ChatRef, now: datetime, reason: str) -> None:
        """The platform says the chat is gone for us (bot blocked, removed, channel archived): deactivate
        its subscription, keeping its settings for when it comes back."""
        sub = await self.services.store.get_subscription(chat)
        if sub is not None and sub.active:
            await self.services.store.set_active(chat, False, now)
            log.warning("%s:%s subscription deactivated: %s", chat.platform, chat.chat_id, reason)

    async def chat_moved(self, old: ChatRef, new: ChatRef, now: datetime) -> None:
        """The chat has a new id (a Telegram group became a supergroup): its settings, votes and
        deliveries move with it."""
        log.info("%s chat %s moved to %s", old.platform, old.chat_id, new.chat_id)
        await self.services.store.move_subscription(old, new, now)

    async def subscribed_chats(self, platform: str, lang: str) -> list[tuple[Subscription, str]]:
        """Every active subscription on `platform`, with its fields' names in `lang` (Slack's App Home)."""
        names = {f.slug: f.name(lang) for f in self.services.fields}
        served = [check_subscription(sub, self.services.fields, self.services.settings).sub
                  for sub in await self.services.store.list_subscriptions(platform=platform)]
        return [(sub, ", ".join(names.get(s, s) for s in sub.fields) or say(lang, "all_fields")) for sub in served]
