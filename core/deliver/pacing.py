"""Per-chat pacing: at most one message to a chat per `min_interval` seconds, for every sender.

Owns the one record of when each chat last got a message. Both platform Senders send through a
ChatPacer (`turn`), and the delivery pass waits for a chat's turn (`ready`) before it takes a send
slot, so a digest's next part never holds a slot while it waits and a command's reply and a digest
to the same chat share one pace. It must not read a clock of its own: the monotonic clock (and the
sleep) are constructor arguments, supplied by the adapter (`time.monotonic`) or by a test (a fake).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
PRUNE_AT = 1024  # chats remembered before the idle ones are forgotten


class ChatPacer:
    """Spaces messages to one chat at least `min_interval` seconds apart; other chats never wait.

    `min_interval <= 0` turns pacing off (no lock, no clock read).
    """

    def __init__(self, min_interval: float, clock: Monotonic, *, sleep: Sleep = asyncio.sleep) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._last: dict[Hashable, float] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}  # turns taken or waited for, per chat
        self._prune_at = PRUNE_AT

    def delay(self, chat: Hashable) -> float:
        """Seconds until `chat` may get its next message (0: now)."""
        if self.min_interval <= 0:
            return 0.0
        return max(0.0, self._last.get(chat, -math.inf) + self.min_interval - self._clock())

    async def ready(self, chat: Hashable) -> None:
        """Wait until `chat` may get its next message, without taking the turn (the pass's wait)."""
        wait = self.delay(chat)
        if wait > 0:
            await self._sleep(wait)

    @asynccontextmanager
    async def turn(self, chat: Hashable) -> AsyncIterator[None]:
        """Send one message to `chat` inside this block: one at a time per chat, spaced by `min_interval`.

        The message counts from when the block ends (the platform answered, or failed), so the next one
        waits a full interval after it.
        """
        if self.min_interval <= 0:
            yield
            return
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._users[chat] = self._users.get(chat, 0) + 1
        try:
            async with lock:
                await self.ready(chat)
                try:
                    yield
                finally:
                    self._last[chat] = self._clock()
        finally:
            self._users[chat] -= 1
            if not self._users[chat]:
                del self._users[chat]
            self._forget_idle()

    def _forget_idle(self) -> None:
        """Forget the chats whose interval has passed and that nobody uses, so the record stays small."""
        if len(self._last) < self._prune_at:
            return
        now = self._clock()
        for chat in [c for c, at in self._last.items() if at + self.min_interval <= now and c not in self._users]:
            del self._last[chat]
            self._locks.pop(chat, None)
        self._prune_at = max(PRUNE_AT, 2 * len(self._last))
