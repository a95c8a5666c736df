"""The weekly digest: the pure builder and chart, /weekly on both platforms' fakes (real PTB and slack_sdk
clients), the image refused -> text alone, /weekly on|off kept in the store, and the weekly job's once a week.

Time is a parameter everywhere: commands get a pinned clock, the job a pinned `now`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from telegram import Bot

import core.build.chart as chart_module
from bot.commands import COMMANDS, Caller, Commands
from bot.schedule import Scheduler
from bot.slack import SlackSender, build_slack_app, build_slack_client
from bot.telegram import TelegramBot, TelegramSender
from core.build.chart import HEIGHT, WIDTH, drawable, render_chart
from core.build.digest import INTERESTS_SLUG
from core.build.weekly import build_weekly, rising_terms, weekly_blocks
from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.deliver.weekly import deliver_weekly_due, send_weekly, week_name, weekly_due
from core.fields import load_fields
from core.models import ChatRef, Heading, Note, PaperItem, Subscription
from core.prepare.day import load_day
from core.score.feedback import Feedback
from core.score.profile import parse_interests
from core.services import Services
from core.store import Store
from core.views import weekly_for_subscription
from tests.fakes.slack import FakeSlack, fake_slack  # noqa: F401
from tests.fakes.telegram import FakeTelegram, fake_telegram  # noqa: F401
from tests.samples import FIELDS, paper, score
from tests.test_slack import bolt_request, command_body
from tests.test_telegram import run, text_of

TOKEN = "123456:TEST-secret-token"
SAMPLE_DAY = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
SEEDED_AT = datetime(2025, 12, 23, 2, 0, tzinfo=UTC)
CHAT_NOW = datetime(2025, 12, 23, 2, 30, tzinfo=UTC)  # the sample day (Monday 2025-12-22) is "today"
CHAT = 42


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's (width, height) from its IHDR chunk, checking the signature and the chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16:16 + length]
    (crc,) = struct.unpack(">I", data[16 + length:20 + length])
    assert crc == zlib.crc32(kind + body), "IHDR CRC mismatch"
    width, height = struct.unpack(">II", body[:8])
    assert data.endswith(b"IEND\xaeB`\x82"), "no IEND chunk"
    return width, height


# -- the builder and the chart (pure) ----------------------------------------------------------------


MONDAY = date(2026, 1, 19)


def week_of_papers() -> tuple[list[tuple[date, list]], list]:
    days = []
    for i in range(5):
        day = MONDAY + timedelta(days=i)
        scored = [
            (p := paper(10 * i + 1, f"Speculative decoding for long context {i}", day=day,
                        abstract=f"Fast. Code: https://github.com/example/spec-{i}"),
             score(p, "efficient-llm", 6.0 + i, f"reason {i}")),
            (p := paper(10 * i + 2, f"Reward hacking in alignment {i}", day=day),
             score(p, "safety-alignment", 9.0 - i)),
            (p := paper(10 * i + 3, "Protein folding", day=day), score(p, "efficient-llm", 2.0)),
        ]
        days.append((day, scored))
    before = [(p := paper(900 + i, "Reward hacking revisited", day=MONDAY - timedelta(days=3)),
               score(p, "safety-alignment", 8.0)) for i in range(5)]
    return days, before


def test_the_weekly_digest_takes_the_weeks_best_per_field_and_counts_each_day() -> None:
    days, before = week_of_papers()
    weekly = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="en", min_score=7.0,
                          per_field=2)
    [efficient, safety] = weekly.sections
    assert [p.arxiv_id for p, _ in efficient.items] == ["2601.00041", "2601.00031"]  # 10.0, 9.0 of the week
    assert [s.value for _, s in safety.items] == [9.0, 8.0]
    assert weekly.days == tuple(d for d, _ in days)
    # efficient-llm reaches 7 from Tuesday (7.0) on; safety-alignment until Wednesday (7.0)
    assert weekly.counts == ((0, 1), (1, 1), (1, 1), (1, 0), (1, 0))
    assert weekly.hits == 7 and weekly.papers_read == 15
    terms = [r.term for r in weekly.rising]
    assert weekly.compared and {"long context", "speculative decoding", "protein folding"} <= set(terms[:3]), terms
    assert "speculative" not in terms, "a word seen only inside a rising phrase gives way to the phrase"
    assert "reward hacking" not in terms, "as common the week before: not rising"
    assert "alignment" in terms, "new this week"
    blocks = weekly_blocks(weekly)
    assert blocks[0] == Heading("ArXiv Weekly Digest · 2026-01-19 – 2026-01-25")
    assert [b.text for b in blocks if isinstance(b, Heading) and b.level == 2] == [f.name_en for f in FIELDS]
    items = [b for b in blocks if isinstance(b, PaperItem)]
    assert len(items) == 4 and items[0].code_url == "https://github.com/example/spec-4"  # as in every digest
    assert any(isinstance(b, Note) and b.text.startswith("Rising terms this week: ") for b in blocks)


def test_the_weekly_digest_follows_the_chats_own_signals_as_its_daily_digests_do() -> None:
    # Interests lead (best of the week); a 👎 paper is hidden; a followed author's paper is marked and shown
    # whatever its score; the chart's counts stay the fields' own.
    days, before = week_of_papers()
    interests = parse_interests("reward hacking").field()
    liked = days[2][1][1][0]  # "Reward hacking in alignment 2", 7.0 in safety-alignment
    interest_scores = [(liked, score(liked, INTERESTS_SLUG, 9.5, "on reward hacking"))]
    disliked = days[0][1][1][0]  # 9.0, the week's best of safety-alignment
    low = days[1][1][2][0]  # "Protein folding", 2.0
    feedback = Feedback(votes=((disliked, -1),), follows=(low.authors[0],))
    plain = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="en", min_score=7.0)
    mine = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="en", min_score=7.0,
                        interests=interests, interest_scores=interest_scores, feedback=feedback)
    assert mine.counts == plain.counts and mine.fields == plain.fields
    assert mine.sections[0].field.slug == INTERESTS_SLUG
    assert [p.arxiv_id for p, _ in mine.sections[0].items] == [liked.arxiv_id]
    shown = {p.arxiv_id: p for section in mine.sections for p, _ in section.items}
    assert disliked.arxiv_id in {p.arxiv_id for s in plain.sections for p, _ in s.items}
    assert disliked.arxiv_id not in shown
    assert shown[low.arxiv_id].authors[0].startswith("⭐")
    assert list(shown).count(liked.arxiv_id) == 1, "a paper once, in the first section that takes it"
    blocks = weekly_blocks(mine)
    assert [b.text for b in blocks if isinstance(b, Heading) and b.level == 2][0] == "My interests"
    # nothing for the interests this week: the section says so
    empty = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="zh", min_score=7.0,
                         interests=interests, interest_scores=[])
    notes = [b.text for b in weekly_blocks(empty) if isinstance(b, Note)]
    assert "本周没有达到 7.0 分、符合你兴趣的论文。" in notes


def test_without_an_earlier_week_the_rising_terms_are_the_weeks_most_frequent() -> None:
    week = [paper(i, "Diffusion transformers for video") for i in range(3)] + [paper(9, "Graph kernels")]
    terms, compared = rising_terms(week, [])
    assert not compared and terms[0].term == "diffusion transformers" and terms[0].this_week == 3
    assert "graph kernels" not in [t.term for t in terms], "once is not a trend"


def test_the_chart_is_a_png_of_the_stated_size_and_the_same_bytes_every_time() -> None:
    days, before = week_of_papers()
    weekly = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="en", min_score=7.0)
    chart = render_chart(weekly)
    assert (chart.width, chart.height) == (WIDTH, HEIGHT) == png_size(chart.png) == (1200, 800)
    assert render_chart(weekly).png == chart.png, "deterministic: no timestamp, no system font"
    assert b"Software" not in chart.png and b"tIME" not in chart.png


def test_a_chinese_chart_is_drawn_in_chinese_with_the_shipped_font() -> None:
    assert drawable("Efficient LLM training") and drawable(FIELDS[0].name_zh) and drawable("周一，（阈值）")
    days, before = week_of_papers()
    zh = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="zh", min_score=7.0)
    en = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="en", min_score=7.0)
    chart = render_chart(zh)
    assert png_size(chart.png) == (WIDTH, HEIGHT) and chart.png == render_chart(zh).png, "deterministic"
    assert chart.png != render_chart(en).png, "Chinese labels, not the English ones"
    assert weekly_blocks(zh)[0] == Heading("ArXiv 每周精选 · 2026-01-19 – 2026-01-25")


def test_without_its_chinese_font_the_chart_is_drawn_in_english_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    days, before = week_of_papers()
    zh = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="zh", min_score=7.0)
    en = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="en", min_score=7.0)
    monkeypatch.setattr(chart_module, "FONTS_PACKAGE", "arxiv_digest_data.gone")  # a broken install
    chart_module._fonts.cache_clear()
    try:
        assert not drawable("周一") and render_chart(zh).png == render_chart(en).png
        assert "Chinese font cannot be loaded" in caplog.text
    finally:
        chart_module._fonts.cache_clear()


def test_a_label_the_fonts_cannot_draw_falls_back_to_english() -> None:
    assert not drawable("ロボット学習") and not drawable("龘龘") and not drawable("로봇")
    days, before = week_of_papers()

    def chart(name_zh: str) -> bytes:
        fields = [replace(FIELDS[0], name_zh=name_zh), *FIELDS[1:]]
        weekly = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, fields, lang="zh", min_score=7.0)
        return render_chart(weekly).png

    assert chart("ロボット学習") == chart(FIELDS[0].name_en) != chart(FIELDS[0].name_zh), "English, not boxes"


def test_weekly_is_due_on_monday_at_the_chats_own_time_and_named_by_its_iso_week() -> None:
    sub = Subscription(ChatRef("telegram", "1"), digest_time="09:00", timezone="Europe/Berlin")
    assert weekly_due(sub, datetime(2025, 12, 29, 7, 59, tzinfo=UTC)) is None  # 08:59 in Berlin
    assert weekly_due(sub, datetime(2025, 12, 29, 8, 0, tzinfo=UTC)) == "2026-W01"
    assert weekly_due(sub, datetime(2025, 12, 30, 8, 0, tzinfo=UTC)) is None  # Tuesday
    # Monday 01:00 in Shanghai is still Sunday in UTC: the chat's own day counts
    east = Subscription(ChatRef("telegram", "2"), digest_time="00:30", timezone="Asia/Shanghai")
    assert weekly_due(east, datetime(2025, 12, 28, 17, 0, tzinfo=UTC)) == "2026-W01"
    assert week_name(date(2026, 1, 19)) == "2026-W04"


# -- the store and the commands ----------------------------------------------------------------------


@pytest_asyncio.fixture
async def services(tmp_path: Path, fake_telegram: FakeTelegram, fake_slack: FakeSlack) -> AsyncIterator[Services]:  # noqa: F811
    settings = Settings.from_env({
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
        "DIGEST_LANGUAGE": "en", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake_telegram.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "test-signing-secret",
        "SLACK_API_BASE_URL": f"{fake_slack.url}/api/",
    })
    async with Store.open(settings.database_path) as store:
        svc = Services(settings=settings, store=store, fields=tuple(load_fields(settings.fields_path)))
        await run_day(svc, now=SEEDED_AT, input_path=SAMPLE_DAY, offline=True, write_markdown=False)
        yield svc


def caller(chat: ChatRef, *, group: bool = False, admin: bool = True) -> Caller:
    async def is_admin() -> bool:
        return admin

    return Caller(chat, CHAT_NOW, is_group=group, is_admin=is_admin)


async def test_weekly_on_and_off_are_kept_in_the_store_and_survive_a_reopen(services: Services) -> None:
    commands = Commands(services)
    chat = ChatRef("telegram", "7")
    assert "weekly" in [name for name, _, _ in COMMANDS]
    reply = await commands.handle("/weekly on", caller(chat))
    assert "every Monday at 09:00 (Asia/Shanghai)" in reply.blocks[0].text  # type: ignore[union-attr]
    assert await services.store.weekly_enabled(chat)
    assert await services.store.weekly_chats() == [chat]
    settings = (await commands.handle("/settings", caller(chat))).blocks[0].text  # type: ignore[union-attr]
    assert settings.endswith("Weekly digest: on (Mondays at 09:00)")
    assert "already on" in (await commands.handle("/weekly on", caller(chat))).blocks[0].text  # type: ignore[union-attr]
    async with Store.open(services.settings.database_path) as again:
        assert await again.weekly_enabled(chat)
    await commands.handle("/weekly off", caller(chat))
    assert not await services.store.weekly_enabled(chat) and await services.store.weekly_chats() == []
    assert "Weekly digest: off (/weekly on)" in (await commands.handle("/settings", caller(chat))).blocks[0].text  # type: ignore[union-attr]
    assert (await commands.handle("/weekly sometimes", caller(chat))).kind == "error"
    refused = await commands.handle("/weekly on", caller(ChatRef("telegram", "-5"), group=True, admin=False))
    assert refused.kind == "error" and not await services.store.weekly_enabled(ChatRef("telegram", "-5"))


async def test_a_chats_weekly_digest_carries_its_interests_votes_and_followed_authors(services: Services) -> None:
    chat = ChatRef("telegram", "8")
    sub = Subscription(chat, lang="en", interests="reinforcement learning")
    await services.store.save_subscription(sub, CHAT_NOW)
    plain_sub = Subscription(ChatRef("telegram", "9"), lang="en")
    found = await weekly_for_subscription(services, plain_sub, now=CHAT_NOW)
    assert found is not None
    plain = found[0]
    best = plain.sections[0].items[0][0]
    ctx = await load_day(services, date(2025, 12, 22))
    assert ctx is not None
    low = next(p for p, s in ctx.scored if (s.value or 0) < 3)
    await services.store.save_vote(chat, best.arxiv_id, -1, CHAT_NOW)
    await Commands(services).handle(f"/follow {low.authors[0]}", caller(chat))
    found = await weekly_for_subscription(services, sub, now=CHAT_NOW)
    assert found is not None
    mine = found[0]
    assert mine.sections[0].field.slug == INTERESTS_SLUG
    shown = {p.arxiv_id: p for section in mine.sections for p, _ in section.items}
    assert best.arxiv_id not in shown, "a 👎 paper is hidden from the chat's weekly digest too"
    assert any(a.startswith("⭐") for a in shown[low.arxiv_id].authors), "a followed author's paper is shown, marked"
    # another chat's weekly digest sees none of it
    again = await weekly_for_subscription(services, plain_sub, now=CHAT_NOW)
    assert again is not None and again[0] == plain


async def test_weekly_follows_a_migrated_chat(services: Services) -> None:
    old, new = ChatRef("telegram", "-1"), ChatRef("telegram", "-1001")
    await services.store.set_weekly(old, True, CHAT_NOW)
    await services.store.move_subscription(old, new, CHAT_NOW)
    assert await services.store.weekly_chats() == [new]


# -- /weekly end to end --------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def telegram_bot(services: Services) -> AsyncIterator[TelegramBot]:
    tg_bot = TelegramBot(services.settings, Commands(services), clock=lambda: CHAT_NOW, min_interval=0)
    await tg_bot.start()
    try:
        yield tg_bot
    finally:
        await tg_bot.stop()


async def test_weekly_on_telegram_sends_the_chart_with_sendphoto_then_the_digest(
    telegram_bot: TelegramBot, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    messages = await run(fake_telegram, CHAT, "/weekly")
    [photo] = fake_telegram.calls("sendPhoto")
    assert photo.status == 200 and photo.params["chat_id"] == str(CHAT)
    assert photo.headers["content-type"].startswith("multipart/form-data")
    assert png_size(photo.files["photo"]) == (WIDTH, HEIGHT)
    assert photo.result["photo"][-1]["width"] == WIDTH and photo.result["photo"][-1]["height"] == HEIGHT
    assert photo.params["caption"].startswith("ArXiv Weekly Digest · 2025-12-16 – 2025-12-22")
    assert len(photo.params["caption"]) <= 1024
    text = text_of(messages)
    assert "2025-12-22" in text and "This week: 116 papers on 1 listing day(s)" in text
    assert photo.at < messages[0].at, "the chart goes first, then the text"


async def test_a_telegram_chat_that_refuses_photos_gets_the_text_alone(
    telegram_bot: TelegramBot, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    fake_telegram.no_photos.add(str(CHAT))
    messages = await run(fake_telegram, CHAT, "/weekly")
    [photo] = fake_telegram.calls("sendPhoto")
    assert photo.status == 400 and "not enough rights to send photos" in photo.description
    assert "This week: 116 papers on 1 listing day(s)" in text_of(messages)


async def slack_weekly(services: Services, fake: FakeSlack) -> None:
    client = build_slack_client(services.settings)
    app = build_slack_app(services.settings, Commands(services), client=client,
                          sender=SlackSender(client, min_interval=0), clock=lambda: CHAT_NOW)
    resp = await app.async_dispatch(bolt_request(command_body(fake, "weekly", key="weekly")))
    assert resp.status == 200
    await fake.wait_for("chat.postMessage")


async def test_weekly_on_slack_uploads_the_chart_externally_then_posts_the_digest(
    services: Services, fake_slack: FakeSlack  # noqa: F811
) -> None:
    await slack_weekly(services, fake_slack)
    [get_url] = fake_slack.calls("files.getUploadURLExternal")
    [upload] = fake_slack.calls("upload")
    [complete] = fake_slack.calls("files.completeUploadExternal")
    assert get_url.ok and upload.status == 200 and complete.ok
    assert get_url.params["filename"] == "arxiv-weekly.png" and int(get_url.params["length"]) == upload.params["length"]
    assert complete.params["channel_id"] == "C1"
    [(name, data, comment)] = fake_slack.files("C1")
    assert name == "arxiv-weekly.png" and png_size(data) == (WIDTH, HEIGHT)
    assert comment.startswith("ArXiv Weekly Digest · 2025-12-16 – 2025-12-22")
    [post, *_] = fake_slack.accepted("chat.postMessage")
    assert post.params["blocks"][0]["text"]["text"].startswith("ArXiv Weekly Digest")
    assert complete.at < post.at


async def test_slack_without_the_files_scope_posts_the_text_alone(
    services: Services, fake_slack: FakeSlack  # noqa: F811
) -> None:
    fake_slack.no_files_scope.add("xoxb-test")
    await slack_weekly(services, fake_slack)
    assert [c.error for c in fake_slack.calls("files.getUploadURLExternal")] == ["missing_scope"]
    assert fake_slack.files("C1") == [] and fake_slack.calls("files.completeUploadExternal") == []
    [post, *_] = fake_slack.accepted("chat.postMessage")
    assert post.params["blocks"][0]["text"]["text"].startswith("ArXiv Weekly Digest")


# -- the weekly job ----------------------------------------------------------------------------------


async def test_the_weekly_job_sends_each_chat_once_a_week_at_its_own_time(
    services: Services, fake_telegram: FakeTelegram, fake_slack: FakeSlack  # noqa: F811
) -> None:
    commands = Commands(services)
    berlin, slack = ChatRef("telegram", "11"), ChatRef("slack", "C9")
    for chat in (berlin, slack):
        await commands.handle("/timezone Europe/Berlin", caller(chat))
        await commands.handle("/weekly on", caller(chat))
    await commands.handle("/weekly on", caller(ChatRef("telegram", "12")))
    await commands.handle("/weekly off", caller(ChatRef("telegram", "12")))
    async with Bot(TOKEN, base_url=fake_telegram.api_url) as bot:
        senders = {"telegram": TelegramSender(bot, min_interval=0),
                   "slack": SlackSender(build_slack_client(services.settings), min_interval=0)}
        now = [datetime(2025, 12, 29, 7, 30, tzinfo=UTC)]  # Monday 08:30 in Berlin: before its 09:00
        scheduler = Scheduler(services, senders, clock=lambda: now[0])
        await scheduler.weekly_job()
        assert fake_telegram.calls("sendPhoto") == [] and fake_slack.calls("chat.postMessage") == []
        for at in (datetime(2025, 12, 29, 8, 5, tzinfo=UTC), datetime(2025, 12, 29, 9, 0, tzinfo=UTC),
                   datetime(2025, 12, 30, 8, 5, tzinfo=UTC)):
            now[0] = at
            await scheduler.weekly_job()
        assert [c.params["chat_id"] for c in fake_telegram.accepted("sendPhoto")] == ["11"], "once, not thrice"
        assert len(fake_slack.files("C9")) == 1
        texts = "\n".join(c.result["text"] for c in fake_telegram.accepted("sendMessage"))
        assert "This week: 116 papers on 1 listing day(s)" in texts
        # the next Monday is a new week
        report = await deliver_weekly_due(services, senders, now=datetime(2026, 1, 5, 8, 5, tzinfo=UTC))
        assert report.sent == 2 and report.text_only == 0
        assert len(fake_telegram.accepted("sendPhoto")) == 2 and len(fake_slack.files("C9")) == 2
        assert await services.store.weekly_state(berlin, "2026-W02") == ("sent", 1)


async def test_the_weekly_job_keeps_a_chats_follows_and_interests_out_of_another_chats_digest(
    services: Services, fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    # Three chats with the same language, threshold and fields: one follows an author, one has interests,
    # one neither. Each gets its own digest; the chart (the fields' week) is drawn once for all three.
    commands = Commands(services)
    follower, curious, plain = ChatRef("telegram", "21"), ChatRef("telegram", "22"), ChatRef("telegram", "23")
    ctx = await load_day(services, date(2025, 12, 22))
    assert ctx is not None
    low = next(p for p, s in ctx.scored if (s.value or 0) < 3)
    for chat in (follower, curious, plain):
        await commands.handle("/weekly on", caller(chat))
    await commands.handle(f"/follow {low.authors[0]}", caller(follower))
    await commands.handle("/interests reinforcement learning", caller(curious))
    import core.build.chart as chart_module
    drawn = []
    real = chart_module.render_chart

    def counting(weekly):  # type: ignore[no-untyped-def]
        drawn.append(weekly.lang)
        return real(weekly)

    monkeypatch.setattr(chart_module, "render_chart", counting)  # views imports it when it draws
    async with Bot(TOKEN, base_url=fake_telegram.api_url) as bot:
        senders = {"telegram": TelegramSender(bot, min_interval=0)}
        report = await deliver_weekly_due(services, senders, now=datetime(2025, 12, 29, 1, 5, tzinfo=UTC))
    assert report.sent == 3 and len(drawn) == 1, "one chart for the three chats"
    texts = {chat: "\n".join(c.params["text"] for c in fake_telegram.accepted("sendMessage")
                              if c.params["chat_id"] == chat) for chat in ("21", "22", "23")}
    title = low.title.split()[0]
    assert "⭐" in texts["21"] and title in texts["21"]
    assert "⭐" not in texts["22"] + texts["23"]
    stored = await services.store.get_subscription(curious)
    assert stored is not None
    interests = {"en": "My interests", "zh": "我的兴趣"}[stored.lang]
    assert interests in texts["22"] and interests not in texts["21"] + texts["23"]


async def test_a_chat_gone_for_us_turns_its_weekly_digest_off(
    services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    chat = ChatRef("telegram", "13")
    await services.store.set_weekly(chat, True, CHAT_NOW)
    fake_telegram.block("13")
    async with Bot(TOKEN, base_url=fake_telegram.api_url) as bot:
        report = await deliver_weekly_due(services, {"telegram": TelegramSender(bot, min_interval=0)},
                                          now=datetime(2025, 12, 29, 1, 30, tzinfo=UTC))  # 09:30 in Shanghai
    assert report.failed == report.stopped == 1 and not await services.store.weekly_enabled(chat)


async def test_send_weekly_sends_text_alone_where_the_sender_has_no_image_side(services: Services) -> None:
    sent: list[object] = []

    class TextOnly:
        platform = "telegram"

        def render(self, blocks: object, lang: str) -> list[object]:
            return list(blocks)  # type: ignore[call-overload]

        async def send_part(self, chat: ChatRef, part: object) -> None:
            sent.append(part)

    days, before = week_of_papers()
    weekly = build_weekly(MONDAY, MONDAY + timedelta(days=6), days, before, FIELDS, lang="en", min_score=7.0)
    went = await send_weekly(TextOnly(), ChatRef("telegram", "1"), weekly_blocks(weekly), render_chart(weekly),
                             "caption", "en")
    assert not went and sent == weekly_blocks(weekly)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_weekly_texts_exist_in_both_languages(lang: str) -> None:
    from bot.texts import say
    for key in ("weekly_none", "weekly_off", "weekly_already_off"):
        assert say(lang, key)


async def test_the_weekly_job_sends_the_text_alone_where_photos_are_refused_and_counts_it(
    services: Services, fake_telegram: FakeTelegram  # noqa: F811
) -> None:
    chat = ChatRef("telegram", "14")
    await services.store.set_weekly(chat, True, CHAT_NOW)
    fake_telegram.no_photos.add("14")
    async with Bot(TOKEN, base_url=fake_telegram.api_url) as bot:
        report = await deliver_weekly_due(services, {"telegram": TelegramSender(bot, min_interval=0)},
                                          now=datetime(2025, 12, 29, 1, 30, tzinfo=UTC))  # 09:30 in Shanghai
    assert (report.sent, report.text_only, report.failed) == (1, 1, 0)
    assert fake_telegram.accepted("sendPhoto") == [] and fake_telegram.accepted("sendMessage")
    assert await services.store.weekly_state(chat, "2026-W01") == ("sent", 1)
