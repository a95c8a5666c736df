"""The Slack adapter end to end: a real AsyncApp and AsyncWebClient against the fake Web API.

Inbound requests are signed here with SignatureVerifier (verification stays on) and dispatched with
`AsyncApp.async_dispatch`, or POSTed over real HTTP to SlackBot's web server, or sent as Socket Mode
envelopes. Effects are read back from the fake and the store.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot.commands import Commands
from bot.slack import SlackBot, SlackSender, build_slack_app, build_slack_client, to_slack_messages
from core.build.digest import build_digest, digest_blocks
from core.config import Settings
from core.daily import run_day
from core.errors import ConfigError, DeliveryError
from core.fields import load_fields
from core.models import ChatRef
from core.services import Services
from core.store import Store
from tests.fakes.slack import Call, FakeSlack, check_blocks, fake_slack  # noqa: F401
from tests.samples import DAY, FIELDS, paper, sample_digest, score

SECRET = "test-signing-secret"
NOW = datetime(2025, 12, 23, 12, 0, tzinfo=UTC)
CHAT_NOW = datetime(2025, 12, 22, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York: the sample day is today's listing
SAMPLE_DAY = Path("data/arxiv/2025-12-22.jsonl")


def _env(fake: FakeSlack, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en", "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_BASE_URL": f"{fake.url}/api/", **extra}


@pytest_asyncio.fixture
async def services(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.from_env(_env(fake_slack, tmp_path))
    async with Store.open(settings.database_path) as store:
        yield Services(settings=settings, store=store, fields=tuple(load_fields(settings.fields_path)))


@pytest_asyncio.fixture
async def seeded(services: Services) -> Services:
    await run_day(services, now=NOW, input_path=SAMPLE_DAY, offline=True, write_markdown=False)
    return services


@pytest.fixture
def app(services: Services) -> AsyncApp:
    client = build_slack_client(services.settings)
    return build_slack_app(services.settings, Commands(services), client=client,
                           sender=SlackSender(client, min_interval=0), clock=lambda: CHAT_NOW)


def signed(body: str, *, content_type: str = "application/x-www-form-urlencoded", secret: str = SECRET,
           timestamp: int | None = None) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {"content-type": content_type, "x-slack-request-timestamp": ts, "x-slack-signature": signature}


def bolt_request(body: str, content_type: str = "application/x-www-form-urlencoded") -> AsyncBoltRequest:
    """A signed inbound request for `app.async_dispatch`."""
    headers: dict[str, str | Sequence[str]] = {**signed(body, content_type=content_type)}
    return AsyncBoltRequest(body=body, headers=headers)


_TRIGGERS = itertools.count(1)


def trigger_id() -> str:
    """A fresh trigger_id, as Slack gives every command and button press its own."""
    return f"{next(_TRIGGERS)}.2.3"


def command_fields(fake: FakeSlack, text: str, channel: str = "C1", key: str = "1") -> dict[str, str]:
    """A slash command payload as Slack sends it, with the response_url pointing at the fake."""
    return {"token": "legacy", "team_id": fake.team_id, "team_domain": "fake", "channel_id": channel,
            "channel_name": "papers", "user_id": "U1", "user_name": "ada", "command": "/arxiv",
            "text": text, "api_app_id": "A0001", "response_url": fake.response_url(key), "trigger_id": trigger_id()}


def command_body(fake: FakeSlack, text: str, channel: str = "C1", key: str = "1") -> str:
    return urlencode(command_fields(fake, text, channel, key))


async def slash(app: AsyncApp, fake: FakeSlack, text: str, channel: str = "C1") -> Call:
    """Dispatch a signed `/arxiv text` and return the ephemeral reply it POSTed to its response_url."""
    before = len(fake.calls("response"))
    body = command_body(fake, text, channel, key=str(before + 1))
    resp = await app.async_dispatch(bolt_request(body))
    assert resp.status == 200
    return (await fake.wait_for("response", before + 1))[before]


async def press(app: AsyncApp, fake: FakeSlack, button: dict[str, Any], channel: str = "C1") -> BoltResponse:
    payload = {
        "type": "block_actions", "user": {"id": "U1", "team_id": fake.team_id}, "api_app_id": "A0001",
        "team": {"id": fake.team_id}, "trigger_id": trigger_id(), "response_url": fake.response_url("button"),
        "container": {"type": "message", "channel_id": channel, "message_ts": "1700000001.000001"},
        "channel": {"id": channel, "name": "papers"},
        "actions": [{"type": "button", "block_id": "b1", "action_id": button["action_id"],
                     "value": button["value"], "action_ts": "1700000002.000002"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    return await app.async_dispatch(bolt_request(body))


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _long_parts(n: int = 60) -> list[Any]:
    papers = [paper(i, f"Paper {i}: KV caches & <more>", authors=8) for i in range(1, n + 1)]
    scored = [(p, score(p, FIELDS[i % 2].slug, 8.0, "Fits well. " * 30)) for i, p in enumerate(papers)]
    digest = build_digest(DAY, FIELDS, scored, lang="en", min_score=7, max_per_field=100, papers_read=n,
                          model="offline", tokens=0, updated_at=None)
    return to_slack_messages(digest_blocks(digest), "en")


# -- slash commands ------------------------------------------------------------------------------


async def test_settings_commands_answer_ephemerally_and_change_the_channel(
    app: AsyncApp, fake_slack: FakeSlack, services: Services
) -> None:
    chat = ChatRef("slack", "C1")
    reply = await slash(app, fake_slack, "subscribe")
    assert reply.ok and reply.params["response_type"] == "ephemeral"
    assert "Subscribed" in reply.params["text"]
    assert check_blocks(reply.params["blocks"]) is None
    sub = await services.store.get_subscription(chat)
    assert sub is not None and sub.active

    reply = await slash(app, fake_slack, "field efficient-llm safety-alignment")
    assert "Fields set" in reply.params["text"] and reply.params["response_type"] == "ephemeral"
    reply = await slash(app, fake_slack, "min_score 8")
    assert "Threshold set to 8.0" in reply.params["text"]
    reply = await slash(app, fake_slack, "min_score eleven")
    assert "It stays 8.0" in reply.params["text"]
    sub = await services.store.get_subscription(chat)
    assert sub is not None and sub.fields == ("efficient-llm", "safety-alignment") and sub.min_score == 8.0

    reply = await slash(app, fake_slack, "settings")
    assert reply.params["response_type"] == "ephemeral" and "Threshold: 8.0" in reply.params["text"]
    reply = await slash(app, fake_slack, "")
    assert "/arxiv subscribe" in reply.params["blocks"][1]["text"]["text"]  # `/arxiv` alone is help
    assert [c.method for c in fake_slack.calls() if c.method.startswith("chat.")] == []  # nothing public
    assert await services.store.get_subscription(ChatRef("slack", "C2")) is None


async def test_paper_and_search_reply_privately_with_linked_papers(
    app: AsyncApp, fake_slack: FakeSlack, seeded: Services
) -> None:
    reply = await slash(app, fake_slack, "paper 2512.17452")
    text = "\n".join(b["text"]["text"] for b in reply.params["blocks"] if b["type"] == "section")
    assert reply.params["response_type"] == "ephemeral"
    assert "<https://arxiv.org/abs/2512.17452|Learning What to Write: Write-Gated KV" in text
    assert [b["value"] for b in _buttons(reply.params["blocks"])] == ["+1:2512.17452", "-1:2512.17452"]

    reply = await slash(app, fake_slack, "search kv cache")
    assert reply.params["response_type"] == "ephemeral"
    assert "2512.17452" in json.dumps(reply.params["blocks"]) and 'Results for "kv cache"' in reply.params["text"]


async def test_today_posts_the_digest_to_the_channel(app: AsyncApp, fake_slack: FakeSlack, seeded: Services) -> None:
    await slash(app, fake_slack, "subscribe")
    body = command_body(fake_slack, "today", key="today")
    resp = await app.async_dispatch(bolt_request(body))
    assert resp.status == 200
    [post, *_] = await fake_slack.wait_for("chat.postMessage")
    assert post.ok and post.params["channel"] == "C1"
    assert post.params["blocks"][0]["type"] == "header"
    assert post.params["blocks"][0]["text"]["text"] == "ArXiv Daily Digest - 2025-12-22"
    assert post.params["text"].startswith("ArXiv Daily Digest - 2025-12-22")
    assert post.headers["authorization"] == "Bearer xoxb-test"
    assert any(b["value"].startswith("+1:") for b in _buttons(post.params["blocks"]))
    assert [c.params.get("response_type") for c in fake_slack.calls("response")] == ["ephemeral"]


async def test_today_in_a_channel_the_bot_cannot_post_to_deactivates_it(
    app: AsyncApp, fake_slack: FakeSlack, seeded: Services
) -> None:
    await slash(app, fake_slack, "subscribe", channel="C2")
    fake_slack.archived.add("C2")
    reply = await slash(app, fake_slack, "today", channel="C2")
    assert reply.params["response_type"] == "ephemeral" and "can't post in this channel" in reply.params["text"]
    assert [c.error for c in fake_slack.calls("chat.postMessage")] == ["is_archived"]
    sub = await seeded.store.get_subscription(ChatRef("slack", "C2"))
    assert sub is not None and not sub.active


# -- buttons and the App Home --------------------------------------------------------------------


async def test_a_thumbs_up_press_is_stored_as_the_channels_vote(
    app: AsyncApp, fake_slack: FakeSlack, seeded: Services
) -> None:
    body = command_body(fake_slack, "today", key="today")
    await app.async_dispatch(bolt_request(body))
    [post, *_] = await fake_slack.wait_for("chat.postMessage")
    up = _buttons(post.params["blocks"])[0]
    assert up["text"]["text"] == "👍"
    resp = await press(app, fake_slack, up)
    assert resp.status == 200
    [toast] = await fake_slack.wait_for("response")
    assert toast.params["text"] == "Noted 👍" and toast.params["response_type"] == "ephemeral"
    assert toast.params["replace_original"] is False
    assert await seeded.store.get_votes(ChatRef("slack", "C1")) == {up["value"][3:]: 1}


async def test_a_field_button_toggles_the_field_and_replaces_the_menu(
    app: AsyncApp, fake_slack: FakeSlack, services: Services
) -> None:
    menu = await slash(app, fake_slack, "field")
    buttons = _buttons(menu.params["blocks"])
    assert [b["value"] for b in buttons] == [f.slug for f in services.fields]
    assert all(b["text"]["text"].startswith("✅") for b in buttons)
    await press(app, fake_slack, buttons[0])
    [_, update] = await fake_slack.wait_for("response", 2)
    assert update.params["replace_original"] is True
    assert _buttons(update.params["blocks"])[0]["text"]["text"].startswith("▫️")
    sub = await services.store.get_subscription(ChatRef("slack", "C1"))
    assert sub is not None and sub.fields == tuple(f.slug for f in services.fields[1:])


async def test_app_home_shows_help_and_the_subscribed_channels(
    app: AsyncApp, fake_slack: FakeSlack, services: Services
) -> None:
    await slash(app, fake_slack, "subscribe")
    await slash(app, fake_slack, "min_score 8")
    event = {"token": "legacy", "team_id": fake_slack.team_id, "api_app_id": "A0001", "type": "event_callback",
             "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home", "event_ts": "1.0"},
             "event_id": "Ev1", "event_time": 1700000000}
    body = json.dumps(event)
    resp = await app.async_dispatch(bolt_request(body, "application/json"))
    assert resp.status == 200
    [call] = await fake_slack.wait_for("views.publish")
    assert call.ok and call.params["user_id"] == "U1" and call.params["view"]["type"] == "home"
    text = json.dumps(call.params["view"], ensure_ascii=False)
    assert "/arxiv subscribe" in text and "<#C1> — all fields · threshold 8.0" in text


# -- the HTTP and Socket Mode runtimes -----------------------------------------------------------


async def test_http_mode_rejects_a_bad_signature_and_a_stale_timestamp(
    fake_slack: FakeSlack, services: Services
) -> None:
    bot = SlackBot(services.settings.replace(slack_port=0), Commands(services), host="127.0.0.1", min_interval=0,
                   clock=lambda: CHAT_NOW)
    await bot.start()
    try:
        url = f"http://127.0.0.1:{bot.port}/slack/events"
        body = command_body(fake_slack, "settings")
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body, headers=signed(body, secret="wrong")) as resp:
                assert resp.status == 401
            async with http.post(url, data=body, headers=signed(body, timestamp=int(time.time()) - 600)) as resp:
                assert resp.status == 401
            assert fake_slack.calls("response") == []
            async with http.post(url, data=body, headers=signed(body)) as resp:
                assert resp.status == 200
        [reply] = await fake_slack.wait_for("response")
        assert "Subscribed: no" in reply.params["text"]
    finally:
        await bot.stop()


async def test_http_mode_needs_a_signing_secret(fake_slack: FakeSlack, services: Services) -> None:
    settings = services.settings.replace(slack_signing_secret="")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        build_slack_app(settings, Commands(services))


async def test_socket_mode_answers_a_slash_command(fake_slack: FakeSlack, services: Services) -> None:
    settings = services.settings.replace(slack_app_token="xapp-test", slack_signing_secret="")
    bot = SlackBot(settings, Commands(services), min_interval=0, clock=lambda: CHAT_NOW)
    await bot.start()
    try:
        await fake_slack.wait_socket()
        [opened] = fake_slack.calls("apps.connections.open")
        assert opened.headers["authorization"] == "Bearer xapp-test"
        payload = command_fields(fake_slack, "subscribe", key="sm")
        envelope_id = await fake_slack.send_envelope("slash_commands", payload)
        [ack] = await fake_slack.wait_for("socket.ack")
        assert ack.params["envelope_id"] == envelope_id
        [reply] = await fake_slack.wait_for("response")
        assert "Subscribed" in reply.params["text"] and reply.path == "/response/sm"
        sub = await services.store.get_subscription(ChatRef("slack", "C1"))
        assert sub is not None and sub.active
    finally:
        await bot.stop()


# -- the Sender ----------------------------------------------------------------------------------


async def test_a_long_digest_is_posted_in_parts_the_fake_accepts(fake_slack: FakeSlack, services: Services) -> None:
    sender = SlackSender(build_slack_client(services.settings), min_interval=0)
    parts = sender.render(digest_blocks(build_digest(DAY, FIELDS, [], lang="en", min_score=7, max_per_field=10,
                                                     papers_read=0, model="offline", tokens=0, updated_at=None)), "en")
    assert len(parts) == 1
    parts = _long_parts(60)
    assert len(parts) > 1
    for part in parts:
        await sender.send_part(ChatRef("slack", "C1"), part)
    posts = fake_slack.calls("chat.postMessage")
    assert len(posts) == len(parts) and all(p.ok for p in posts)
    posted = "".join(json.dumps(p.params["blocks"]) for p in posts)
    assert all(f"+1:2601.{i:05d}" in posted for i in range(1, 61))
    assert "&lt;more&gt;" in posted and "<more>" not in posted


async def test_a_429_is_retried_after_retry_after(fake_slack: FakeSlack, services: Services) -> None:
    sender = SlackSender(build_slack_client(services.settings), min_interval=0)
    [part] = sender.render(digest_blocks(sample_digest("en")), "en")
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    await sender.send_part(ChatRef("slack", "C1"), part)
    first, second = fake_slack.calls("chat.postMessage")
    assert (first.status, first.error) == (429, "ratelimited") and second.ok
    assert second.at - first.at >= 1.0


@pytest.mark.parametrize(("code", "permanent"), [
    ("is_archived", True), ("not_in_channel", True), ("channel_not_found", True),
    ("invalid_auth", False), ("account_inactive", False), ("msg_too_long", False),
])
async def test_slack_errors_become_delivery_errors(
    fake_slack: FakeSlack, services: Services, code: str, permanent: bool
) -> None:
    sender = SlackSender(build_slack_client(services.settings), min_interval=0)
    [part] = sender.render(digest_blocks(sample_digest("en")), "en")
    fake_slack.fail_next("chat.postMessage", error=code)
    with pytest.raises(DeliveryError, match=code) as info:
        await sender.send_part(ChatRef("slack", "C7"), part)
    assert info.value.permanent is permanent


async def test_an_archived_channel_is_permanent_and_a_ratelimit_that_outlasts_the_retries_is_not(
    fake_slack: FakeSlack, services: Services
) -> None:
    sender = SlackSender(build_slack_client(services.settings), min_interval=0)
    [part] = sender.render(digest_blocks(sample_digest("en")), "en")
    fake_slack.archived.add("C8")
    with pytest.raises(DeliveryError) as info:
        await sender.send_part(ChatRef("slack", "C8"), part)
    assert info.value.permanent
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0, times=4)
    with pytest.raises(DeliveryError, match="ratelimited") as info:
        await sender.send_part(ChatRef("slack", "C1"), part)
    assert not info.value.permanent
    assert len(fake_slack.calls("chat.postMessage")) == 1 + 4  # the first try and three retries


async def test_server_errors_and_an_unreachable_slack_are_transient(fake_slack: FakeSlack, services: Services) -> None:
    sender = SlackSender(build_slack_client(services.settings), min_interval=0)
    [part] = sender.render(digest_blocks(sample_digest("en")), "en")
    fake_slack.fail_next("chat.postMessage", status=503, times=3)
    with pytest.raises(DeliveryError, match="HTTP 503") as info:
        await sender.send_part(ChatRef("slack", "C1"), part)
    assert not info.value.permanent and len(fake_slack.calls("chat.postMessage")) == 3

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = services.settings.replace(slack_api_base_url=f"http://127.0.0.1:{port}/api/")
    with pytest.raises(DeliveryError, match="could not be reached") as info:
        await SlackSender(build_slack_client(closed), min_interval=0).send_part(ChatRef("slack", "C1"), part)
    assert not info.value.permanent


async def test_posts_to_one_channel_are_paced(fake_slack: FakeSlack, services: Services) -> None:
    sender = SlackSender(build_slack_client(services.settings), min_interval=0.2)
    [part] = sender.render(digest_blocks(sample_digest("en")), "en")
    for _ in range(3):
        await sender.send_part(ChatRef("slack", "C1"), part)
    await sender.send_part(ChatRef("slack", "C2"), part)
    posts = fake_slack.calls("chat.postMessage")
    gaps = [b.at - a.at for a, b in zip(posts[:2], posts[1:3], strict=True)]
    assert all(gap >= 0.19 for gap in gaps)
    assert posts[3].at - posts[2].at < 0.19  # another channel does not wait
