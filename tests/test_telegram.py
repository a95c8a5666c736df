"""The Telegram adapter end to end: a real PTB Application polling the fake Bot API.

Commands go in as updates served by getUpdates (or posted to the webhook), and the assertions read
what the fake received and what the store holds. Each test starts and stops its own bot and fake.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from telegram import Bot
from telegram.error import BadRequest

from bot.commands import COMMANDS, Commands, menu
from bot.telegram import MAX_MESSAGE_LENGTH, TelegramBot, TelegramSender, utf16_len
from core.build.digest import digest_blocks
from core.config import PROJECT_ROOT, Settings
from core.daily import RunResult, run_day
from core.deliver.pacing import ChatPacer
from core.errors import ConfigError, DeliveryError
from core.fields import load_fields
from core.models import Block, ChatRef, Heading, PaperItem
from core.services import Services
from core.store import Store
from tests.fakes.clock import FakeMonotonic
from tests.fakes.telegram import Call, FakeTelegram, fake_telegram  # noqa: F401
from tests.samples import sample_digest

TOKEN = "123456:TEST-secret-token"
SAMPLE_DAY = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
SEEDED_AT = datetime(2025, 12, 23, 2, 0, tzinfo=UTC)
CHAT_NOW = datetime(2025, 12, 23, 2, 30, tzinfo=UTC)  # Monday 21:30 in New York, after the seeding run
CHAT = 42
MARKERS = itertools.count(1)


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def tg(chat_id: int) -> ChatRef:
    return ChatRef("telegram", str(chat_id))


@pytest_asyncio.fixture
async def services(tmp_path: Path, fake_telegram: FakeTelegram) -> AsyncIterator[Services]:  # noqa: F811
    settings = Settings.from_env({
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
        "DIGEST_LANGUAGE": "en", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake_telegram.api_url,
    })
    async with Store.open(settings.database_path) as store:
        yield Services(settings=settings, store=store, fields=tuple(load_fields(settings.fields_path)))


@pytest_asyncio.fixture
async def bot(services: Services) -> AsyncIterator[TelegramBot]:
    telegram_bot = TelegramBot(services.settings, Commands(services), webhook_listen="127.0.0.1",
                               clock=lambda: CHAT_NOW, min_interval=0)
    await telegram_bot.start()
    try:
        yield telegram_bot
    finally:
        await telegram_bot.stop()


async def seed(services: Services) -> RunResult:
    """Score the shipped sample day offline, so /today, /paper and /search have papers."""
    return await run_day(services, now=SEEDED_AT, input_path=SAMPLE_DAY, offline=True, write_markdown=False)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


def sent(fake: FakeTelegram, chat_id: int) -> list[Call]:
    return [c for c in fake.calls("sendMessage") if c.params.get("chat_id") == str(chat_id)]


async def run(fake: FakeTelegram, chat_id: int, text: str, *, check: bool = True, **options: Any) -> list[Call]:
    """Send one command and return the messages it caused, all accepted by the fake (unless not `check`).

    Updates are handled in order, so the answer to a search for a unique word, pushed right after,
    marks the end of the answer.
    """
    start = len(sent(fake, chat_id))
    marker = f"zzmarker{next(MARKERS)}"
    fake.push_command(chat_id, text, **options)
    fake.push_command(chat_id, f"/search {marker}", **options)

    async def answered() -> bool:
        return any(c.status is not None and c.result and marker in c.result["text"]
                   for c in sent(fake, chat_id)[start:])

    await until(answered)
    calls = sent(fake, chat_id)[start:]
    if check:
        assert [c.status for c in calls] == [200] * len(calls), [c.description for c in calls]
    return calls[:-1]


def text_of(calls: list[Call]) -> str:
    """What the reader sees: the parsed text of the messages, joined."""
    return "\n".join(c.result["text"] for c in calls)


# -- lifecycle and menu ----------------------------------------------------------------------------


async def test_start_publishes_the_menu_in_english_and_chinese_then_polls(
    bot: TelegramBot, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    en, zh = fake_telegram.calls("setMyCommands")
    assert en.params["commands"] == [{"command": c, "description": d} for c, d in menu("en")]
    assert "language_code" not in en.params
    assert zh.params["commands"] == [{"command": c, "description": d} for c, d in menu("zh")]
    assert zh.params["language_code"] == "zh"
    assert fake_telegram.calls("getMe") and fake_telegram.calls("deleteWebhook")
    [poll, *_] = await fake_telegram.wait_for("getUpdates")
    assert set(poll.params["allowed_updates"]) == {"message", "channel_post", "callback_query", "my_chat_member"}
    assert {call.token for call in fake_telegram.calls()} == {TOKEN}


async def test_a_rejected_token_fails_start_with_a_config_error(
    services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    fake_telegram.token = "999:the-real-one"
    with pytest.raises(ConfigError, match="Telegram rejected TELEGRAM_BOT_TOKEN"):
        await TelegramBot(services.settings, Commands(services)).start()
    assert [c.status for c in fake_telegram.calls("getMe")] == [401]


# -- commands --------------------------------------------------------------------------------------


async def test_every_command_answers_end_to_end(
    bot: TelegramBot, services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    await seed(services)
    store, chat, covered = services.store, tg(CHAT), set()

    async def ask(text: str) -> str:
        covered.add(text.split()[0][1:])
        return text_of(await run(fake_telegram, CHAT, text))

    assert "I read each day's new arXiv papers" in await ask("/start")
    assert "/min_score — Set the score threshold" in await ask("/help")
    assert (await ask("/subscribe")).startswith("Subscribed.")
    assert (sub := await store.get_subscription(chat)) is not None and sub.active
    assert (await ask("/unsubscribe")).startswith("Unsubscribed.")
    assert (sub := await store.get_subscription(chat)) is not None and not sub.active
    await ask("/subscribe")
    assert "efficient-llm — Efficient LLM" in await ask("/fields")
    assert "Fields set: Efficient LLM" in await ask("/field efficient-llm safety-alignment")
    assert "Threshold set to 6.0." in await ask("/min_score 6")
    assert "Interests saved" in await ask("/interests KV cache, quantization")
    assert "Following: Sören Auer" in await ask("/follow Sören Auer")
    assert "Stopped following: Sören Auer" in await ask("/unfollow Auer, Soren")
    assert "Daily delivery set to 08:30 (Asia/Shanghai)." in await ask("/time 08:30")
    assert "Timezone set to Europe/Berlin." in await ask("/timezone Europe/Berlin")
    assert "语言已设为中文" in await ask("/lang zh")
    assert "Language set to English." in await ask("/lang en")
    assert (sub := await store.get_subscription(chat)) is not None
    assert (sub.active, sub.fields, sub.min_score, sub.digest_time, sub.timezone, sub.lang, sub.interests) == (
        True, ("efficient-llm", "safety-alignment"), 6.0, "08:30", "Europe/Berlin", "en", "KV cache, quantization")
    assert "Threshold: 6.0" in await ask("/settings")

    today = await run(fake_telegram, CHAT, "/today")
    covered.add("today")
    assert "ArXiv Daily Digest - 2025-12-22" in text_of(today)
    assert "Efficient LLM" in text_of(today)
    paper_rows = [row for call in today for row in call.params.get("reply_markup", {}).get("inline_keyboard", [])]
    assert paper_rows and paper_rows[0][0]["text"] == "1 👍" and paper_rows[0][0]["callback_data"].startswith("v:+1:")

    stored = (await store.papers_for_day(date(2025, 12, 22)))[0]
    [paper] = await run(fake_telegram, CHAT, f"/paper {stored.arxiv_id}")
    covered.add("paper")
    assert stored.title.split()[0] in paper.result["text"] and "Summary:" in paper.result["text"]
    assert [b["callback_data"] for b in paper.params["reply_markup"]["inline_keyboard"][0]] == [
        f"v:+1:{stored.arxiv_id}", f"v:-1:{stored.arxiv_id}"]
    word = max(re.findall(r"[A-Za-z]{6,}", stored.title), key=len)
    assert f'Results for "{word}":' in await ask(f"/search {word}")
    assert stored.title.split(":")[0] in await ask(f"/search {word}")
    why = await ask(f"/why {stored.arxiv_id}")
    assert "Scores per field" in why and "My interests" in why and "Votes:" in why
    assert "every Monday at 08:30 (Europe/Berlin)" in await ask("/weekly on")  # /weekly itself: test_weekly.py
    assert "Weekly digest off" in await ask("/weekly off")

    assert covered == {name for name, _, _ in COMMANDS}


async def test_bad_arguments_are_refused_and_the_old_values_kept(
    bot: TelegramBot, services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    async def ask(text: str) -> str:
        return text_of(await run(fake_telegram, CHAT, text))

    await ask("/subscribe")
    await ask("/min_score 8.5")
    before = await services.store.get_subscription(tg(CHAT))
    assert "got 11. It stays 8.5" in await ask("/min_score 11")
    assert "got abc. It stays 8.5" in await ask("/min_score abc")
    assert "Unknown field: unknwn-slug. Did you mean: " in await ask("/field unknwn-slug")
    assert "Unknown field: efficent-llm. Did you mean: efficient-llm, " in await ask("/field efficent-llm")
    assert "Time must be HH:MM (e.g. 08:30); got 25:00." in await ask("/time 25:00")
    assert "Unknown timezone: Mars/Base." in await ask("/timezone Mars/Base")
    assert "Only zh or en are supported; got fr." in await ask("/lang fr")
    assert "Usage: /paper 2601.08151" in await ask("/paper")
    assert await services.store.get_subscription(tg(CHAT)) == before


async def test_unknown_commands_get_an_answer_in_private_and_other_bots_commands_are_ignored(
    bot: TelegramBot, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    assert "Unknown command: /frobnicate" in text_of(await run(fake_telegram, CHAT, "/frobnicate"))
    assert await run(fake_telegram, -1001, "/settings@someone_else_bot", chat_type="supergroup") == []
    assert "Threshold" in text_of(await run(fake_telegram, -1001, "/min_score@digest_test_bot", chat_type="supergroup"))


async def test_in_a_group_only_admins_change_settings(
    bot: TelegramBot, services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    group, user = -1001234, 7
    answer = text_of(await run(fake_telegram, group, "/min_score 8", chat_type="supergroup", user_id=user))
    assert "only group admins can change" in answer
    assert await services.store.get_subscription(tg(group)) is None
    [check] = fake_telegram.calls("getChatMember")
    assert (check.params["chat_id"], check.params["user_id"]) == (str(group), str(user))

    fake_telegram.set_member(group, user, "administrator")
    answer = text_of(await run(fake_telegram, group, "/min_score 8", chat_type="supergroup", user_id=user))
    assert "Threshold set to 8.0." in answer
    assert (sub := await services.store.get_subscription(tg(group))) is not None and sub.min_score == 8.0
    assert len(fake_telegram.calls("getChatMember")) == 2  # asked only for the two changes, not for /settings

    # An admin posting anonymously ("as the group") is an admin without asking getChatMember.
    answer = text_of(await run(fake_telegram, group, "/min_score 9", chat_type="supergroup",
                               sender_chat=fake_telegram.add_chat(group)))
    assert "Threshold set to 9.0." in answer
    assert len(fake_telegram.calls("getChatMember")) == 2


async def test_commands_posted_in_a_channel_work(
    bot: TelegramBot, services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    channel = -1009876
    answer = text_of(await run(fake_telegram, channel, "/subscribe", chat_type="channel"))
    assert answer.startswith("Subscribed.")
    assert (sub := await services.store.get_subscription(tg(channel))) is not None and sub.active
    assert fake_telegram.calls("getChatMember") == []  # channel posts come from admins


# -- buttons ---------------------------------------------------------------------------------------


async def test_a_tap_on_a_field_button_toggles_the_field_and_updates_the_keyboard(
    bot: TelegramBot, services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    [menu_message] = await run(fake_telegram, CHAT, "/field")
    rows = menu_message.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in rows] == [f"f:{f.slug}" for f in services.fields]
    assert all(row[0]["text"].startswith("✅ ") for row in rows)

    query_id = fake_telegram.push_callback(CHAT, "f:efficient-llm", message_id=menu_message.result["message_id"])
    [answer] = await fake_telegram.wait_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == query_id and answer.status == 200
    assert answer.params["text"].startswith("Fields set:")
    [edit] = await fake_telegram.wait_for("editMessageText")
    assert edit.status == 200 and edit.params["message_id"] == str(menu_message.result["message_id"])
    labels = {row[0]["callback_data"]: row[0]["text"] for row in edit.params["reply_markup"]["inline_keyboard"]}
    assert labels["f:efficient-llm"].startswith("▫️ ") and labels["f:dl-theory"].startswith("✅ ")
    sub = await services.store.get_subscription(tg(CHAT))
    assert sub is not None and sub.fields == tuple(f.slug for f in services.fields if f.slug != "efficient-llm")


async def test_a_vote_tap_on_todays_digest_is_stored_and_answered(
    bot: TelegramBot, services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    await seed(services)
    digest = await run(fake_telegram, CHAT, "/today")
    first = digest[0] if "reply_markup" in digest[0].params else digest[1]
    up = first.params["reply_markup"]["inline_keyboard"][0][0]
    assert up["text"] == "1 👍"
    arxiv_id = up["callback_data"].removeprefix("v:+1:")
    fake_telegram.push_callback(CHAT, up["callback_data"], message_id=first.result["message_id"])
    [answer] = await fake_telegram.wait_for("answerCallbackQuery")
    assert answer.status == 200 and answer.params["text"] == "Noted 👍"
    assert await services.store.get_votes(tg(CHAT)) == {arxiv_id: 1}
    assert fake_telegram.calls("editMessageText") == []


# -- chat lifecycle --------------------------------------------------------------------------------


async def test_a_group_migration_moves_the_subscription(
    bot: TelegramBot, services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    old, new, user = -555, -100555, 9
    fake_telegram.set_member(old, user, "creator")
    await run(fake_telegram, old, "/subscribe", chat_type="group", user_id=user)
    await run(fake_telegram, old, "/min_score 9", chat_type="group", user_id=user)
    fake_telegram.push_migration(old, new)

    async def moved() -> bool:
        return await services.store.get_subscription(tg(new)) is not None

    await until(moved)
    sub = await services.store.get_subscription(tg(new))
    assert sub is not None and sub.active and sub.min_score == 9.0
    assert await services.store.get_subscription(tg(old)) is None


async def test_blocking_the_bot_deactivates_the_subscription_and_keeps_its_settings(
    bot: TelegramBot, services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    await run(fake_telegram, CHAT, "/subscribe")
    await run(fake_telegram, CHAT, "/min_score 9")
    fake_telegram.push_my_chat_member(CHAT, "kicked")

    async def inactive() -> bool:
        sub = await services.store.get_subscription(tg(CHAT))
        return sub is not None and not sub.active

    await until(inactive)
    sub = await services.store.get_subscription(tg(CHAT))
    assert sub is not None and sub.min_score == 9.0


async def test_a_failed_reply_is_logged_and_answered_with_a_short_message(
    bot: TelegramBot, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_telegram.fail_next("sendMessage", 400, description="Bad Request: something odd", chat_id=CHAT)
    failed, apology = await run(fake_telegram, CHAT, "/help", check=False)
    assert (failed.status, apology.status) == (400, 200)
    # What failed, in words: the chat is not shown Telegram's error text or its own id.
    assert apology.result["text"] == "Sending the message failed; try again later."
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


# -- the sender (what the delivery layer uses) -----------------------------------------------------


def thirty_papers() -> list[Block]:
    blocks: list[Block] = [Heading("ArXiv Daily Digest - 2026-01-19")]
    for i in range(30):
        if i % 10 == 0:
            blocks.append(Heading(f"Field {i // 10}", level=2))
        blocks.append(PaperItem(
            arxiv_id=f"2601.{i:05d}", title=f"Paper {i} <on> KV & caches_{i}", url=f"https://arxiv.org/abs/2601.{i:05d}",
            authors="Ada Lovelace, Alan Turing", published=date(2026, 1, 19), score=9.0,
            why="A careful study of cache compression & its limits. " * 6, field_slug="f",
        ))
    return blocks


async def test_titles_with_markup_characters_are_escaped_and_accepted(
    bot: TelegramBot, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    sender = bot.sender
    for part in sender.render(digest_blocks(sample_digest("en")), "en"):
        await sender.send_part(tg(CHAT), part)
    [call] = sent(fake_telegram, CHAT)
    assert call.status == 200 and call.params["parse_mode"] == "HTML"
    assert call.params["link_preview_options"] == {"is_disabled": True}
    assert "KV-cache &lt;compression&gt; &amp; the *fast* path" in call.text
    assert "Quantized attention_kernels" in call.text
    assert "KV-cache <compression> & the *fast* path" in call.result["text"]


async def test_a_30_paper_digest_is_sent_as_several_accepted_messages(
    bot: TelegramBot, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    parts = bot.sender.render(thirty_papers(), "en")
    assert len(parts) > 1
    for part in parts:
        await bot.sender.send_part(tg(CHAT), part)
    calls = sent(fake_telegram, CHAT)
    assert [c.status for c in calls] == [200] * len(parts)
    assert all(utf16_len(c.text) <= MAX_MESSAGE_LENGTH for c in calls)
    for i in range(30):
        title = f"Paper {i} <on> KV & caches_{i}"
        assert sum(title in c.result["text"] for c in calls) == 1
    buttons = [row[0]["text"] for c in calls for row in c.params["reply_markup"]["inline_keyboard"]]
    assert buttons == [f"{n} 👍" for n in range(1, 31)]


@pytest.mark.parametrize(
    ("failure", "permanent", "migrate_to"),
    [
        ({"status": 403}, True, None),
        ({"status": 403, "description": "Forbidden: bot was kicked from the supergroup chat"}, True, None),
        ({"status": 400, "description": "Bad Request: chat not found"}, True, None),
        ({"status": 400, "migrate_to_chat_id": -1001999}, False, "-1001999"),
        ({"status": 400, "description": "Bad Request: not enough rights to send text messages"}, False, None),
        ({"status": 502, "times": 3}, False, None),
        ({"status": 429, "retry_after": 1, "times": 3}, False, None),
    ],
    ids=["blocked", "kicked", "chat-not-found", "migrated", "other-bad-request", "502-thrice", "429-thrice"],
)
async def test_telegram_refusals_become_delivery_errors(
    fake_telegram: FakeTelegram, failure: dict[str, Any], permanent: bool, migrate_to: str | None  # noqa: F811
) -> None:
    async with Bot(TOKEN, base_url=fake_telegram.api_url) as plain_bot:  # no rate limiter: a 429 is not retried
        sender = TelegramSender(plain_bot, retry_delay=0.01)
        fake_telegram.fail_next("sendMessage", **failure)
        [part] = sender.render([Heading("Hello")], "en")
        with pytest.raises(DeliveryError) as caught:
            await sender.send_part(tg(CHAT), part)
    assert (caught.value.permanent, caught.value.migrate_to) == (permanent, migrate_to)
    assert "telegram chat 42" in str(caught.value)


async def test_network_errors_are_retried_with_backoff(fake_telegram: FakeTelegram) -> None:  # noqa: F811
    async with Bot(TOKEN, base_url=fake_telegram.api_url) as plain_bot:
        sender = TelegramSender(plain_bot, retry_delay=0.01)
        fake_telegram.fail_next("sendMessage", 502, times=2)
        [part] = sender.render([Heading("Hello")], "en")
        await sender.send_part(tg(CHAT), part)
    assert [c.status for c in sent(fake_telegram, CHAT)] == [502, 502, 200]


async def test_a_429_waits_retry_after_and_then_succeeds(
    bot: TelegramBot, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    fake_telegram.fail_next("sendMessage", 429, retry_after=1)
    [part] = bot.sender.render([Heading("Hello")], "en")
    await bot.sender.send_part(tg(CHAT), part)
    first, second = sent(fake_telegram, CHAT)
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0


async def test_messages_to_one_chat_are_paced_and_other_chats_do_not_wait(
    fake_telegram: FakeTelegram,  # noqa: F811
) -> None:
    clock = FakeMonotonic()
    async with Bot(TOKEN, base_url=fake_telegram.api_url) as plain_bot:
        sender = TelegramSender(plain_bot, pacer=ChatPacer(1.0, clock, sleep=clock.sleep))
        [part] = sender.render([Heading("Hello")], "en")
        for _ in range(3):
            await sender.send_part(tg(CHAT), part)
        await sender.send_part(tg(CHAT + 1), part)
    assert [c.status for c in sent(fake_telegram, CHAT)] == [200] * 3
    assert [c.status for c in sent(fake_telegram, CHAT + 1)] == [200]
    assert clock.sleeps == [1.0, 1.0]  # the second and third to one chat waited; the other chat did not


def test_telegram_paces_each_chat_at_one_second_unless_told_otherwise(services: Services) -> None:
    assert TelegramSender(Bot(TOKEN)).min_interval == 1.0
    assert TelegramBot(services.settings, Commands(services)).sender.min_interval == 1.0
    assert TelegramBot(services.settings, Commands(services), min_interval=0).sender.min_interval == 0


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("", "message text is empty"),
        ("<b></b>  ", "message text is empty"),
        ("x" * 4097, "message is too long"),
        ("😀" * 2049, "message is too long"),
        ("<b>bold", "can't parse entities: Can't find end tag"),
        ("<b><i>x</b></i>", "can't parse entities: Unmatched end tag"),
        ("<h1>x</h1>", "can't parse entities: Unsupported start tag \"h1\""),
        ("fish & chips", "can't parse entities: Unsupported HTML entity"),
        ("a &nbsp; b", "can't parse entities: Unsupported HTML entity"),
    ],
)
async def test_the_fake_refuses_what_telegram_refuses(
    fake_telegram: FakeTelegram, html: str, description: str  # noqa: F811
) -> None:
    async with Bot(TOKEN, base_url=fake_telegram.api_url) as plain_bot:
        with pytest.raises(BadRequest, match=f"(?i){re.escape(description)}"):
            await plain_bot.send_message(CHAT, html, parse_mode="HTML")
        ok = await plain_bot.send_message(CHAT, '<b>ok</b> <a href="https://x.org/?a=1&amp;b=2">&lt;&#36;&#x24;&quot;</a>',
                                          parse_mode="HTML")
    assert ok.text == 'ok <$$"' and ok.entities[1].url == "https://x.org/?a=1&b=2"


# -- webhook mode ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_checks_the_secret_token(
    services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    port = free_port()
    settings = services.settings.replace(telegram_webhook_url="https://digest.example/telegram/hook",
                                         telegram_webhook_secret="s3cret-token", telegram_webhook_port=port)
    webhook_bot = TelegramBot(settings, Commands(services), webhook_listen="127.0.0.1", clock=lambda: CHAT_NOW,
                             min_interval=0)
    await webhook_bot.start()
    try:
        [hook] = fake_telegram.calls("setWebhook")
        assert hook.params["url"] == "https://digest.example/telegram/hook"
        assert hook.params["secret_token"] == "s3cret-token"
        assert fake_telegram.calls("getUpdates") == []
        update = fake_telegram.message_update(CHAT, "/subscribe")
        url = f"http://127.0.0.1:{port}/telegram/hook"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as resp:
                assert resp.status == 403
            async with http.post(url, json=update) as resp:
                assert resp.status == 403
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}) as resp:
                assert resp.status == 200
        [reply] = await fake_telegram.wait_for("sendMessage", chat_id=CHAT)
        assert reply.result["text"].startswith("Subscribed.")
        assert len(sent(fake_telegram, CHAT)) == 1
    finally:
        await webhook_bot.stop()
