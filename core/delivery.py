"""How digests cross from core to chat platforms: the Sender protocol, and the delivery ledger's pass.

A Sender (implemented in bot/) renders neutral blocks into the platform's message parts once
(`render`) and sends one part at a time (`send_part`). `deliver_due` walks the active subscriptions,
and for each one whose local delivery time has come and whose digest day has been scored, sends
the parts not yet acknowledged, recording each acknowledged part in the ledger. So a delivery
killed midway resumes at its first unsent part, a second pass sends nothing twice, and one bad
chat or platform never stops the others. Platform errors arrive here already translated into
DeliveryError. Time is a parameter.
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core import pipeline
from core.digest import digest_blocks
from core.errors import DeliveryError
from core.models import Block, ChatRef, Paper, Score, Subscription

log = logging.getLogger(__name__)

ARXIV_TZ = ZoneInfo("America/New_York")
ANNOUNCE_TIME = time(20, 0)  # arXiv announces at 20:00 US Eastern on the evening before the listing day
MAX_ATTEMPTS = 5  # failed deliveries of one day are retried at later ticks up to this many times


class Sender(Protocol):
    """One chat platform's outbound side."""

    platform: str  # "telegram" | "slack"

    def render(self, blocks: Sequence[Block], lang: str) -> Sequence[object]:
        """Spell blocks as the platform's message parts, each within its size limits (pure)."""
        ...

    async def send_part(self, chat: ChatRef, part: object) -> None:
        """Send one part; return only once the platform acknowledged it.

        Raises DeliveryError: `permanent=True` when the chat is gone for us (blocked, deleted,
        archived, bot removed), `migrate_to` when the chat moved to a new id, plain for a failure
        that outlived the bounded retries (429 after Retry-After, 5xx, timeouts).
        """
        ...


# -- the daily delivery pass --------------------------------------------------------------------------


def announced_at(day: date) -> datetime:
    """When arXiv announced listing day `day`: 20:00 US Eastern the evening before."""
    return datetime.combine(day - timedelta(days=1), ANNOUNCE_TIME, tzinfo=ARXIV_TZ)


def due_at(sub: Subscription, day: date) -> datetime:
    """The subscriber's first local delivery time at or after `day` was announced (pure)."""
    tz = ZoneInfo(sub.timezone)
    local = announced_at(day).astimezone(tz)
    hour, minute = (int(x) for x in sub.digest_time.split(":"))
    candidate = datetime.combine(local.date(), time(hour, minute), tzinfo=tz)
    if candidate < local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), tzinfo=tz)
    return candidate


@dataclass
class DeliveryReport:
    """What one delivery pass did, by outcome."""

    day: date | None
    sent: int = 0
    parts: int = 0
    already: int = 0
    not_due: int = 0
    skipped_empty: int = 0
    failed: int = 0
    deactivated: int = 0
    migrated: int = 0
    gave_up: int = 0
    note: str = ""
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.day is None:
            return self.note or "nothing to deliver"
        return (f"{self.day}: sent {self.sent} ({self.parts} messages), already {self.already}, "
                f"not due {self.not_due}, empty {self.skipped_empty}, failed {self.failed}, "
                f"deactivated {self.deactivated}, migrated {self.migrated}" + (f"; {self.note}" if self.note else ""))


class _Renderer:
    """Renders each distinct (platform, settings) digest once per pass: thousands of subscribers share."""

    def __init__(self, services: pipeline.Services, ctx: pipeline.DayContext, now: datetime) -> None:
        self.services, self.ctx, self.day, self.now = services, ctx, ctx.day, now
        self._parts: dict[tuple[object, ...], Sequence[object]] = {}
        self._interests: dict[str, list[tuple[Paper, Score]]] = {}

    async def parts(self, sender: Sender, sub: Subscription) -> Sequence[object]:
        key = (sender.platform, sub.lang, sub.min_score, sub.fields, sub.interests.strip(), sub.timezone)
        if key not in self._parts:
            mine: list[tuple[Paper, Score]] = []
            if sub.interests.strip():
                if sub.interests.strip() not in self._interests:
                    self._interests[sub.interests.strip()] = await pipeline.score_interests(
                        self.services, sub.interests, self.day, now=self.now)
                mine = self._interests[sub.interests.strip()]
            digest = pipeline.subscriber_digest(self.services, sub, self.ctx, mine)
            has_papers = any(section.items for section in digest.sections)
            self._parts[key] = sender.render(digest_blocks(digest, sub.timezone), sub.lang) if has_papers else ()
        return self._parts[key]


