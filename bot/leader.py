"""Leader election among the `serve` processes of one database: one runs scoring and delivery, the others stand by.

Every `serve` answers commands and webhooks. The scheduled work (the daily scoring, the catch-up at
start, the delivery and weekly ticks) runs in one of them at a time: the holder of the database's named
lock "leader" (core/store/locks.py; a Postgres advisory lock where the store provides one). A standby
tries to take it every LEADER_RETRY_SECONDS; the holder checks it still has it as often, and stops leading
when it lost it. A leader that dies loses the lock with its process (or its database session), so a
standby takes over within about LEADER_RETRY_SECONDS, and its catch-up resumes the delivery where the
ledger says the dead one stopped. Leadership changes are logged.

Owns only the election loop: what leading means is the `lead` and `step_down` callables it is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.store.locks import NamedLock

log = logging.getLogger(__name__)

LEADER_LOCK = "leader"  # held by the serve process that runs scoring and delivery
DELIVERY_LOCK = "delivery"  # held by whoever runs a delivery pass (the leader's tick, `arxiv-digest deliver`)
TELEGRAM_POLLING_LOCK = "telegram-polling"  # held for its life by the one serve that long-polls Telegram
SLACK_SOCKET_LOCK = "slack-socket"  # held for its life by the one serve connected in Slack Socket Mode


class Leadership:
    """Take the leader lock when it is free, call `lead`; call `step_down` when the lock is lost or on exit."""

    def __init__(
        self, lock: NamedLock, *, lead: Callable[[], Awaitable[None]], step_down: Callable[[], Awaitable[None]],
        retry_seconds: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.lock = lock
        self.lead = lead
        self.step_down = step_down
        self.retry_seconds = retry_seconds
        self.sleep = sleep
        self.leading = False
        self.changed = asyncio.Event()  # set at every change of `leading` (tests wait on it)
        self._standby_logged = False

    async def check(self) -> None:
        """One round: become the leader if the lock is free, or stop leading if it was lost."""
        if self.leading:
            if not await self.lock.still_held():
                log.warning("leader lock lost: this instance stops scoring and delivering (a standby takes over)")
                await self._stop()
            return
        if await self.lock.try_acquire():
            log.info("this instance is now the leader: it runs the scoring and delivery passes")
            self.leading = True
            self.changed.set()
            try:
                await self.lead()
            except BaseException:
                await self._stop()
                raise
        elif not self._standby_logged:
            self._standby_logged = True
            log.info("standing by: another instance leads (%s); trying again every %g s",
                     self.lock.holder(), self.retry_seconds)

    async def run(self) -> None:
        """Check every `retry_seconds` until cancelled; a leader steps down on the way out."""
        try:
            while True:
                try:
                    await self.check()
                except Exception:  # the database hiccupped: the election goes on at the next round
                    log.exception("leader election round failed; trying again in %g s", self.retry_seconds)
                await self.sleep(self.retry_seconds)
        finally:
            if self.leading:
                await self._stop()
            await self.lock.release()

    async def _stop(self) -> None:
        self.leading = False
        self._standby_logged = False
        self.changed.set()
        try:
            await self.step_down()
        finally:
            await self.lock.release()
