"""Clear errors, not tracebacks, along the paths real users take.

A corrupt database, an unwritable DIGEST_DIR, a fields file with a BOM or in another encoding, a webhook
secret Telegram refuses, a closed pipe, an absurd --limit, Slack events with keys missing, and a chat
user asking while arXiv is down: each gets a sentence that says what is wrong, and the process goes on
(or exits with a status) without a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.cli import EXIT_BROKEN_PIPE, main
from bot.commands import Caller, Commands
from bot.slack import SlackSender, build_slack_app, build_slack_client
from core.config import PROJECT_ROOT, Settings
from core.errors import ConfigError, DeliveryError, StoreError
from core.fields import load_fields
from core.models import ChatRef
from core.services import Services
from core.store import Store
from tests.fakes.slack import FakeSlack, fake_slack  # noqa: F401

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
NOW = datetime(2025, 12, 23, 12, 0, tzinfo=UTC)
NOT_A_DATABASE = "Lab notes, week 12: not an SQLite file at all.\n" * 30
SIGNING = "errors-signing-secret"
FIELD_TOML = """[[field]]
slug = "robots"
name_en = "Robots"
name_zh = "机器人"
description_en = "Robot learning, manipulation and locomotion."
terms = ["robot^3", "manipulation"]
"""


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"), **extra}


# -- the database ------------------------------------------------------------------------------------------


async def test_a_file_that_is_not_a_database_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text(NOT_A_DATABASE)
    with pytest.raises(StoreError) as caught:
        async with Store.open(path):
            pass
    assert str(caught.value) == (f"cannot open database {path}: the file is not an SQLite database (or is corrupt);"
                                 " point DATABASE_PATH elsewhere")
    assert path.read_text() == NOT_A_DATABASE, "the file is left as it was"


def test_the_cli_says_the_database_is_not_one_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "db.sqlite").write_text(NOT_A_DATABASE)
    assert main(["status"], env=env_for(tmp_path)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"arxiv-digest: cannot open database {tmp_path / 'db.sqlite'}: the file is not an SQLite")
    assert "Traceback" not in err


# -- the digest folder ---------------------------------------------------------------------------------------


def test_run_stops_before_scoring_when_the_digest_folder_is_not_writable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "digests-is-a-file"
    blocker.write_text("")
    env = env_for(tmp_path, DIGEST_DIR=str(blocker / "2025"))
    assert main(["run", "--offline", "--input", str(SAMPLE), "--quiet"], env=env) == 1
    err = capsys.readouterr().err
    assert err == (f"arxiv-digest: DIGEST_DIR: cannot write to {blocker / '2025'} (Not a directory); set DIGEST_DIR"
                   " to a folder you can write to\n")
    assert not (tmp_path / "db.sqlite").exists(), "nothing was fetched, stored or scored"


def test_serve_does_not_start_when_the_digest_folder_is_not_writable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "digests-is-a-file"
    blocker.write_text("")
    env = env_for(tmp_path, DIGEST_DIR=str(blocker), TELEGRAM_BOT_TOKEN="123:abc")
    assert main(["serve"], env=env) == 1
    assert capsys.readouterr().err.startswith(f"arxiv-digest: DIGEST_DIR: cannot write to {blocker} (")


# -- fields files ------------------------------------------------------------------------------------------


def test_a_fields_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "fields.toml"
    path.write_bytes(b"\xef\xbb\xbf" + FIELD_TOML.encode("utf-8"))
    [field] = load_fields(path)
    assert field.slug == "robots" and field.name_zh == "机器人"


def test_a_fields_file_that_is_not_utf8_is_a_config_error_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "fields"
    folder.mkdir()
    (folder / "a.toml").write_text(FIELD_TOML, encoding="utf-8")
    (folder / "b.toml").write_bytes(FIELD_TOML.replace("robots", "vision").encode("gb18030"))
    with pytest.raises(ConfigError) as caught:
        load_fields(folder)
    assert str(caught.value).startswith(f"{folder / 'b.toml'}: not UTF-8 (byte ")
    assert str(caught.value).endswith("save the file as UTF-8")


# -- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["has space", "semi;colon", "ümlaut", "x" * 257])
def test_a_webhook_secret_telegram_refuses_is_a_settings_error(secret: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"TELEGRAM_WEBHOOK_SECRET": secret, "MIN_SCORE": "11"})
    text = str(caught.value)
    assert "TELEGRAM_WEBHOOK_SECRET: must be 1-256 characters of A-Z, a-z, 0-9, _ and -" in text
    assert "MIN_SCORE" in text, "checked with the other settings, in one error"
    assert secret not in text


@pytest.mark.parametrize("secret", ["", "a", "Abc_123-xyz", "x" * 256])
def test_a_webhook_secret_in_telegrams_alphabet_is_accepted(secret: str) -> None:
    assert Settings.from_env({"TELEGRAM_WEBHOOK_SECRET": secret}).telegram_webhook_secret == secret


@pytest.mark.parametrize(("name", "value"), [
    ("OPENAI_BASE_URL", "api.deepseek.com"), ("ARXIV_RSS_URL", "rss.arxiv.org/rss"),
    ("ARXIV_API_URL", "ftp://export.arxiv.org/api/query"), ("TELEGRAM_API_BASE_URL", "https://"),
    ("SLACK_API_BASE_URL", "slack.com/api/"),
])
def test_a_base_url_without_a_scheme_or_host_is_a_settings_error(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert f"{name}: must be an http:// or https:// URL with a host, got {value!r}" in str(caught.value)


def test_a_webhook_url_must_be_https() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_URL: must be a public https:// URL"):
        Settings.from_env({"TELEGRAM_WEBHOOK_URL": "http://digest.example/hook"})
    assert Settings.from_env({"TELEGRAM_WEBHOOK_URL": "https://digest.example/hook"}).telegram_webhook_url


# -- the command line ----------------------------------------------------------------------------------------


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # `status | head -1` after head has exited
    env = {**os.environ, "ARXIV_DIGEST_DOTENV": "", **env_for(tmp_path)}
    try:
        done = subprocess.run([sys.executable, "-m", "bot", "status"], stdout=write_end, stderr=subprocess.PIPE,
                              env=env, cwd=PROJECT_ROOT, timeout=60, check=False)
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert done.returncode == EXIT_BROKEN_PIPE, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("limit", ["1e20", "100000000000000000000", "-1", "0", "ten"])
@pytest.mark.parametrize("command", ["stats", "search"])
def test_an_absurd_limit_is_an_argument_error(
    command: str, limit: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, "--limit", limit] + (["robots"] if command == "search" else [])
    with pytest.raises(SystemExit) as caught:
        main(argv, env=env_for(tmp_path))
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --limit:" in err and "Traceback" not in err


def test_a_sensible_limit_still_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--limit", "10000"], env=env_for(tmp_path)) == 0
    assert "no runs yet" in capsys.readouterr().err


# -- chat users see words ------------------------------------------------------------------------------------


async def test_a_chat_user_is_told_arxiv_is_unreachable_in_words(tmp_path: Path) -> None:
    settings = Settings.from_env(env_for(tmp_path, ARXIV_API_URL="http://127.0.0.1:9/api/query",
                                         ARXIV_MAX_TRIES="1", ARXIV_REQUEST_DELAY="0", DIGEST_LANGUAGE="en"))
    async with Store.open(settings.database_path) as store, aiohttp.ClientSession() as http:
        services = Services(settings=settings, store=store, fields=tuple(load_fields(settings.fields_path)),
                            http=http, monotonic=time.monotonic, sleep=asyncio.sleep)
        commands = Commands(services)
        reply = await commands.handle("/paper 2601.99999", Caller(chat=ChatRef("telegram", "1"), now=NOW))
        [text] = [block.text for block in reply.blocks]  # type: ignore[attr-defined]
        assert text == "arXiv could not be reached; try again later."
        await commands.handle("/lang zh", Caller(chat=ChatRef("telegram", "1"), now=NOW))
        reply = await commands.handle("/paper 2601.99999", Caller(chat=ChatRef("telegram", "1"), now=NOW))
        assert [block.text for block in reply.blocks] == ["暂时无法连接 arXiv，请稍后再试。"]  # type: ignore[attr-defined]
        # A paper arXiv does not have is still said as such (written for people, not a network failure).
        reply = await commands.handle("/why 2601.99999", Caller(chat=ChatRef("telegram", "1"), now=NOW))
        assert "2601.99999" in reply.blocks[0].text  # type: ignore[attr-defined]


async def test_slack_unreachable_is_said_in_words() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_BASE_URL": "http://127.0.0.1:9/api/"})
    sender = SlackSender(build_slack_client(settings), min_interval=0)
    with pytest.raises(DeliveryError) as caught:
        await sender.send_part(ChatRef("slack", "C1"), {"text": "hi", "blocks": []})
    assert str(caught.value) == "Slack could not be reached for C1"


# -- Slack events with keys missing ---------------------------------------------------------------------------


@pytest_asyncio.fixture
async def slack_app(tmp_path: Path, fake_slack: FakeSlack) -> AsyncIterator[AsyncApp]:  # noqa: F811
    settings = Settings.from_env(env_for(tmp_path, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SIGNING,
                                         SLACK_API_BASE_URL=f"{fake_slack.url}/api/", DIGEST_LANGUAGE="en"))
    async with Store.open(settings.database_path) as store:
        services = Services(settings=settings, store=store, fields=tuple(load_fields(settings.fields_path)))
        client = build_slack_client(settings)
        yield build_slack_app(settings, Commands(services), client=client, sender=SlackSender(client, min_interval=0),
                              clock=lambda: NOW)


def signed_request(body: str, content_type: str) -> AsyncBoltRequest:
    ts = str(int(time.time()))
    signature = SignatureVerifier(SIGNING).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return AsyncBoltRequest(body=body, headers={"content-type": content_type, "x-slack-request-timestamp": ts,
                                                "x-slack-signature": signature})


async def wait_for_record(caplog: pytest.LogCaptureFixture, text: str, seconds: float = 5.0) -> logging.LogRecord:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for record in caplog.records:
            if text in record.getMessage():
                return record
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no log record with {text!r}: {[r.getMessage() for r in caplog.records]}")


async def test_slack_events_with_missing_keys_are_acked_logged_and_skipped(
    slack_app: AsyncApp, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.INFO)
    event = {"token": "legacy", "team_id": fake_slack.team_id, "api_app_id": "A0001", "type": "event_callback",
             "event_id": "Ev1", "event_time": 1700000000,
             "event": {"type": "app_home_opened", "tab": "home", "channel": "D1", "event_ts": "1700000000.1"}}
    resp = await slack_app.async_dispatch(signed_request(json.dumps(event), "application/json"))
    assert resp.status == 200
    record = await wait_for_record(caplog, "app_home_opened without a user")
    assert record.levelno == logging.WARNING
    command = {"token": "legacy", "team_id": fake_slack.team_id, "user_id": "U1", "command": "/arxiv",
               "text": "help", "api_app_id": "A0001", "response_url": fake_slack.response_url("1"),
               "trigger_id": "1.2.3"}
    resp = await slack_app.async_dispatch(signed_request(urlencode(command), "application/x-www-form-urlencoded"))
    assert resp.status == 200
    await wait_for_record(caplog, "command without a channel_id")
    # ... and the app goes on: the next complete command is answered.
    again = {**command, "channel_id": "C1", "trigger_id": "2.2.3"}  # a new command has its own trigger_id
    resp = await slack_app.async_dispatch(signed_request(urlencode(again), "application/x-www-form-urlencoded"))
    assert resp.status == 200
    [answer] = await fake_slack.wait_for("response")
    assert "/arxiv" in json.dumps(answer.params)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
