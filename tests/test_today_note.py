"""`/today` through the command layer: the "not ready yet" note follows arXiv's calendar at a pinned `now`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands import Caller, Commands, Reply
from bot.texts import say
from core.calendar import ARXIV_TZ
from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.fields import load_fields
from core.models import ChatRef, Note, PaperItem
from core.services import Services
from core.store import Store

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"  # Monday 2025-12-22's listing
SCORED_AT = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)  # Sunday 20:30 in New York
CHAT = ChatRef("telegram", "42")
NOT_READY = say("en", "today_old", day="2025-12-22")


@pytest.fixture
async def commands(tmp_path: Path) -> AsyncIterator[Commands]:
    """Commands over a store holding one digest: the sample day, Monday 2025-12-22."""
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en"})
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)))
        await run_day(services, now=SCORED_AT, input_path=SAMPLE, offline=True, write_markdown=False)
        yield Commands(services)


async def today_at(commands: Commands, now: datetime) -> Reply:
    reply = await commands.handle("/today", Caller(chat=CHAT, now=now))
    assert reply.kind == "digest" and any(isinstance(b, PaperItem) for b in reply.blocks)
    return reply


def notes(reply: Reply) -> list[str]:
    return [b.text for b in reply.blocks if isinstance(b, Note)]


@pytest.mark.parametrize(
    "now",
    [
        datetime(2025, 12, 22, 20, 0, tzinfo=ARXIV_TZ),  # Monday 20:00: Tuesday's listing is announced
        datetime(2025, 12, 23, 10, 0, tzinfo=ARXIV_TZ),  # Tuesday morning
        datetime(2025, 12, 27, 12, 0, tzinfo=ARXIV_TZ),  # the Saturday after: Friday's listing is the newest
        datetime(2031, 3, 4, 12, 0, tzinfo=UTC),  # years ahead
    ],
)
async def test_today_says_so_when_arxiv_has_announced_a_newer_listing(commands: Commands, now: datetime) -> None:
    reply = await today_at(commands, now)

    assert reply.blocks[0] == Note(NOT_READY)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2025, 12, 21, 20, 0, tzinfo=ARXIV_TZ),  # Sunday 20:00: Monday's listing was just announced
        datetime(2025, 12, 22, 10, 0, tzinfo=ARXIV_TZ),  # Monday morning
        datetime(2025, 12, 22, 19, 59, tzinfo=ARXIV_TZ),  # a minute before Tuesday's announcement
    ],
)
async def test_today_has_no_note_when_the_stored_digest_is_the_newest_listing(
    commands: Commands, now: datetime
) -> None:
    reply = await today_at(commands, now)

    assert NOT_READY not in notes(reply)
    assert not any("not ready" in text for text in notes(reply))
