"""A bot's send rate shared by every process that sends as it: per-second slots counted in the database.

Telegram limits a bot, not a process, to about 30 messages a second. With several `serve` processes (and a
`deliver`) sending as one bot, each process's own limiter (python-telegram-bot's AIORateLimiter) is not
enough: every send first takes a slot of the current second, counted in the shared database
(store.take_send_slot, an upsert returning the count); when the second is full it waits for the next one.
A send is never started in the last EDGE_GUARD of a second, counting the time its slot took to claim
(a busy database), so the platform, seeing it a few milliseconds later, counts it in the same second as we
did. It must not read a clock of its own: the wall clock (Unix seconds, so every process on the machine
agrees on where a second starts) and the sleep are arguments.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

EDGE_GUARD = 0.05  # seconds at the end of a second in which no send starts

TakeSlot = Callable[[str, int], Awaitable[int]]


class SharedRate:
    """At most `limit` sends per second under `bucket`, counted across every process through `take`."""

    def __init__(
        self, take: TakeSlot, bucket: str, limit: int, clock: Callable[[], float], *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.take = take
        self.bucket = bucket
        self.limit = limit
        self.clock = clock
        self.sleep = sleep

    async def turn(self) -> None:
        """Return when this send has a slot: in the current second if it has room, else a later one."""
        while True:
            now = self.clock()
            second = math.floor(now)
            if now - second < 1 - EDGE_GUARD and await self.take(self.bucket, second) <= self.limit:
                if self.clock() - second < 1 - EDGE_GUARD:
                    return
                # The round trip to the database ran into the guard: sent now, the platform might count it in
                # the next second, whose slots other processes fill. The slot stays taken (a second may then
                # carry one send less, never one more); the send takes a slot of a later second.
            await self.sleep(max(second + 1 - self.clock(), 0.001))
