"""What adapters report to the command layer (a chat gone, a chat moved) and what the App Home reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.commands import Commands
from core.config import Settings
from core.fields import load_fields
from core.models import ChatRef, Subscription
from core.services import Services
from core.store import Store

NOW = datetime(2025, 12, 22, 3, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


@pytest.fixture
async def commands(tmp_path: Path) -> AsyncIterator[Commands]:
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en"})
    async with Store.open(settings.database_path) as store:
        yield Commands(Services(settings, store, tuple(load_fields(settings.fields_path))))


async def test_a_gone_chat_is_deactivated_with_its_settings_kept(commands: Commands) -> None:
    store = commands.services.store
    chat = ChatRef("telegram", "42")
    sub = Subscription(chat, min_score=8.5, lang="zh", interests="KV cache")
    await store.save_subscription(sub, NOW)
    await commands.chat_gone(chat, LATER, "bot blocked")
    assert await store.get_subscription(chat) == replace(sub, active=False)
    await commands.chat_gone(ChatRef("slack", "C404"), LATER, "never seen")  # nothing to deactivate
    assert await store.get_subscription(ChatRef("slack", "C404")) is None


async def test_a_moved_chat_takes_its_settings_and_votes_along(commands: Commands) -> None:
    store = commands.services.store
    old, new = ChatRef("telegram", "-101"), ChatRef("telegram", "-100101")
    await store.save_subscription(Subscription(old, min_score=7.0), NOW)
    await store.save_vote(old, "2512.00001", 1, NOW)
    await commands.chat_moved(old, new, LATER)
    assert await store.get_subscription(old) is None
    moved = await store.get_subscription(new)
    assert moved is not None and moved.min_score == 7.0 and moved.active
    assert await store.get_votes(new) == {"2512.00001": 1}


async def test_subscribed_chats_lists_the_platforms_active_chats_with_field_names(commands: Commands) -> None:
    store = commands.services.store
    fields = commands.services.fields
    await store.save_subscription(Subscription(ChatRef("slack", "C1"), fields=(fields[0].slug,)), NOW)
    await store.save_subscription(Subscription(ChatRef("slack", "C2")), NOW)
    await store.save_subscription(Subscription(ChatRef("slack", "C3"), active=False), NOW)
    await store.save_subscription(Subscription(ChatRef("telegram", "42")), NOW)
    chats = await commands.subscribed_chats("slack", "zh")
    assert [(sub.chat.chat_id, names) for sub, names in chats] == [
        ("C1", fields[0].name("zh")), ("C2", "全部方向")]
