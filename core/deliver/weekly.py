"""The weekly digest's delivery: the optional image side of a Sender, and the weekly pass over its ledger.

A platform that can send images implements `ImageSender` beside core.deliver.delivery.Sender. The
weekly digest goes as the chart (where the platform takes it) and then the text, which carries all of
its meaning: where the platform refuses the image (no right to post photos, uploads off, no files scope)
the text goes alone. `deliver_weekly_due` sends each chat that turned the weekly digest on its digest
once per ISO week, on WEEKLY_DAY at or after its own delivery time (`/time`, `/timezone`); the
weekly_deliveries ledger makes a second pass, or a restart, send nothing twice. Time is a parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from core.build.weekly import WeeklyDigest, chart_caption, weekly_blocks
from core.deliver.delivery import Sender
from core.errors import DeliveryError
from core.models import Block, ChatRef, Subscription
from core.prepare.week import WeekContext, week_for
from core.services import Services
from core.stale import check_subscription
from core.views import weekly_for_subscription

if TYPE_CHECKING:
    from core.build.chart import Chart

log = logging.getLogger(__name__)

WEEKLY_DAY = 0  # Monday, in the chat's own time zone
CHART_FILE = "arxiv-weekly.png"
MAX_WEEKLY_ATTEMPTS = 3  # a failed weekly digest is retried at later ticks of its day up to this many times


@runtime_checkable
class ImageSender(Protocol):
    """A Sender that can also send one image with a short caption."""

    async def send_image(self, chat: ChatRef, png: bytes, caption: str, *, filename: str) -> None:
        """Send a PNG with a caption; return once the platform acknowledged it.

        Raises DeliveryError as Sender.send_part does; a plain one when the platform refuses the image
        (the text is then sent alone).
        """
        ...


async def send_chart(sender: object, chat: ChatRef, png: bytes, caption: str) -> bool:
    """Send a chart where `sender` takes images; return whether it went. A platform that refuses the image
    (a plain DeliveryError) is logged and False returned, so the text that follows goes alone; a chat that is
    gone or moved raises."""
    if not isinstance(sender, ImageSender):
        return False
    try:
        await sender.send_image(chat, png, caption, filename=CHART_FILE)
    except DeliveryError as exc:
        if exc.permanent or exc.migrate_to:
            raise
        log.warning("%s:%s refused the weekly chart, sending the text alone: %s", chat.platform, chat.chat_id, exc)
        return False
    return True


async def send_weekly(
    sender: Sender, chat: ChatRef, blocks: Sequence[Block], chart: Chart, caption: str, lang: str,
) -> bool:
    """Send a weekly digest: the chart (`send_chart`), then the text. Return whether the chart went."""
    sent_image = await send_chart(sender, chat, chart.png, caption)
    for part in sender.render(blocks, lang):
        await sender.send_part(chat, part)
    return sent_image


def week_name(day: date) -> str:
    """The ISO week of `day`, e.g. "2026-W49" (the ledger's key)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_due(sub: Subscription, now: datetime) -> str | None:
    """The week whose weekly digest is due for `sub` at `now` (pure): on WEEKLY_DAY in its time zone, at or
    after its delivery time; else None."""
    local = now.astimezone(ZoneInfo(sub.timezone))
    hour, minute = (int(x) for x in sub.digest_time.split(":"))
    if local.weekday() != WEEKLY_DAY or local.time() < time(hour, minute):
        return None
    return week_name(local.date())


@dataclass
class WeeklyReport:
    """What one weekly pass did, by outcome."""

    sent: int = 0
    text_only: int = 0  # of `sent`: the platform refused the chart
    already: int = 0
    not_due: int = 0
    failed: int = 0
    stopped: int = 0  # chats gone for us: their weekly digest is turned off
    note: str = ""
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"weekly: sent {self.sent} ({self.text_only} without the chart), already {self.already},"
                f" not due {self.not_due}, failed {self.failed}, stopped {self.stopped}"
                + (f"; {self.note}" if self.note else ""))


async def deliver_weekly_due(
    services: Services, senders: Mapping[str, Sender], *, now: datetime,
    clock: Callable[[], datetime] | None = None,
) -> WeeklyReport:
    """Send every weekly digest due at `now` and not yet sent this week; safe to run twice."""
    store, settings = services.store, services.settings
    stamp = clock or (lambda: now)
    report = WeeklyReport()
    built: dict[tuple[object, ...], tuple[WeeklyDigest, Chart] | None] = {}
    charts: dict[tuple[object, ...], Chart] = {}
    week_ctx: WeekContext | None = None
    own = await store.voting_chats() | await store.following_chats()  # their weekly digest is their own
    for chat in await store.weekly_chats():
        sender = senders.get(chat.platform)
        if sender is None:
            continue
        stored = await store.get_subscription(chat) or Subscription(
            chat, active=False, min_score=settings.min_score, lang=settings.digest_language,
            digest_time=settings.digest_time, timezone=settings.digest_timezone)
        sub = check_subscription(stored, services.fields, settings).sub
        week = weekly_due(sub, now)
        if week is None:
            report.not_due += 1
            continue
        state = await store.weekly_state(chat, week)
        if state is not None and (state[0] == "sent" or state[1] >= MAX_WEEKLY_ATTEMPTS):
            report.already += 1
            continue
        # chats with the same settings and interests, and no votes or follows, share one digest
        group = (sub.lang, sub.min_score, sub.fields, sub.interests.strip(), chat if chat in own else None)
        if group not in built:
            week_ctx = week_ctx or await week_for(services, now)
            built[group] = await weekly_for_subscription(services, sub, now=now, week=week_ctx, charts=charts) \
                if week_ctx is not None else None
        found = built[group]
        if found is None:
            report.note = "no scored day yet"
            return report
        weekly, chart = found
        try:
            image = await send_weekly(sender, chat, weekly_blocks(weekly), chart, chart_caption(weekly), sub.lang)
        except DeliveryError as exc:
            report.failed += 1
            report.errors.append(f"{chat.platform}:{chat.chat_id}: {exc}")
            await store.mark_weekly(chat, week, "failed", stamp(), error=str(exc))
            if exc.migrate_to:
                await store.move_subscription(chat, ChatRef(chat.platform, exc.migrate_to), stamp())
            elif exc.permanent:
                await store.set_weekly(chat, False, stamp())
                report.stopped += 1
            continue
        await store.mark_weekly(chat, week, "sent", stamp())
        report.sent += 1
        report.text_only += not image
    return report
