"""`arxiv-digest check` against the fakes: a healthy deployment, then broken ones, one line per item.

Every probe is a real client (openai, aiohttp, python-telegram-bot, slack_sdk) talking to a fake on
127.0.0.1; no secret may appear in what it prints.
"""

from __future__ import annotations

import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.check import check
from bot.cli import main
from core.store import Store
from core.store.legacy import SCHEMA_VERSION
from core.store.migrate import head
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.arxiv import fake_arxiv as fake_arxiv  # noqa: F401
from tests.fakes.openai_server import FakeOpenAI, fake_openai  # noqa: F401
from tests.fakes.slack import FakeSlack, fake_slack  # noqa: F401
from tests.fakes.telegram import FakeTelegram, fake_telegram  # noqa: F401
from tests.pgserver import PgServer

LLM_KEY = "sk-check-secret-key-123"
TG_TOKEN = "123456:CHECK-secret-token"
SLACK_TOKEN = "xoxb-check-secret-token"
SIGNING = "check-signing-secret"
SECRETS = (LLM_KEY, TG_TOKEN, SLACK_TOKEN, SIGNING, "123456", "CHECK-secret-token")


def healthy_env(tmp_path: Path, arxiv: FakeArxiv, llm: FakeOpenAI, telegram: FakeTelegram, slack: FakeSlack,
                **extra: str) -> dict[str, str]:
    return {
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
        **arxiv.settings_env(), "ARXIV_REQUEST_DELAY": "0",
        "OPENAI_API_KEY": LLM_KEY, "OPENAI_BASE_URL": f"{llm.url}/v1", "LLM_MODEL": "tiny-model",
        "TELEGRAM_BOT_TOKEN": TG_TOKEN, "TELEGRAM_API_BASE_URL": telegram.api_url,
        "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SIGNING, "SLACK_API_BASE_URL": f"{slack.url}/api/",
        **extra,
    }


async def run_check(env: dict[str, str]) -> tuple[int, dict[str, str], str]:
    """Run the check; return its exit status, each item's line by item name, and the whole output."""
    out = io.StringIO()
    code = await check(env, out)
    text = out.getvalue()
    for secret in SECRETS:
        assert secret not in text, "check printed a secret"
    lines: dict[str, str] = {}
    for line in text.splitlines():
        status, _, rest = line.partition(" ")
        item = rest.strip().split(":", 1)[0]
        lines[item] = f"{status} {rest.strip()}"
    return code, lines, text


async def test_a_healthy_deployment_passes_every_item(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack)
    async with Store.open(Path(env["DATABASE_PATH"])):
        pass
    code, lines, text = await run_check(env)
    print(text)
    assert code == 0, text
    assert list(lines) == ["settings", "database", "fields", "llm", "arxiv rss", "arxiv api", "telegram", "slack",
                           "digest folder"]
    assert all(line.startswith("ok ") for line in lines.values()), text
    assert lines["database"] == f"ok database: sqlite {env['DATABASE_PATH']} at schema {head()} (current)"
    assert "7 from the shipped default fields (FIELDS_PATH unset)" in lines["fields"]
    assert "accepts json_schema" in lines["llm"]
    assert "@" in lines["telegram"] and "long polling" in lines["telegram"]
    assert "arxiv-digest in Fake (auth.test)" in lines["slack"]
    # One tiny request each, where the settings point.
    [probe] = fake_openai.calls()
    assert probe.body["model"] == "tiny-model" and probe.body["response_format"]["type"] == "json_schema"
    assert probe.headers["authorization"] == f"Bearer {LLM_KEY}"
    assert len(fake_arxiv.calls("rss")) == 1 and len(fake_arxiv.calls("api")) == 1
    assert [c.method for c in fake_telegram.calls()] == ["getMe"]
    assert [c.method for c in fake_slack.calls()] == ["auth.test"]
    assert list((tmp_path / "digests").iterdir()) == [], "the writability probe leaves nothing behind"


async def test_an_unconfigured_llm_and_chat_platforms_are_skipped_with_why(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack, OPENAI_API_KEY="",
                      TELEGRAM_BOT_TOKEN="", SLACK_BOT_TOKEN="")
    code, lines, text = await run_check(env)
    assert code == 0, text
    assert lines["llm"] == "skip llm: no OPENAI_API_KEY: the offline scorer scores everything"
    assert lines["telegram"] == "skip telegram: no TELEGRAM_BOT_TOKEN"
    assert lines["slack"] == "skip slack: no SLACK_BOT_TOKEN"
    assert "does not exist yet; the first run creates it" in lines["database"]
    assert not (tmp_path / "db.sqlite").exists(), "check creates no database"
    assert fake_openai.calls() == []


async def test_a_broken_deployment_fails_each_broken_item_in_words(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    (tmp_path / "db.sqlite").write_text("these are notes, not a database\n" * 40)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    fake_openai.push("status", status=401)
    fake_telegram.token = "999:another-token"  # the configured token is refused
    fake_slack.fail_next("auth.test", error="invalid_auth")
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack,
                      ARXIV_RSS_URL="http://127.0.0.1:9/rss", DIGEST_DIR=str(blocker / "digests"))
    code, lines, text = await run_check(env)
    print(text)
    assert code == 1
    assert lines["settings"].startswith("ok ")
    assert lines["database"].startswith("FAIL database: cannot open database ")
    assert "db.sqlite: the file is not an SQLite database" in lines["database"]
    assert lines["fields"].startswith("ok ")
    assert lines["llm"] == f"FAIL llm: {fake_openai.url}/v1 refused OPENAI_API_KEY (HTTP 401)"
    assert lines["arxiv rss"].startswith("FAIL arxiv rss: arXiv fetch failed: http://127.0.0.1:9/rss/")
    assert lines["arxiv api"].startswith("ok ")
    assert lines["telegram"] == "FAIL telegram: Telegram rejected TELEGRAM_BOT_TOKEN (getMe: Unauthorized)"
    assert lines["slack"] == "FAIL slack: Slack rejected SLACK_BOT_TOKEN (auth.test: invalid_auth)"
    assert lines["digest folder"].startswith(f"FAIL digest folder: cannot write to {blocker / 'digests'} (")
    assert "set DIGEST_DIR to a folder you can write to" in lines["digest folder"]
    assert "Traceback" not in text