async def deliver_due(
    services: pipeline.Services,
    senders: Mapping[str, Sender],
    *,
    now: datetime,
    day: date | None = None,
    force: bool = False,
    concurrency: int = 64,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """Send every digest that is due at `now` and not yet acknowledged; safe to run twice or to kill.

    `day` defaults to the latest scored listing day. `force` ignores subscribers' delivery times
    (the ledger still prevents a second copy). `clock` stamps ledger rows (default: `now`).
    """
    store = services.store
    stamp = clock or (lambda: now)
    day = day or await pipeline.latest_digest_day(services)
    if day is None:
        return DeliveryReport(None, note="no scored day yet")
    ctx = await pipeline.load_day(services, day)
    report = DeliveryReport(day)
    if ctx is None:
        report.note = "the day has not been scored yet"
        return report
    if not ctx.announced:
        report.note = "no announcement that day: nothing to deliver"
        return report
    renderer = _Renderer(services, ctx, now)
    ledger = await store.deliveries_for_day(day)
    subs = [s for s in await store.list_subscriptions() if s.chat.platform in senders]
    gate = asyncio.Semaphore(concurrency)
    started = monotonic.monotonic()

    async def one(sub: Subscription) -> None:
        row = ledger.get(sub.chat)
        if row is not None and row.state in ("sent", "skipped-empty"):
            report.already += 1
            return
        if row is not None and row.state == "failed" and row.attempts >= MAX_ATTEMPTS:
            report.gave_up += 1
            return
        if not force and now < due_at(sub, day):
            report.not_due += 1
            return
        sender = senders[sub.chat.platform]
        async with gate:
            await _deliver_one(services, sender, renderer, sub, day, report, stamp)

    # A TaskGroup, not gather: if the pass itself dies (cancelled, interrupted), no orphan task keeps
    # sending behind the ledger's back.
    async with asyncio.TaskGroup() as group:
        for sub in subs:
            group.create_task(one(sub))
    log.info("delivery pass day=%s sent=%d parts=%d failed=%d deactivated=%d not_due=%d seconds=%.2f",
             day, report.sent, report.parts, report.failed, report.deactivated, report.not_due,
             monotonic.monotonic() - started)
    return report


async def _deliver_one(
    services: pipeline.Services, sender: Sender, renderer: _Renderer, sub: Subscription, day: date,
    report: DeliveryReport, stamp: Callable[[], datetime],
) -> None:
    store = services.store
    chat = sub.chat
    try:
        parts = await renderer.parts(sender, sub)
    except Exception:  # one subscriber's broken settings must not sink the pass
        log.exception("delivery render failed chat=%s:%s day=%s", chat.platform, chat.chat_id, day)
        report.failed += 1
        return
    row = await store.open_delivery(chat, day, stamp())
    if row.state in ("sent", "skipped-empty"):
        report.already += 1
        return
    if not parts:
        await store.finish_delivery(chat, day, "skipped-empty", stamp())
        report.skipped_empty += 1
        return
    sent_now = 0
    try:
        for index in range(row.parts_sent, len(parts)):
            await sender.send_part(chat, parts[index])
            await store.mark_part_sent(chat, day, index + 1, stamp())
            sent_now += 1
    except DeliveryError as exc:
        report.parts += sent_now
        if exc.migrate_to:
            new_chat = ChatRef(chat.platform, exc.migrate_to)
            log.info("chat migrated chat=%s:%s new_chat_id=%s", chat.platform, chat.chat_id, exc.migrate_to)
            await store.move_subscription(chat, new_chat, stamp())
            report.migrated += 1
            moved = await store.get_subscription(new_chat)
            if moved is not None:
                await _deliver_one(services, sender, renderer, moved, day, report, stamp)
            return
        if exc.permanent:
            log.warning("delivery refused, deactivating chat=%s:%s day=%s error=%s",
                        chat.platform, chat.chat_id, day, exc)
            await store.set_active(chat, False, stamp())
            await store.finish_delivery(chat, day, "failed", stamp(), error=str(exc))
            report.deactivated += 1
            return
        log.warning("delivery failed, will retry chat=%s:%s day=%s error=%s", chat.platform, chat.chat_id, day, exc)
        await store.finish_delivery(chat, day, "failed", stamp(), error=str(exc))
        report.failed += 1
        report.errors.append(f"{chat.platform}:{chat.chat_id}: {exc}")
        return
    except Exception as exc:  # a bug or an untranslated error for one chat must not sink the pass
        log.exception("delivery crashed chat=%s:%s day=%s", chat.platform, chat.chat_id, day)
        report.parts += sent_now
        await store.finish_delivery(chat, day, "failed", stamp(), error=f"{type(exc).__name__}: {exc}")
        report.failed += 1
        return
    await store.finish_delivery(chat, day, "sent", stamp())
    report.sent += 1
    report.parts += sent_now
