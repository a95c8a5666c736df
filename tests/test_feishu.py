"""Feishu/Lark group webhooks: signed interactive cards through the real aiohttp client to a fake webhook.

The fake (tests/fakes/feishu.py) checks each request's signature, body size and card structure and
answers with Feishu's own codes, so these tests see what a group would: the sample day's digest as cards,
a long digest split within the 20 KB body limit, a wrong secret or a deleted webhook deactivating the
subscription, a rate-limit answer retried at the next pass, and untrusted text shown literally.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.feishu.format import MAX_BODY, body_size, escape_md, to_feishu_cards
from bot.feishu.sender import FeishuSender, MinuteBudget, sign
from bot.feishu.target import parse_feishu_target, show_webhook
from core.config import Settings
from core.deliver.delivery import deliver_due
from core.errors import DeliveryError
from core.models import ChatRef, Heading, Note, PaperItem, Subscription
from core.services import Services
from core.store import Store
from tests.fakes.feishu import FakeFeishu, fake_feishu  # noqa: F401
from tests.samples import scored_sample

DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
SECRET = "s3cr3t-signing-key"


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def sender_for(services: Services, **kwargs: object) -> FeishuSender:
    return FeishuSender(None, services.store.get_webhook_secret, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


async def subscribe(services: Services, url: str, secret: str | None, *, min_score: float = 5.0) -> ChatRef:
    target = parse_feishu_target(url, secret)
    await services.store.save_subscription(Subscription(target.chat, min_score=min_score, lang="en"), NOW)
    await services.store.save_webhook_secret(target.chat, target.secret, NOW)
    return target.chat


def paper_item(n: int, title: str = "", why: str = "") -> PaperItem:
    return PaperItem(f"2512.{n:05d}", title or f"Paper {n}", f"https://arxiv.org/abs/2512.{n:05d}",
                     "Ada Lovelace, Alan Turing", DAY, 8.0, why or f"Reason {n}.", "efficient-llm")


# -- the signature and the target ---------------------------------------------------------------------


def test_the_signature_is_feishus_hmac_of_the_timestamp_and_secret_over_nothing() -> None:
    # Feishu's documented example: timestamp 1599360473 with the secret as key material, empty message.
    import base64
    import hashlib
    import hmac
    expected = base64.b64encode(hmac.new(b"1599360473\nabc", b"", hashlib.sha256).digest()).decode()
    assert sign("abc", 1599360473) == expected
    assert sign("abc", 1599360474) != expected


def test_a_webhook_url_is_any_https_url_and_http_only_on_loopback() -> None:
    feishu = parse_feishu_target("https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f", " key ")
    assert feishu.chat == ChatRef("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f")
    assert feishu.secret == "key"
    lark = parse_feishu_target("HTTPS://Open.Larksuite.com/open-apis/bot/v2/hook/xyz")
    assert lark.chat.chat_id == "https://open.larksuite.com/open-apis/bot/v2/hook/xyz" and lark.secret is None
    assert parse_feishu_target("http://127.0.0.1:8080/open-apis/bot/v2/hook/t").chat.chat_id.startswith("http://")
    for bad in ("http://open.feishu.cn/open-apis/bot/v2/hook/x", "ftp://open.feishu.cn/x", "open.feishu.cn/hook/x",
                "https://open.feishu.cn", "https://user:pw@open.feishu.cn/hook/x", "https://open.feishu.cn/a b", ""):
        with pytest.raises(ValueError):
            parse_feishu_target(bad)
    with pytest.raises(ValueError):
        parse_feishu_target("https://open.feishu.cn/hook/x", "has a space")
    # Neither the secret nor the whole token is ever shown.
    shown = repr(parse_feishu_target("https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f", "key-123456"))
    assert "key-123456" not in shown and "0a1b2c3d-4e5f" not in shown and "0a1b2c" in shown
    assert show_webhook("https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f").endswith("/0a1b2c…")


async def test_a_webhook_secret_is_stored_apart_and_forgotten_when_cleared(tmp_path: Path) -> None:
    chat = ChatRef("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/abc")
    async with Store.open(tmp_path / "db.sqlite") as store:
        assert await store.get_webhook_secret(chat) is None
        await store.save_webhook_secret(chat, "first", NOW)
        await store.save_webhook_secret(chat, "second", NOW)
        assert await store.get_webhook_secret(chat) == "second"
        await store.save_subscription(Subscription(chat), NOW)
        assert "second" not in repr(await store.list_subscriptions())
        await store.save_webhook_secret(chat, None, NOW)
        assert await store.get_webhook_secret(chat) is None


# -- the cards -----------------------------------------------------------------------------------------


def test_untrusted_text_is_shown_literally_in_the_cards_markdown() -> None:
    title = "Attacks <script>alert(1)</script> & [click](https://evil.example) *bold* _it_ ~x~ `code` #tag"
    why = "Beats [SOTA] by 5% & more *really*"
    blocks = [Heading("arXiv digest <2025-12-22>"), Note("note with [brackets] & <tags>"),
              Heading("Efficient *LLM*", 2), paper_item(1, title, why)]
    [card] = to_feishu_cards(blocks, "en")
    assert card["card"]["header"]["title"] == {"tag": "plain_text", "content": "arXiv digest <2025-12-22>"}
    note = card["card"]["elements"][0]["elements"][0]["content"]
    paper = card["card"]["elements"][-1]["text"]["content"]
    for raw in ("<script>", "[click]", "*bold*", "[SOTA]", "& more", "_it_", "`code`"):
        assert raw not in paper
    assert "<tags>" not in note and "[brackets]" not in note
    # The one link is the paper's own, and its label reads back as the title once entities are decoded.
    assert paper.count("](") == 1 and "](https://arxiv.org/abs/2512.00001)" in paper
    label = paper.split("](")[0].removeprefix("**[")
    assert html.unescape(label) == title
    assert html.unescape(escape_md(why)) == why
    assert "&amp;" in escape_md("&amp;")  # an entity typed in a title shows as typed


def test_a_long_digest_splits_into_numbered_cards_within_the_body_limit() -> None:
    blocks = [Heading("arXiv digest 2025-12-22"), Note("Scored offline.")]
    for field in range(3):
        blocks.append(Heading(f"Field {field}", 2))
        blocks.extend(paper_item(field * 100 + n, f"论文标题 {field}-{n} " * 8, "理由" * 600) for n in range(20))
    cards = to_feishu_cards(blocks, "zh")
    assert len(cards) > 3
    for n, card in enumerate(cards, 1):
        assert body_size(card) <= MAX_BODY - 200
        assert card["card"]["header"]["title"]["content"] == f"arXiv digest 2025-12-22（{n}/{len(cards)}）"
        assert card["card"]["elements"][0]["tag"] != "hr"
        last = card["card"]["elements"][-1]
        assert not (last["tag"] == "div" and last["text"]["content"].startswith("**Field"))  # heading kept with paper
    text = "".join(str(card) for card in cards)
    for field in range(3):
        for n in range(20):
            assert text.count(f"2512.{field * 100 + n:05d})") == 1  # every paper once, never split


# -- through the fake webhook --------------------------------------------------------------------------


async def test_a_signed_digest_reaches_the_group_as_cards(tmp_path: Path, fake_feishu: FakeFeishu) -> None:
    fake_feishu.clock = NOW.timestamp
    url = fake_feishu.add_hook(SECRET)
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    async with scored_sample(settings, NOW) as services:
        chat = await subscribe(services, url, SECRET)
        sender = sender_for(services)
        try:
            report = await deliver_due(services, {"feishu": sender}, now=NOW)
            again = await deliver_due(services, {"feishu": sender}, now=NOW)
        finally:
            await sender.close()
        row = await services.store.get_delivery(chat, DAY)
    assert report.sent == 1 and report.failed == 0 and again.sent == 0 and again.already == 1
    calls = fake_feishu.calls(token_of(url))
    assert calls and all(c.code == 0 for c in calls)
    assert row is not None and row.state == "sent" and row.parts_sent == len(calls)
    for call in calls:
        assert call.body is not None and call.body["timestamp"] == str(int(NOW.timestamp()))
        assert call.body["sign"] == sign(SECRET, int(NOW.timestamp()))
        assert call.size <= MAX_BODY and call.body["msg_type"] == "interactive"
    cards = fake_feishu.cards(token_of(url))
    assert "2025-12-22" in cards[0]["header"]["title"]["content"]
    assert sum(str(card).count("https://arxiv.org/abs/") for card in cards) >= 3


async def test_a_wrong_secret_deactivates_the_subscription_and_is_never_logged(
    tmp_path: Path, fake_feishu: FakeFeishu, caplog: pytest.LogCaptureFixture,
) -> None:
    fake_feishu.clock = NOW.timestamp
    url = fake_feishu.add_hook("the-right-secret")
    gone = fake_feishu.url + "/open-apis/bot/v2/hook/deleted-webhook-token"
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="aiosqlite")  # as the service sets it: SQL parameters unlogged
    async with scored_sample(settings, NOW) as services:
        wrong = await subscribe(services, url, "a-wrong-secret-value")
        deleted = await subscribe(services, gone, None)
        sender = sender_for(services)
        try:
            report = await deliver_due(services, {"feishu": sender}, now=NOW)
        finally:
            await sender.close()
        subs = {s.chat: s for s in await services.store.list_subscriptions(active_only=False)}
        rows = await services.store.deliveries_for_day(DAY)
    assert report.deactivated == 2 and report.sent == 0
    assert not subs[wrong].active and not subs[deleted].active  # settings kept, as a blocked chat's
    assert rows[wrong].state == "failed" and "19021" in (rows[wrong].last_error or "")
    assert "19001" in (rows[deleted].last_error or "")
    assert [c.code for c in fake_feishu.calls(token_of(url))] == [19021]  # one card tried, then it stopped
    assert "a-wrong-secret-value" not in caplog.text and "the-right-secret" not in caplog.text
    assert "signature does not match" in caplog.text


async def test_a_rate_limit_answer_is_retried_at_the_next_pass(tmp_path: Path, fake_feishu: FakeFeishu) -> None:
    url = fake_feishu.add_hook()
    fake_feishu.fail_next(token_of(url), 11232, "frequency limited psm[lark.oapi.app_platform_runtime]")
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    async with scored_sample(settings, NOW) as services:
        chat = await subscribe(services, url, None)
        sender = sender_for(services)
        try:
            first = await deliver_due(services, {"feishu": sender}, now=NOW)
            failed = await services.store.get_delivery(chat, DAY)
            second = await deliver_due(services, {"feishu": sender}, now=NOW)
        finally:
            await sender.close()
        sub = await services.store.get_subscription(chat)
        row = await services.store.get_delivery(chat, DAY)
    assert first.failed == 1 and first.deactivated == 0 and "rate-limited" in first.errors[0]
    assert failed is not None and failed.state == "failed" and failed.parts_sent == 0
    assert second.sent == 1 and sub is not None and sub.active
    assert row is not None and row.state == "sent"
    codes = [c.code for c in fake_feishu.calls(token_of(url))]
    assert codes[0] == 11232 and set(codes[1:]) == {0}


async def test_the_sender_paces_one_webhook_under_feishus_rate_limit(fake_feishu: FakeFeishu) -> None:
    url = fake_feishu.add_hook()
    chat = ChatRef("feishu", url)
    cards = to_feishu_cards([Heading("t"), *(paper_item(n, why="x" * 1500) for n in range(80))], "en", budget=2500)
    assert len(cards) >= 8

    async def no_secret(_: ChatRef) -> str | None:
        return None

    sender = FeishuSender(None, no_secret, clock=lambda: NOW)
    try:
        for card in cards[:8]:
            await sender.send_part(chat, card)  # 8 in a row: the fake answers 11232 past 5 a second
    finally:
        await sender.close()
    assert [c.code for c in fake_feishu.calls()] == [0] * 8


async def test_the_minute_budget_waits_for_the_oldest_send_to_age_out() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = MinuteBudget(3, lambda: now[0], sleep=sleep)
    for at in (0.0, 10.0, 20.0):
        now[0] = at
        await budget.take("hook")
    now[0] = 30.0
    await budget.take("hook")  # a fourth within the minute waits until the first is 60 s old
    assert slept == [30.0] and now[0] == 60.0
    await budget.take("other")  # another webhook never waits
    assert slept == [30.0]


async def test_feishus_error_answers_become_delivery_errors(fake_feishu: FakeFeishu) -> None:
    url = fake_feishu.add_hook()
    chat = ChatRef("feishu", url)
    [card] = to_feishu_cards([Heading("t"), paper_item(1)], "en")

    async def no_secret(_: ChatRef) -> str | None:
        return None

    sender = FeishuSender(None, no_secret, clock=lambda: NOW, min_interval=0)
    try:
        fake_feishu.fail_next(token_of(url), 9499, "too many request")
        with pytest.raises(DeliveryError) as limited:
            await sender.send_part(chat, card)
        fake_feishu.fail_next(token_of(url), 19024, "Key Words Not Found")
        with pytest.raises(DeliveryError) as keywords:
            await sender.send_part(chat, card)
        with pytest.raises(DeliveryError) as bad:
            await sender.send_part(chat, {"msg_type": "interactive", "card": {"elements": []}})
        fake_feishu.removed.add(token_of(url))
        with pytest.raises(DeliveryError) as removed:
            await sender.send_part(chat, card)
    finally:
        await sender.close()
    assert not limited.value.permanent and keywords.value.permanent
    assert not bad.value.permanent and "11246" in str(bad.value)
    assert removed.value.permanent


async def test_arxiv_digest_deliver_sends_the_sample_day_to_a_feishu_group(
    tmp_path: Path, fake_feishu: FakeFeishu,
) -> None:
    db = tmp_path / "db.sqlite"
    url = fake_feishu.add_hook(SECRET)  # signed with the subprocess's own clock, checked against ours
    settings = Settings.from_env({"DATABASE_PATH": str(db)})
    async with scored_sample(settings, NOW):
        pass
    # The operator's command, as the set-up guide gives it.
    assert await asyncio.to_thread(main, ["subscribe", f"feishu:{url}", "--secret", SECRET, "--min-score", "5"],
                                   {"DATABASE_PATH": str(db), "LOG_LEVEL": "WARNING"}, clock=lambda: NOW) == 0
    # Only what the test passes: no .env, no chat platform tokens, no proxy.
    env = {"PATH": os.environ.get("PATH", ""), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
           "ARXIV_DIGEST_DOTENV": "", "DATABASE_PATH": str(db), "LOG_LEVEL": "WARNING",
           # A wall clock faked for the whole suite (`faketime ... make test`) is the child's too: the fake
           # checks the signed timestamp against this process's clock, as Feishu checks against its own.
           **{k: v for k, v in os.environ.items() if k == "LD_PRELOAD" or k.startswith("FAKETIME")}}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "deliver", "--force", cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"sent 1" in out or b"1 sent" in out, out
    calls = fake_feishu.calls(token_of(url))
    assert calls and all(c.code == 0 for c in calls)
    assert SECRET.encode() not in err and token_of(url).encode() not in err
    async with Store.open(db) as store:
        row = await store.get_delivery(ChatRef("feishu", url), DAY)
    assert row is not None and row.state == "sent" and row.parts_sent == len(calls)


def test_logs_show_a_webhook_url_with_its_token_cut_short() -> None:
    from bot.logs import JsonLogFormatter, RedactSecrets

    url = "https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-d78e-4a07-bd07-265f269f86fd"
    record = logging.LogRecord("core.deliver.delivery", logging.WARNING, __file__, 1,
                               "delivery refused, deactivating chat=feishu:%s", (url,), None)
    assert RedactSecrets([]).filter(record)
    line = JsonLogFormatter([]).format(record)
    assert "265f269f86fd" not in line and "hook/5e3d58…" in line


async def test_the_operator_subscribes_a_webhook_with_its_secret_which_no_listing_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    url = "https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-d78e-4a07-bd07-265f269f86fd"
    chat = ChatRef("feishu", url)
    env = {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "LOG_LEVEL": "WARNING"}

    def cli(*argv: str) -> int:
        return main(list(argv), env, clock=lambda: NOW)

    async def secret() -> str | None:
        async with Store.open(tmp_path / "db.sqlite") as store:
            return await store.get_webhook_secret(chat)

    assert await asyncio.to_thread(cli, "subscribe", f"feishu:{url}", "--secret", SECRET, "--lang", "en") == 0
    out = capsys.readouterr().out
    assert out.startswith("subscribed: feishu:https://open.feishu.cn/open-apis/bot/v2/hook/5e3d58… ")
    assert await secret() == SECRET
    assert await asyncio.to_thread(cli, "subscribe", f"feishu:{url}", "--time", "08:30") == 0  # the secret is kept
    assert await secret() == SECRET
    assert await asyncio.to_thread(cli, "subscribers") == 0
    out, err = capsys.readouterr()
    assert "time=08:30" in out and "feishu: 1 active" in err
    assert await asyncio.to_thread(cli, "unsubscribe", f"feishu:{url}") == 0
    assert await asyncio.to_thread(cli, "subscribe", f"feishu:{url}", "--secret", "") == 0  # verification turned off
    assert await secret() is None
    out, err = capsys.readouterr()
    assert SECRET not in out + err and "265f269f86fd" not in out + err
    assert await asyncio.to_thread(cli, "subscribe", "email:a@example.org", "--secret", "x") == 1
    assert "--secret is for feishu" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        await asyncio.to_thread(cli, "subscribe", "feishu:http://open.feishu.cn/open-apis/bot/v2/hook/x")
    assert "must be https" in capsys.readouterr().err


async def test_the_secret_can_come_from_stdin_out_of_the_shells_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    url = "https://open.larksuite.com/open-apis/bot/v2/hook/0a1b2c3d-4e5f"
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    env = {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "LOG_LEVEL": "WARNING"}
    assert await asyncio.to_thread(main, ["subscribe", f"feishu:{url}", "--secret", "-"], env, clock=lambda: NOW) == 0
    async with Store.open(tmp_path / "db.sqlite") as store:
        assert await store.get_webhook_secret(ChatRef("feishu", url)) == SECRET
