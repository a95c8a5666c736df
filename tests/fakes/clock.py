"""A fake monotonic clock for pacing tests: time moves only when something sleeps on it."""

from __future__ import annotations

import asyncio


class FakeMonotonic:
    """Callable as a monotonic clock; `sleep` records the wait, moves the clock on, and yields once."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
