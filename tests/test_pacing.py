"""Per-chat pacing (core/deliver/pacing.py) on a fake monotonic clock: no real time passes."""

from __future__ import annotations

import asyncio

from core.deliver import pacing
from core.deliver.pacing import ChatPacer
from core.models import ChatRef
from tests.fakes.clock import FakeMonotonic

A, B = ChatRef("slack", "C1"), ChatRef("telegram", "42")


def pacer(interval: float, clock: FakeMonotonic) -> ChatPacer:
    return ChatPacer(interval, clock, sleep=clock.sleep)


async def send(p: ChatPacer, clock: FakeMonotonic, chat: ChatRef, log: list[tuple[ChatRef, float]]) -> None:
    async with p.turn(chat):
        log.append((chat, clock.now))


async def test_messages_to_one_chat_are_spaced_and_other_chats_do_not_wait() -> None:
    clock = FakeMonotonic()
    p = pacer(1.0, clock)
    log: list[tuple[ChatRef, float]] = []
    for _ in range(3):
        await send(p, clock, A, log)
    await send(p, clock, B, log)
    assert log == [(A, 100.0), (A, 101.0), (A, 102.0), (B, 102.0)]
    assert clock.sleeps == [1.0, 1.0]


async def test_time_already_passed_counts_and_delay_says_what_is_left() -> None:
    clock = FakeMonotonic()
    p = pacer(1.0, clock)
    assert p.delay(A) == 0.0
    await send(p, clock, A, [])
    clock.now += 0.25
    assert p.delay(A) == 0.75
    assert p.delay(B) == 0.0
    clock.now += 5
    await send(p, clock, A, [])
    assert clock.sleeps == []


async def test_ready_waits_without_taking_the_turn() -> None:
    clock = FakeMonotonic()
    p = pacer(2.0, clock)
    await send(p, clock, A, [])
    await p.ready(A)
    assert clock.sleeps == [2.0]
    log: list[tuple[ChatRef, float]] = []
    await send(p, clock, A, log)  # ready did not count as a message: no second wait
    assert log == [(A, 102.0)] and clock.sleeps == [2.0]


async def test_concurrent_senders_to_one_chat_take_turns() -> None:
    clock = FakeMonotonic()
    p = pacer(1.0, clock)
    log: list[tuple[ChatRef, float]] = []
    await asyncio.gather(*(send(p, clock, A, log) for _ in range(3)), send(p, clock, B, log))
    assert sorted(at for chat, at in log if chat == A) == [100.0, 101.0, 102.0]
    assert len([chat for chat, _ in log if chat == B]) == 1
    assert clock.sleeps == [1.0, 1.0]  # A's second and third waited; B never did


async def test_a_failed_send_still_counts() -> None:
    clock = FakeMonotonic()
    p = pacer(1.0, clock)
    try:
        async with p.turn(A):
            raise RuntimeError("refused")
    except RuntimeError:
        pass
    assert p.delay(A) == 1.0


async def test_zero_interval_never_waits_or_reads_the_clock() -> None:
    reads: list[int] = []

    def clock() -> float:
        reads.append(1)
        return 0.0

    p = ChatPacer(0, clock)
    for _ in range(3):
        async with p.turn(A):
            pass
        await p.ready(A)
    assert p.delay(A) == 0.0 and reads == []


async def test_idle_chats_are_forgotten_and_busy_ones_kept() -> None:
    clock = FakeMonotonic()
    p = pacer(1.0, clock)
    idle = [ChatRef("slack", f"idle{i}") for i in range(pacing.PRUNE_AT - 2)]
    for chat in idle:
        await send(p, clock, chat, [])
    clock.now += 2.0
    await send(p, clock, B, [])
    assert p.delay(B) == 1.0  # B just got a message
    await send(p, clock, A, [])  # the record reaches PRUNE_AT: the idle chats are forgotten
    assert len(p._last) == 2 and p.delay(A) == 1.0 and p.delay(B) == 1.0
    assert p.delay(idle[0]) == 0.0
    assert clock.sleeps == []
