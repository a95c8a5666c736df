"""APScheduler (3.x) jobs inside `arxiv-digest serve`. Each job makes one call into core.

- the scoring job: `core.daily.run_day` after arXiv's announcement (SCORING_TIME in SCORING_TIMEZONE on
  SCORING_DAYS). arXiv's RSS can lag the announcement, so a run that finds no new listing tries
  again later, a bounded number of times.
- the delivery tick: `delivery.deliver_due` every minute, for the newest announced listing day that has
  been scored (never simply the last day run: a back-fill is not pushed). Each subscriber's local time
  is checked there, so one tick serves thousands of subscribers and a subscriber whose time came
  before scoring finished gets the digest at the first tick after it is ready.
- the weekly tick: `weekly.deliver_weekly_due` every minute too. A chat that turned `/weekly on` gets the
  past week's digest with its chart on Monday (core.deliver.weekly.WEEKLY_DAY) at its own `/time` in its
  `/timezone`, once a week (its ledger), or at the first tick after that on Monday.

Only the leader among the `serve` processes of a database runs them (bot/leader.py), and a delivery pass
holds the database's "delivery" lock, so a manual `deliver` and the tick never deliver at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.leader import DELIVERY_LOCK
from core.calendar import latest_listing_day
from core.config import Settings
from core.daily import run_day
from core.deliver.delivery import Sender, deliver_due
from core.deliver.weekly import deliver_weekly_due
from core.errors import DigestError
from core.services import Services

log = logging.getLogger(__name__)

RETRY_EVERY = timedelta(minutes=30)
MAX_SCORING_RETRIES = 8  # 4 hours of retries after a missing or failed listing
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def last_scheduled(settings: Settings, now: datetime) -> datetime | None:
    """The most recent scheduled scoring time at or before `now` (pure)."""
    tz = ZoneInfo(settings.scoring_timezone)
    hour, minute = (int(x) for x in settings.scoring_time.split(":"))
    local = now.astimezone(tz)
    for back in range(8):
        day = local.date() - timedelta(days=back)
        at = datetime.combine(day, time(hour, minute), tzinfo=tz)
        if DAY_NAMES[day.weekday()] in settings.scoring_days and at <= local:
            return at
    return None


def needs_catch_up(settings: Settings, last_run_started: datetime | None, now: datetime) -> bool:
    """True when the latest scheduled scoring time passed without a run after it (pure)."""
    due = last_scheduled(settings, now)
    if due is None:
        return False
    return last_run_started is None or last_run_started < due


class Scheduler:
    """Scoring, the delivery tick and the weekly tick, over one AsyncIOScheduler. Start it inside the running loop."""

    def __init__(
        self,
        services: Services,
        senders: Mapping[str, Sender],
        *,
        clock: Callable[[], datetime] | None = None,
        tick_seconds: float = 60.0,
        after_scoring: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.services = services
        self.senders = senders
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tick_seconds = tick_seconds
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._retries = 0
        self.after_scoring = after_scoring  # e.g. the web site's rebuild (bot/web.py)
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False  # set by `aclose`: no job starts after it

    def _job(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """`job` as the scheduler runs it: tracked, so `aclose` can stop it, and quiet when stopped so."""

        async def run() -> None:
            if self._closed:  # its task was made before `aclose` and first ran after: the service is stopping
                log.info("%s not started: the service is stopping", job.__name__)
                return
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            except asyncio.CancelledError:
                # The process is stopping: what the job had stored stays; the ledger and the next start resume.
                log.info("%s stopped by shutdown", job.__name__)
            finally:
                self._running.discard(task)

        run.__name__ = job.__name__
        return run

    def start(self) -> None:
        """Add the jobs and start; a scoring run missed while the service was down runs at once."""
        s = self.services.settings
        hour, minute = (int(x) for x in s.scoring_time.split(":"))
        self.scheduler.add_job(
            self._job(self.score_job), CronTrigger(day_of_week=",".join(s.scoring_days), hour=hour, minute=minute,
                                        timezone=ZoneInfo(s.scoring_timezone)),
            id="score", replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=3600,
        )
        self.scheduler.add_job(
            self._job(self.deliver_job), IntervalTrigger(seconds=self.tick_seconds), id="deliver",
            replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=int(self.tick_seconds) * 5,
        )
        self.scheduler.add_job(
            self._job(self.weekly_job), IntervalTrigger(seconds=self.tick_seconds), id="weekly",
            replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=int(self.tick_seconds) * 5,
        )
        self.scheduler.start()
        self.scheduler.add_job(self._job(self.catch_up_job), DateTrigger(run_date=self.clock()), id="catch-up")

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def aclose(self) -> None:
        """Stop scheduling, then stop the jobs under way and wait for them (before the store closes). A job
        whose task the scheduler made just before, and that had not run yet, does nothing when it does."""
        self._closed = True
        self.shutdown()
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def catch_up_job(self) -> None:
        # A back-fill (`run --date`, `run --input` of an old file) is no scheduled run: skip runs of a day
        # older than the newest listing out when they started.
        runs = [r for r in await self.services.store.list_runs(limit=30)
                if r.day >= latest_listing_day(r.started_at)]
        last = runs[0].started_at if runs else None
        if needs_catch_up(self.services.settings, last, self.clock()):
            log.info("scoring run missed while stopped: running it now")
            await self.score_job()
        else:
            await self.deliver_job()

    async def score_job(self) -> None:
        """Run the day's cycle; retry later when arXiv's feed has not moved on yet or failed."""
        now = self.clock()
        try:
            result = await run_day(self.services, now=now, clock=self.clock)
        except DigestError as exc:
            log.error("scoring run failed: %s", exc)
            self._schedule_retry(now, f"error: {exc}")
            await self.deliver_job()  # what is due still goes out (a new leader's catch-up resumes a delivery)
            return
        except Exception:
            log.exception("scoring run crashed")
            self._schedule_retry(now, "crash")
            await self.deliver_job()
            return
        log.info("scoring run: %s", result.message)
        if self.after_scoring is not None:
            await self.after_scoring()
        if result.status == "done" and result.new_papers == 0:
            # The feed still shows a listing we already have: arXiv's RSS has not updated yet.
            self._schedule_retry(now, "the feed still shows an earlier listing")
        else:
            self._retries = 0
        await self.deliver_job()

    def _schedule_retry(self, now: datetime, why: str) -> None:
        if self._retries >= MAX_SCORING_RETRIES:
            log.warning("scoring: giving up until the next scheduled run (%s)", why)
            self._retries = 0
            return
        self._retries += 1
        at = now + RETRY_EVERY
        log.info("scoring: retry %d/%d at %s (%s)", self._retries, MAX_SCORING_RETRIES, at.isoformat(), why)
        self.scheduler.add_job(self._job(self.score_job), DateTrigger(run_date=at), id="score-retry",
                               replace_existing=True)

    async def deliver_job(self) -> None:
        """Send every digest that is due now, unless another process (`arxiv-digest deliver`) is delivering."""
        if not self.senders:
            return
        lock = self.services.store.named_lock(DELIVERY_LOCK, note=f"serve's delivery tick, pid {os.getpid()}")
        if not await lock.try_acquire():
            log.info("delivery: another process is delivering (%s); the next tick tries again", lock.holder())
            return
        try:
            report = await deliver_due(self.services, self.senders, now=self.clock(), clock=self.clock)
        except DigestError as exc:
            log.error("delivery pass failed: %s", exc)
            return
        finally:
            await lock.release()
        if report.sent or report.failed or report.deactivated:
            log.info("delivery: %s", report.summary())

    async def weekly_job(self) -> None:
        """Send every weekly digest that is due now."""
        if not self.senders:
            return
        try:
            report = await deliver_weekly_due(self.services, self.senders, now=self.clock(), clock=self.clock)
        except DigestError as exc:
            log.error("weekly pass failed: %s", exc)
            return
        if report.sent or report.failed or report.stopped:
            log.info("%s", report.summary())
