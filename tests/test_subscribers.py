"""The operator's subscription commands (`subscribe`, `unsubscribe`, `subscribers`) for every platform, and an
email subscriber receiving the sample day through `arxiv-digest deliver` against a real SMTP server."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.subscribers import parse_email, parse_target
from core.config import PROJECT_ROOT, Settings
from core.models import ChatRef
from core.store import Store
from tests.fakes.smtp import FakeSMTP, fake_smtp  # noqa: F401

NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"


def env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
            "LOG_LEVEL": "WARNING", **more}


def cli(tmp_path: Path, *argv: str, **more: str) -> int:
    return main(list(argv), env(tmp_path, **more), clock=lambda: NOW)


async def stored(tmp_path: Path, chat: ChatRef) -> object:
    async with Store.open(tmp_path / "db.sqlite") as store:
        return await store.get_subscription(chat)


@pytest.mark.parametrize(("text", "chat"), [
    ("email:Reader.Name+arxiv@Example.ORG", ChatRef("email", "Reader.Name+arxiv@example.org")),
    ("email:ich@bücher.de", ChatRef("email", "ich@xn--bcher-kva.de")),
    ("telegram:-1001234567890", ChatRef("telegram", "-1001234567890")),
    ("telegram:42", ChatRef("telegram", "42")),
    ("slack:C0123ABCD", ChatRef("slack", "C0123ABCD")),
    ("feishu:https://open.larksuite.com/open-apis/bot/v2/hook/ab-12",
     ChatRef("feishu", "https://open.larksuite.com/open-apis/bot/v2/hook/ab-12")),
    ("EMAIL:a@b.co", ChatRef("email", "a@b.co")),
])
def test_a_target_is_platform_colon_id_checked_by_its_platform(text: str, chat: ChatRef) -> None:
    assert parse_target(text) == chat


@pytest.mark.parametrize(("text", "says"), [
    ("reader@example.org", "PLATFORM:ID"),
    ("feishu:http://open.feishu.cn/open-apis/bot/v2/hook/x", "must be https"),
    ("email:reader", "not an email address"),
    ("email:a b@example.org", "plain mailbox name"),
    ("email:reader@localhost", "not a valid host name"),
    ("email:reader@exa_mple.org", "not a valid host name"),
    ("email:a..b@example.org", "plain mailbox name"),
    ("email:Reader <r@example.org>", "plain mailbox name"),
    ("telegram:@mychannel", "not a Telegram chat id"),
    ("slack:#general", "not a Slack channel id"),
])
def test_a_wrong_target_is_refused_with_what_to_write(text: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=says.replace("(", r"\(")):
        parse_target(text)


def test_a_long_address_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than 254"):
        parse_email("a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".org")


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--min-score", "11", "1-10 in steps of 0.5"), ("--min-score", "7.3", "1-10 in steps of 0.5"),
    ("--time", "25:00", "HH:MM"), ("--timezone", "Mars/Olympus", "time zone"), ("--lang", "fr", "zh or en"),
])
def test_a_wrong_option_exits_2_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, says: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(tmp_path, "subscribe", "email:r@example.org", option, value)
    assert exited.value.code == 2 and says in capsys.readouterr().err


async def test_subscribe_stores_the_options_and_keeps_the_rest_on_a_later_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    chat = ChatRef("email", "r@example.org")
    code = await asyncio.to_thread(cli, tmp_path, "subscribe", "email:r@example.org", "--fields",
                                   "efficient-llm,safety-alignment", "--min-score", "6.5", "--lang", "en",
                                   "--time", "7:05", "--timezone", "europe/berlin")
    out, err = capsys.readouterr()
    assert code == 0 and "subscribed: email:r@example.org  active  lang=en" in out
    assert "SMTP_HOST is not set, so email subscribers get nothing until it is" in err
    sub = await stored(tmp_path, chat)
    assert sub is not None
    assert (sub.fields, sub.min_score, sub.lang, sub.digest_time, sub.timezone, sub.active) == (  # type: ignore[attr-defined]
        ("efficient-llm", "safety-alignment"), 6.5, "en", "07:05", "Europe/Berlin", True)
    assert await asyncio.to_thread(cli, tmp_path, "subscribe", "email:r@example.org", "--min-score", "8") == 0
    sub = await stored(tmp_path, chat)
    assert (sub.min_score, sub.lang, sub.digest_time) == (8.0, "en", "07:05")  # type: ignore[attr-defined]
    assert "updated:" in capsys.readouterr().out


async def test_a_new_subscription_starts_from_the_settings_defaults(tmp_path: Path) -> None:
    code = await asyncio.to_thread(cli, tmp_path, "subscribe", "slack:C0123ABCD", DIGEST_TIME="06:30",
                                   DIGEST_LANGUAGE="en", MIN_SCORE="6")
    sub = await stored(tmp_path, ChatRef("slack", "C0123ABCD"))
    assert code == 0 and (sub.digest_time, sub.lang, sub.min_score, sub.fields) == ("06:30", "en", 6.0, ())  # type: ignore[attr-defined]


async def test_an_unknown_field_is_refused_with_the_closest_slugs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code = await asyncio.to_thread(cli, tmp_path, "subscribe", "email:r@example.org", "--fields", "efficient-lm")
    err = capsys.readouterr().err
    assert code == 1 and "unknown field 'efficient-lm' (did you mean efficient-llm" in err
    assert await stored(tmp_path, ChatRef("email", "r@example.org")) is None


async def test_unsubscribe_keeps_the_settings_and_subscribers_lists_every_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    for target in ("email:r@example.org", "telegram:-100200", "slack:C0123ABCD"):
        assert await asyncio.to_thread(cli, tmp_path, "subscribe", target, "--time", "08:15") == 0
    assert await asyncio.to_thread(cli, tmp_path, "unsubscribe", "telegram:-100200") == 0
    assert "unsubscribed: telegram:-100200" in capsys.readouterr().out
    assert await asyncio.to_thread(cli, tmp_path, "unsubscribe", "telegram:-100200") == 0
    assert "already unsubscribed" in capsys.readouterr().out
    assert await asyncio.to_thread(cli, tmp_path, "unsubscribe", "email:nobody@example.org") == 1
    assert "no subscription for email:nobody@example.org" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, tmp_path, "subscribers") == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[0:2] for line in lines] == [["email:r@example.org", "active"], ["slack:C0123ABCD", "active"],
                                                     ["telegram:-100200", "inactive"]]
    assert all("time=08:15" in line for line in lines)
    assert "email: 1 active, 0 inactive; slack: 1 active, 0 inactive; telegram: 0 active, 1 inactive" in err
    assert await asyncio.to_thread(cli, tmp_path, "subscribe", "telegram:-100200") == 0
    assert "resubscribed:" in capsys.readouterr().out
    sub = await stored(tmp_path, ChatRef("telegram", "-100200"))
    assert sub.active and sub.digest_time == "08:15"  # type: ignore[attr-defined]


async def test_an_email_subscriber_receives_the_sample_day_through_deliver(
    tmp_path: Path, fake_smtp: FakeSMTP, capsys: pytest.CaptureFixture[str],
) -> None:
    smtp = fake_smtp.settings()
    assert await asyncio.to_thread(cli, tmp_path, "run", "--offline", "--quiet", "--input", str(SAMPLE), **smtp) == 0
    assert await asyncio.to_thread(cli, tmp_path, "subscribe", "email:reader@example.org", "--min-score", "5",
                                   "--lang", "en", **smtp) == 0
    # `deliver` as an operator runs it: its own process (it takes SIGTERM), talking to the server in this one
    process_env = {"PATH": os.environ.get("PATH", ""), "ARXIV_DIGEST_DOTENV": "", "NO_PROXY": "127.0.0.1",
                   **env(tmp_path, **smtp)}
    outs = []
    for _ in range(2):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "deliver", "--force", "--date", "2025-12-22", cwd=tmp_path, env=process_env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-2000:]
        outs.append(out.decode())
        [got] = fake_smtp.to("reader@example.org")  # the second run sends nothing twice
    assert "sent 1 (1 messages)" in outs[0] and "sent 0 (0 messages), already 1" in outs[1]
    fake_smtp.refuse("gone@example.org")
    assert await asyncio.to_thread(cli, tmp_path, "subscribe", "email:gone@example.org", **smtp) == 0
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "deliver", "--force", "--date", "2025-12-22", cwd=tmp_path, env=process_env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    await asyncio.wait_for(proc.communicate(), 60)
    capsys.readouterr()
    assert await asyncio.to_thread(cli, tmp_path, "subscribers", "--platform", "email", **smtp) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("email:gone@example.org  inactive") and "2025-12-22: failed (" in listing[0]
    assert "550 5.1.1" in listing[0]
    assert listing[1].startswith("email:reader@example.org  active") and listing[1].endswith("2025-12-22: sent")
    assert got.message["Subject"] == "ArXiv Daily Digest - 2025-12-22"
    assert got.message.get_body(("html",)) is not None and got.message.get_body(("plain",)) is not None


def test_deliver_without_any_platform_says_which_settings_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(tmp_path, "deliver") == 1
    assert "SMTP_HOST" in capsys.readouterr().err


def test_email_settings_come_together() -> None:
    with pytest.raises(Exception, match="EMAIL_FROM, WEB_BASE_URL, UNSUBSCRIBE_SECRET"):
        Settings.from_env({"SMTP_HOST": "smtp.example.org"})
