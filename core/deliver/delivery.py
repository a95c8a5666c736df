"""How digests cross from core to chat platforms: the Sender protocol, and the delivery ledger's pass.

A Sender (implemented in bot/) renders neutral blocks into the platform's message parts once
(`render`) and sends one part at a time (`send_part`). `deliver_due` walks the active subscriptions,
and for each one whose local delivery time has come and whose digest day has been scored, sends
the parts not yet acknowledged, recording each acknowledged part in the ledger. So a delivery
killed midway resumes at its first unsent part, a second pass sends nothing twice, and one bad
chat, stored setting or platform never stops the others: each subscription is served as core/stale.py
reads it (removed fields dropped, an unloadable time zone replaced), and told so atop its digest.
Platform errors arrive here already translated into DeliveryError. Time is a parameter.

Exactly once, as far as it can be: a part is recorded only after the platform acknowledged it, and
the record is committed before the next part goes out, so nothing is ever lost. Neither Telegram's
sendMessage nor Slack's chat.postMessage takes an idempotency key, though, so a part that reached the
platform before the process died but was not yet recorded (its request, answer and commit were under
way: one round trip per part on the wire) is sent again by the next pass. At least once for the parts
on the wire at a hard kill (SIGKILL, power loss), exactly once for the rest. A cancelled pass (Ctrl-C,
a shutdown) does not leave any: it lets the parts on the wire finish and records them before it stops.
tests/test_delivery_kill.py pins this down and bench/fanout.py measures it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from core.build.digest import digest_blocks
from core.build.reader import Reader, build_reader_digest
from core.calendar import announced_at
from core.deliver.pacing import ChatPacer
from core.deliver.report import DeliveryReport
from core.errors import DeliveryError
from core.models import Block, ChatRef, Delivery, Digest, Subscription
from core.prepare.day import DayContext, delivery_day, latest_digest_day, load_day
from core.prepare.reader import load_feedback, prepare_reader, score_interests
from core.score.interests import InterestScores
from core.services import Services
from core.stale import CheckedSubscription, check_subscription, with_notes

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # failed deliveries of one day are retried at later ticks up to this many times
UNDER_WAY_PER_SLOT = 4  # deliveries under way per part in flight (see deliver_due)


class Sender(Protocol):
    """One chat platform's outbound side.

    A Sender may also have a `pacer` (core.deliver.pacing.ChatPacer) it sends through: the pass waits
    for a chat's turn on it before taking a send slot, so per-chat pacing never slows the other chats.
    """

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


# ZoneInfo keeps only 8 zones strongly; a pass over subscribers in more zones would reload tz files.
_zone = lru_cache(maxsize=256)(ZoneInfo)


def due_at(sub: Subscription, day: date) -> datetime:
    """The subscriber's first local delivery time at or after `day` was announced (pure)."""
    tz = _zone(sub.timezone)
    local = announced_at(day).astimezone(tz)
    hour, minute = (int(x) for x in sub.digest_time.split(":"))
    candidate = datetime.combine(local.date(), time(hour, minute), tzinfo=tz)
    if candidate < local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), tzinfo=tz)
    return candidate