async def test_invalid_settings_fail_once_and_skip_the_rest_without_echoing_a_secret(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack, MIN_SCORE="eleven",
                      TELEGRAM_WEBHOOK_SECRET="has spaces and CHECK-secret-token!")
    code, lines, text = await run_check(env)
    assert code == 1
    assert text.startswith("FAIL settings: invalid settings:")
    assert "MIN_SCORE" in text and "TELEGRAM_WEBHOOK_SECRET" in text
    assert lines["database"] == "skip database: the settings are invalid"
    assert fake_openai.calls() == [] and fake_telegram.calls() == []


async def test_the_llm_item_reports_the_json_mode_the_server_accepts(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    # Like llama.cpp's server: json_schema refused with a 400, json_object accepted.
    fake_openai.push("status", status=400)
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack, LLM_JSON_MODE="json_object")
    code, lines, text = await run_check(env)
    assert code == 0, text
    assert "accepts json_object" in lines["llm"]
    formats = [c.body.get("response_format", {}).get("type") for c in fake_openai.calls()]
    assert formats == ["json_schema", "json_object"]


async def test_the_llm_item_fails_when_the_configured_json_mode_is_refused(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    fake_openai.push("status", status=400)
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack, LLM_JSON_MODE="json_schema")
    code, lines, _ = await run_check(env)
    assert code == 1
    assert lines["llm"].startswith("FAIL llm: tiny-model at ")
    assert lines["llm"].endswith(
        "accepts json_object_schema, but LLM_JSON_MODE is json_schema: set LLM_JSON_MODE=json_object_schema (or auto)")


async def test_an_unreachable_llm_is_named_by_its_url(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack,
                      OPENAI_BASE_URL="http://127.0.0.1:9/v1", TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot")
    code, lines, _ = await run_check(env)
    assert code == 1
    assert lines["llm"].startswith("FAIL llm: cannot reach http://127.0.0.1:9/v1 (")
    assert lines["telegram"].startswith("FAIL telegram: getMe failed at http://127.0.0.1:9/bot (")


async def test_an_older_database_fails_until_migrated_and_a_newer_one_fails(
    tmp_path: Path, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack, OPENAI_API_KEY="",
                      TELEGRAM_BOT_TOKEN="", SLACK_BOT_TOKEN="")
    path = tmp_path / "db.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 1")
    _, lines, _ = await run_check(env)
    assert lines["database"] == (f"FAIL database: sqlite {path} is at schema v1 (before Alembic), this version needs"
                                 f" {head()}: run `arxiv-digest migrate` (back it up first)")
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    code, lines, _ = await run_check(env)
    assert code == 1
    assert lines["database"].endswith("upgrade arxiv-digest")


async def test_check_names_a_postgres_store_and_its_revision_without_the_password(
    tmp_path: Path, pg_server: PgServer, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    url = pg_server.create_database().replace("postgres@", "postgres:Pg-pass-w0rd@")
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack, DATABASE_URL=url)
    _, lines, text = await run_check(env)
    assert lines["database"].startswith("ok database: postgresql postgresql://postgres:***@127.0.0.1:")
    assert lines["database"].endswith(f"is empty; the first run creates it at schema {head()}")
    async with Store.open(url):
        pass
    code, lines, text = await run_check(env)
    assert lines["database"].endswith(f"at schema {head()} (current)") and code == 0, text
    assert "Pg-pass-w0rd" not in text
    dead = url.replace(f":{pg_server.port}/", ":9/")
    code, lines, text = await run_check({**env, "DATABASE_URL": dead})
    assert code == 1 and lines["database"].startswith("FAIL database: cannot open database postgresql://postgres:***@")
    assert "Pg-pass-w0rd" not in text


def test_check_is_a_command_of_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
           "FIELDS_PATH": str(tmp_path / "missing.toml"), "ARXIV_RSS_URL": "http://127.0.0.1:9/rss",
           "ARXIV_API_URL": "http://127.0.0.1:9/api/query", "ARXIV_REQUEST_DELAY": "0", "ARXIV_MAX_TRIES": "1"}
    assert main(["check"], env=env) == 1
    out = capsys.readouterr().out
    assert f"FAIL fields: fields file not found: {tmp_path / 'missing.toml'}" in out.splitlines()
    assert out.splitlines()[0].startswith("ok   settings: offline scorer; no chat platform")


async def test_check_shows_a_postgres_url_without_a_password_whole(
    tmp_path: Path, pg_server: PgServer, fake_arxiv: FakeArxiv, fake_openai: FakeOpenAI,  # noqa: F811
    fake_telegram: FakeTelegram, fake_slack: FakeSlack,  # noqa: F811
) -> None:
    """Only DATABASE_URL's password is secret: a URL with none (trust or peer authentication) is shown as it is."""
    url = pg_server.create_database()
    env = healthy_env(tmp_path, fake_arxiv, fake_openai, fake_telegram, fake_slack, DATABASE_URL=url)
    _, lines, text = await run_check(env)
    assert lines["database"].startswith(f"ok database: postgresql {url} "), text
