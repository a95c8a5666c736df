"""Secrets stay out of the logs: in exception text and tracebacks too, and no webhook body is logged whole.

The logging set-up is the process's own (`setup_logging`), at LOG_LEVEL=DEBUG, where libraries log the
most; what it writes to stderr is read back with capsys.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.commands import Commands
from bot.logs import JsonLogFormatter, RedactSecrets, setup_logging
from bot.slack import SlackSender, build_slack_app, build_slack_client
from bot.telegram import TelegramBot
from core.config import Settings
from core.fields import load_fields
from core.services import Services
from core.store import Store
from tests.fakes.slack import FakeSlack, fake_slack  # noqa: F401
from tests.fakes.telegram import FakeTelegram, fake_telegram  # noqa: F401

LLM_KEY = "sk-live-0123456789abcdef"
TG_TOKEN = "123456:SECRET-telegram-token"
SIGNING = "secrets-signing-secret"
MARKER = "zyxwvu-private-words"  # what a chat user wrote: it must not reach the log whole


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def log_lines(err: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_a_secret_in_an_exception_and_its_traceback_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(Settings.from_env({"OPENAI_API_KEY": LLM_KEY, "TELEGRAM_BOT_TOKEN": TG_TOKEN}))
    log = logging.getLogger("tests.secrets")

    def call_the_api(url: str) -> None:
        raise ConnectionError(f"cannot reach {url}")

    try:
        call_the_api(f"https://api.telegram.org/bot{TG_TOKEN}/getMe?key={LLM_KEY}")
    except ConnectionError as exc:
        log.error("request failed: %s", exc, exc_info=True)
        log.warning("plain", exc_info=exc, stack_info=True)
    err = capsys.readouterr().err
    assert TG_TOKEN not in err and LLM_KEY not in err
    first, second = log_lines(err)
    assert first["msg"] == "request failed: cannot reach https://api.telegram.org/bot***/getMe?key=***"
    assert "Traceback" in first["exc"]
    assert "ConnectionError: cannot reach https://api.telegram.org/bot***/getMe" in first["exc"]
    assert "bot***/getMe" in second["exc"] and "stack" in second


def test_the_filter_redacts_for_every_handler_not_only_the_json_one() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise RuntimeError(f"token {TG_TOKEN} refused")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactSecrets([TG_TOKEN]).filter(record)
    assert TG_TOKEN not in logging.Formatter().format(record)
    assert "token *** refused" in JsonLogFormatter().format(record)


async def test_a_telegram_webhook_body_is_never_logged_whole(
    tmp_path: Path, fake_telegram: FakeTelegram, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    settings = Settings.from_env({
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en", "LOG_LEVEL": "DEBUG",
        "TELEGRAM_BOT_TOKEN": TG_TOKEN, "TELEGRAM_API_BASE_URL": fake_telegram.api_url,
        "TELEGRAM_WEBHOOK_URL": "https://digest.example/telegram/hook", "TELEGRAM_WEBHOOK_SECRET": "hook-secret-1",
        "TELEGRAM_WEBHOOK_PORT": str(port),
    })
    setup_logging(settings)
    async with Store.open(settings.database_path) as store:
        services = Services(settings=settings, store=store, fields=tuple(load_fields(settings.fields_path)))
        webhook_bot = TelegramBot(settings, Commands(services), webhook_listen="127.0.0.1", min_interval=0)
        await webhook_bot.start()
        try:
            update = fake_telegram.message_update("42", f"/search {MARKER}")
            async with aiohttp.ClientSession() as http:
                async with http.post(f"http://127.0.0.1:{port}/telegram/hook", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret-1"}) as resp:
                    assert resp.status == 200
            [reply] = await fake_telegram.wait_for("sendMessage", chat_id="42")
            assert MARKER in reply.params["text"]
        finally:
            await webhook_bot.stop()
    err = capsys.readouterr().err
    assert log_lines(err), "DEBUG logging was on"
    assert MARKER not in err
    assert TG_TOKEN not in err and "hook-secret-1" not in err


async def test_a_slack_event_body_is_never_logged_whole(
    tmp_path: Path, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    settings = Settings.from_env({
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en", "LOG_LEVEL": "DEBUG",
        "SLACK_BOT_TOKEN": "xoxb-secret-bot-token", "SLACK_SIGNING_SECRET": SIGNING,
        "SLACK_API_BASE_URL": f"{fake_slack.url}/api/",
    })
    setup_logging(settings)
    async with Store.open(settings.database_path) as store:
        services = Services(settings=settings, store=store, fields=tuple(load_fields(settings.fields_path)))
        client = build_slack_client(settings)
        app = build_slack_app(settings, Commands(services), client=client, sender=SlackSender(client, min_interval=0))
        body = urlencode({"token": "legacy", "team_id": fake_slack.team_id, "channel_id": "C1", "user_id": "U1",
                          "command": "/arxiv", "text": f"search {MARKER}", "api_app_id": "A0001",
                          "response_url": fake_slack.response_url("1"), "trigger_id": "1.2.3"})
        ts = str(int(time.time()))
        signature = SignatureVerifier(SIGNING).generate_signature(timestamp=ts, body=body)
        assert signature is not None
        resp = await app.async_dispatch(AsyncBoltRequest(body=body, headers={
            "content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": ts,
            "x-slack-signature": signature}))
        assert resp.status == 200
        [answer] = await fake_slack.wait_for("response")
        assert MARKER in json.dumps(answer.params)
    err = capsys.readouterr().err
    assert log_lines(err), "DEBUG logging was on"
    assert MARKER not in err
    assert "xoxb-secret-bot-token" not in err and SIGNING not in err