class _Renderer:
    """Renders each distinct (platform, settings) digest once per pass: thousands of subscribers share.

    Per settings group (language, threshold, fields, interests, and the chat itself when its votes make
    the digest its own) the reader is prepared once (core/prepare/reader.py: interests judged once per
    text, summaries fetched for the keyword matches shown) and its digest built once (core/build/reader.py);
    each platform and time zone then renders that digest once. Concurrent deliveries of one group wait
    for the first one's work instead of repeating it.

    With `expect` and `release` around each delivery, a rendering is dropped once its last subscriber
    is served, so a pass holds the digests under way, not every digest of the day.
    """

    def __init__(
        self, services: Services, ctx: DayContext, now: datetime,
        voters: frozenset[ChatRef] = frozenset(),
    ) -> None:
        self.services, self.ctx, self.day, self.now = services, ctx, ctx.day, now
        self.voters = voters  # chats whose votes or follows make their digest their own
        self._parts: dict[tuple[object, ...], Sequence[object]] = {}
        self._digests: dict[tuple[object, ...], Digest] = {}
        self._interests: dict[str, InterestScores] = {}
        self._locks: dict[object, asyncio.Lock] = {}
        self._users: Counter[tuple[object, ...]] = Counter()
        self._served: dict[Subscription, CheckedSubscription] = {}

    def checked(self, sub: Subscription) -> CheckedSubscription:
        """`sub` as stored, read as it can be served today (its groups and keys are the stored values)."""
        if sub not in self._served:
            self._served[sub] = check_subscription(sub, self.services.fields, self.services.settings)
        return self._served[sub]

    def group(self, sub: Subscription) -> tuple[object, ...]:
        """What makes two subscribers' digests the same (a chat that voted shares with nobody)."""
        own = sub.chat if sub.chat in self.voters else None
        return (sub.lang, sub.min_score, sub.fields, sub.interests.strip(), own)

    def key(self, platform: str, sub: Subscription) -> tuple[object, ...]:
        """What makes two subscribers' message parts the same: their digest, platform, time zone and notes."""
        return (platform, sub.timezone, *self.group(sub), self.checked(sub).notes(self.services.fields))

    def expect(self, platform: str, sub: Subscription) -> None:
        self._users[self.key(platform, sub)] += 1
        self._users[self.group(sub)] += 1

    def release(self, platform: str, sub: Subscription) -> None:
        for key, cache in ((self.key(platform, sub), self._parts), (self.group(sub), self._digests)):
            self._users[key] -= 1
            if self._users[key] <= 0:
                del self._users[key]
                cache.pop(key, None)
                self._locks.pop(key, None)

    def _lock(self, key: object) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def parts(self, sender: Sender, sub: Subscription) -> Sequence[object]:
        key = self.key(sender.platform, sub)
        async with self._lock(key):
            if key not in self._parts:
                digest, served = await self.digest(sub), self.checked(sub)
                has_papers = any(section.items for section in digest.sections)
                blocks = with_notes(digest_blocks(digest, served.sub.timezone), served.notes(self.services.fields))
                self._parts[key] = sender.render(blocks, served.sub.lang) if has_papers else ()
        return self._parts[key]

    async def digest(self, sub: Subscription) -> Digest:
        """The settings group's digest: prepared once, built once."""
        group = self.group(sub)
        async with self._lock(group):
            if group not in self._digests:
                mine = await self.interests(sub.interests)
                feedback = await load_feedback(self.services, sub.chat) if sub.chat in self.voters else None
                prepared = await prepare_reader(self.services, Reader.of(self.checked(sub).sub), self.ctx, now=self.now,
                                                feedback=feedback, interest_scores=mine)
                self._digests[group] = build_reader_digest(prepared)
            return self._digests[group]

    async def interests(self, text: str) -> InterestScores:
        """One interests text's scores for the day, judged once per pass (and cached in the store)."""
        key = text.strip()
        if not key:
            return InterestScores()
        async with self._lock(("interests", key)):
            if key not in self._interests:
                self._interests[key] = await score_interests(self.services, text, self.day, now=self.now,
                                                             ctx=self.ctx)
            return self._interests[key]


async def deliver_due(
    services: Services,
    senders: Mapping[str, Sender],
    *,
    now: datetime,
    day: date | None = None,
    force: bool = False,
    concurrency: int = 8,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """Send every digest that is due at `now` and not yet acknowledged; safe to run twice or to kill.

    `day` defaults to `delivery_day`: the newest announced listing day with a finished run. `force`
    ignores subscribers' delivery times (the ledger still prevents a second copy). At most `concurrency`
    parts per platform are on the wire at once. `clock` stamps ledger rows (default: `now`).
    """
    store = services.store
    stamp = clock or (lambda: now)
    if day is None:
        day, why_not = await delivery_day(services, now)
        if why_not:
            return DeliveryReport(None, note=why_not)
    if day is None:
        return DeliveryReport(None, note="no scored day yet")
    ctx = await load_day(services, day)
    report = DeliveryReport(day)
    if ctx is None:
        report.note = "the day has not been scored yet"
        return report
    if not ctx.announced:
        report.note = "no announcement that day: nothing to deliver"
        return report
    renderer = _Renderer(services, ctx, now, await store.voting_chats() | await store.following_chats())
    # One read of the day's ledger. Within a pass each chat's row is written only by its own task, so
    # this snapshot stays true for it (a migrated chat re-reads its new row).
    ledger = await store.deliveries_for_day(day)
    subs = [s for s in await store.list_subscriptions() if s.chat.platform in senders]
    # Two gates per platform, so a platform that is slow or down never holds what the other needs.
    # `slots` is taken per part (and for the render): a digest's next part queues behind the parts of
    # the other deliveries under way, which spreads one chat's parts out, and rendering keeps pace
    # with sending. `under_way` bounds the deliveries started, so that queue (and the time between one
    # digest's parts) stays short.
    slots = {platform: asyncio.Semaphore(concurrency) for platform in senders}
    under_way = {platform: asyncio.Semaphore(concurrency * UNDER_WAY_PER_SLOT) for platform in senders}
    started = stamp()
    due: list[tuple[Subscription, Delivery | None]] = []
    for sub in subs:
        served = renderer.checked(sub)
        row = ledger.get(sub.chat)
        if row is not None and row.state in ("sent", "skipped-empty"):
            report.already += 1
        elif row is not None and row.state == "failed" and row.attempts >= MAX_ATTEMPTS:
            report.gave_up += 1
        elif not force and now < due_at(served.sub, day):
            report.not_due += 1
        else:
            due.append((sub, row))
            renderer.expect(sub.chat.platform, sub)
            if served.stale:  # logged when delivered, not at every tick
                log.warning("subscription settings no longer load chat=%s:%s %s",
                            sub.chat.platform, sub.chat.chat_id, served.describe())

    async def one(sub: Subscription, row: Delivery | None) -> None:
        platform = sub.chat.platform
        try:
            await _deliver_one(
                _Delivery(services, senders[platform], slots[platform], renderer, day, report, stamp), sub, row)
        except Exception:  # even recording a failure failed (the store): log this chat, go on with the rest
            log.exception("delivery crashed chat=%s:%s day=%s", platform, sub.chat.chat_id, day)
            report.failed += 1
        finally:
            renderer.release(platform, sub)
            under_way[platform].release()

    async def feed(group: asyncio.TaskGroup, platform: str) -> None:
        for sub, row in due:
            if sub.chat.platform == platform:
                await under_way[platform].acquire()
                group.create_task(one(sub, row))

    # A TaskGroup, not gather: if the pass itself dies (cancelled, interrupted), no orphan task keeps
    # sending behind the ledger's back. One feeder per platform starts deliveries as others finish, so
    # a pass holds tasks for the deliveries under way, not one per subscriber.
    async with asyncio.TaskGroup() as group:
        for platform in senders:
            group.create_task(feed(group, platform))
    log.info("delivery pass day=%s sent=%d parts=%d failed=%d deactivated=%d not_due=%d seconds=%.2f",
             day, report.sent, report.parts, report.failed, report.deactivated, report.not_due,
             (stamp() - started).total_seconds())
    return report


async def digest_parts(
    services: Services, sender: Sender, subs: Sequence[Subscription], *, now: datetime,
    day: date | None = None,
) -> dict[ChatRef, Sequence[object]]:
    """What a delivery pass would send each of `subs` for `day`, part by part (empty: nothing to send)."""
    day = day or await latest_digest_day(services, now)
    ctx = await load_day(services, day) if day is not None else None
    if ctx is None or not ctx.announced:
        return {sub.chat: () for sub in subs}
    own = await services.store.voting_chats() | await services.store.following_chats()
    renderer = _Renderer(services, ctx, now, own)
    return {sub.chat: await renderer.parts(sender, sub) for sub in subs}


@dataclass(frozen=True, slots=True)
class _Delivery:
    """What delivering to one chat needs from its pass."""

    services: Services
    sender: Sender
    slots: asyncio.Semaphore
    renderer: _Renderer
    day: date
    report: DeliveryReport
    stamp: Callable[[], datetime]


async def _deliver_one(d: _Delivery, sub: Subscription, row: Delivery | None) -> None:
    store, chat, day, report = d.services.store, sub.chat, d.day, d.report
    try:
        async with d.slots:
            parts = await d.renderer.parts(d.sender, sub)
    except Exception as exc:  # one subscriber's broken settings or a formatter bug must not sink the pass
        log.exception("delivery render failed chat=%s:%s day=%s", chat.platform, chat.chat_id, day)
        await store.finish_delivery(chat, day, "failed", d.stamp(), error=f"render: {type(exc).__name__}: {exc}")
        report.failed += 1
        return
    if not parts:
        await store.finish_delivery(chat, day, "skipped-empty", d.stamp())
        report.skipped_empty += 1
        return
    first = row.parts_sent if row is not None else 0
    if first >= len(parts):  # every part went out before a crash; only the final record was missing
        await store.finish_delivery(chat, day, "sent", d.stamp())
        report.sent += 1
        await _repair(d, sub)
        return
    try:
        await _send_parts(d, chat, parts, first)
    except DeliveryError as exc:
        if exc.migrate_to:
            new_chat = ChatRef(chat.platform, exc.migrate_to)
            log.info("chat migrated chat=%s:%s new_chat_id=%s", chat.platform, chat.chat_id, exc.migrate_to)
            await store.move_subscription(chat, new_chat, d.stamp())
            report.migrated += 1
            moved = await store.get_subscription(new_chat)
            if moved is not None:
                moved_row = await store.get_delivery(new_chat, day)
                if moved_row is not None and moved_row.state in ("sent", "skipped-empty"):
                    report.already += 1
                    return
                await _deliver_one(d, moved, moved_row)
            return
        if exc.permanent:
            log.warning("delivery refused, deactivating chat=%s:%s day=%s error=%s",
                        chat.platform, chat.chat_id, day, exc)
            await store.set_active(chat, False, d.stamp())
            await store.finish_delivery(chat, day, "failed", d.stamp(), error=str(exc))
            report.deactivated += 1
            return
        log.warning("delivery failed, will retry chat=%s:%s day=%s error=%s", chat.platform, chat.chat_id, day, exc)
        await store.finish_delivery(chat, day, "failed", d.stamp(), error=str(exc))
        report.failed += 1
        report.errors.append(f"{chat.platform}:{chat.chat_id}: {exc}")
        return
    except Exception as exc:  # a bug or an untranslated error for one chat must not sink the pass
        log.exception("delivery crashed chat=%s:%s day=%s", chat.platform, chat.chat_id, day)
        await store.finish_delivery(chat, day, "failed", d.stamp(), error=f"{type(exc).__name__}: {exc}")
        report.failed += 1
        return
    report.sent += 1
    await _repair(d, sub)


async def _repair(d: _Delivery, sub: Subscription) -> None:
    """Once the digest telling the chat went out, store the values that can never load again as served."""
    served = d.renderer.checked(sub)
    if not served.repairable:
        return
    chat = sub.chat
    try:
        if await d.services.store.repair_subscription(sub, served.repaired(), d.stamp()):
            log.info("subscription repaired chat=%s:%s %s", chat.platform, chat.chat_id, served.describe())
    except Exception:  # the digest is out; the notice is simply told again next time
        log.exception("subscription repair failed chat=%s:%s", chat.platform, chat.chat_id)


async def _send_parts(d: _Delivery, chat: ChatRef, parts: Sequence[object], first: int) -> None:
    """Send parts[first:] in order, each committed to the ledger before the next goes out.

    A cancellation (Ctrl-C, shutdown) waits for the part on the wire to be answered and recorded before
    it takes effect: cancelling mid-request would leave a part the platform may have accepted unrecorded.
    """
    pacer: ChatPacer | None = getattr(d.sender, "pacer", None)
    for index in range(first, len(parts)):
        if pacer is not None:
            await pacer.ready(chat)  # per-chat pacing, without holding a slot
        async with d.slots:
            step = asyncio.ensure_future(_send_and_record(d, chat, parts[index], index, index == len(parts) - 1))
            try:
                await asyncio.shield(step)
            except asyncio.CancelledError:
                await asyncio.wait([step])  # bounded by the sender's own timeouts and retries
                if not step.cancelled():
                    step.exception()  # retrieved: this task reports the cancellation, not the part's fate
                raise
        d.report.parts += 1


async def _send_and_record(d: _Delivery, chat: ChatRef, part: object, index: int, last: bool) -> None:
    """Send part `index`; once the platform acknowledged it, commit it (with the last, the delivery)."""
    await d.sender.send_part(chat, part)
    await d.services.store.mark_part_sent(chat, d.day, index + 1, d.stamp(), done=last)
