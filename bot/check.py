"""`arxiv-digest check`: verify a deployment in one command, one line per item, without printing a secret.

Each item is one small probe: settings, the database (opened read-only, never created or migrated here),
the fields, the LLM (one tiny request, and which JSON mode it accepts), arXiv's RSS and export API (one
request each, at the configured pace), Telegram `getMe`, Slack `auth.test`, and the digest folder. An
item that is not configured prints `skip` with why; any `FAIL` makes the exit status 1. Every line is
passed through the secret redactor before it is printed, whatever a server put into its error text.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from bot.logs import redactor, setup_logging
from core.config import SECRET_FIELDS, Settings, secret_texts
from core.errors import ConfigError, DigestError
from core.fetch.client import ArxivClient
from core.fields import load_fields
from core.score.jsonmode import AUTO, LADDER, JsonModes
from core.score.requests import json_response_format
from core.store.migrate import head, inspect_store

PROBE_TIMEOUT = 30.0  # seconds per network probe, at most (a check should answer quickly)
PROBE_PAPER = "1706.03762"  # a paper the export API has had for years
PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
                "additionalProperties": False}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One checked item: "ok", "FAIL" or "skip", and what was found."""

    status: str
    item: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.status:<4} {self.item}" + (f": {self.detail}" if self.detail else "")


def ok(item: str, detail: str = "") -> Outcome:
    return Outcome("ok", item, detail)


def fail(item: str, detail: str) -> Outcome:
    return Outcome("FAIL", item, detail)


def skip(item: str, detail: str) -> Outcome:
    return Outcome("skip", item, detail)


def _reason(exc: BaseException) -> str:
    """An exception in words: its own text, else its type's name (never a repr full of internals)."""
    text = str(exc).strip()
    return text if text else type(exc).__name__


# -- local items -------------------------------------------------------------------------------------------


def writable_dir_problem(path: Path) -> str | None:
    """None when `path` is (or can be made) a folder we can write a file in; else the problem in words."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".arxiv-digest-check-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"cannot write to {path} ({exc.strerror or _reason(exc)})"
    return None


async def check_database(settings: Settings) -> Outcome:
    """Which store is in use (an SQLite file, or PostgreSQL named without its password) and its schema."""
    path = settings.database_path
    if not settings.database_url and not path.exists():
        problem = writable_dir_problem(path.parent)
        if problem:
            return fail("database", f"sqlite {path} does not exist and {problem}")
        return ok("database", f"sqlite {path} does not exist yet; the first run creates it at schema {head()}")
    try:
        verdict, words = await inspect_store(settings.database_url or path)
    except DigestError as exc:
        return fail("database", str(exc))
    return ok("database", words) if verdict in ("ok", "create") else fail("database", words)


def check_fields(settings: Settings) -> Outcome:
    try:
        fields = load_fields(settings.fields_path)
    except ConfigError as exc:
        return fail("fields", str(exc))
    where = settings.fields_path or "the shipped default fields (FIELDS_PATH unset)"
    return ok("fields", f"{len(fields)} from {where}")


def check_digest_dir(settings: Settings) -> Outcome:
    problem = writable_dir_problem(settings.digest_dir)
    if problem:
        return fail("digest folder", f"{problem}; set DIGEST_DIR to a folder you can write to")
    return ok("digest folder", f"{settings.digest_dir} is writable")


# -- the LLM -----------------------------------------------------------------------------------------------


async def probe_json_mode(llm: Any, model: str) -> tuple[str, int]:
    """Ask the LLM one tiny question, negotiating the JSON mode as scoring does: (mode, tokens used).

    Uses core's ladder (core/score/jsonmode.py), so `check` reports exactly the mode `auto` would settle
    on. Raises the client's error when the endpoint fails for another reason than a refused format.
    """
    modes = JsonModes(AUTO)

    async def send(mode: str, retries: int | None) -> Any:
        response_format = json_response_format(mode, "check", PROBE_SCHEMA)
        options: dict[str, Any] = {} if response_format is None else {"response_format": response_format}
        # No temperature or max_tokens: reasoning models refuse both, and the refusal would read as the
        # JSON mode's.
        return await llm.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": 'Reply with the JSON object {"ok": true} and nothing else.'}],
            **options,
        )

    reply, mode = await modes.send(send)
    usage = getattr(reply, "usage", None)
    return mode, int(getattr(usage, "total_tokens", 0) or 0)


def _llm_failure(settings: Settings, exc: Exception) -> str:
    from openai import APIConnectionError, APIStatusError, APITimeoutError

    where = settings.openai_base_url
    if isinstance(exc, APITimeoutError):
        return f"{where} did not answer in time"
    if isinstance(exc, APIConnectionError):
        return f"cannot reach {where} ({_reason(exc.__cause__ or exc)})"
    if isinstance(exc, APIStatusError):
        if exc.status_code in (401, 403):
            return f"{where} refused OPENAI_API_KEY (HTTP {exc.status_code})"
        if exc.status_code == 404:
            return f"{where} answered HTTP 404: check OPENAI_BASE_URL and LLM_MODEL ({settings.llm_model})"
        return f"{where} answered HTTP {exc.status_code}: {exc.message}"
    return f"{where}: {_reason(exc)}"


async def check_llm(settings: Settings, probe: Callable[[Any, str], Awaitable[tuple[str, int]]] = probe_json_mode,
                    ) -> Outcome:
    if not settings.llm_enabled:
        return skip("llm", "no OPENAI_API_KEY: the offline scorer scores everything")
    from openai import AsyncOpenAI

    llm = AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                      timeout=min(settings.llm_timeout, PROBE_TIMEOUT), max_retries=0)
    try:
        mode, tokens = await probe(llm, settings.llm_model)
    except Exception as exc:  # translated into words for the one line this item prints
        return fail("llm", _llm_failure(settings, exc))
    finally:
        await llm.close()
    answered = f"{settings.llm_model} at {settings.openai_base_url} answers ({tokens} tokens); accepts {mode}"
    wanted = settings.llm_json_mode
    if wanted in LADDER and LADDER.index(mode) > LADDER.index(wanted):
        return fail("llm", f"{answered}, but LLM_JSON_MODE is {wanted}: set LLM_JSON_MODE={mode} (or auto)")
    return ok("llm", answered)


# -- arXiv, Telegram, Slack ---------------------------------------------------------------------------------


async def check_arxiv(settings: Settings, http: aiohttp.ClientSession) -> list[Outcome]:
    # One client for both requests, so arXiv's pace (ARXIV_REQUEST_DELAY between requests) is kept.
    client = ArxivClient(
        http, rss_url=settings.arxiv_rss_url, api_url=settings.arxiv_api_url, categories=settings.arxiv_categories,
        announce_types=settings.arxiv_announce_types, delay=settings.arxiv_request_delay, max_tries=1,
        timeout=min(settings.arxiv_timeout, PROBE_TIMEOUT), clock=time.monotonic, sleep=asyncio.sleep,
    )
    outcomes = []
    try:
        listing = await client.fetch_listing()
    except DigestError as exc:
        outcomes.append(fail("arxiv rss", str(exc)))
    else:
        day = f" of {listing.day}" if listing.day else ""
        found = f"{len(listing.papers)} papers in the listing{day}" if listing.papers else "no announcement today"
        outcomes.append(ok("arxiv rss", f"{client.listing_url} answers: {found}"))
    try:
        await client.fetch_papers([PROBE_PAPER])
    except DigestError as exc:
        outcomes.append(fail("arxiv api", str(exc)))
    else:
        outcomes.append(ok("arxiv api", f"{settings.arxiv_api_url} answers"))
    return outcomes


async def check_telegram(settings: Settings) -> Outcome:
    if not settings.telegram_bot_token:
        return skip("telegram", "no TELEGRAM_BOT_TOKEN")
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)
    try:
        async with bot:  # initialize() is getMe
            me = bot.bot
    except InvalidToken:
        return fail("telegram", "Telegram rejected TELEGRAM_BOT_TOKEN (getMe: Unauthorized)")
    except TelegramError as exc:
        return fail("telegram", f"getMe failed at {settings.telegram_api_base_url} ({_reason(exc)})")
    mode = f"webhook at {settings.telegram_webhook_url}" if settings.telegram_webhook_url else "long polling"
    return ok("telegram", f"@{me.username} (getMe); {mode}")


async def check_slack(settings: Settings) -> Outcome:
    if not settings.slack_bot_token:
        return skip("slack", "no SLACK_BOT_TOKEN")
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.slack.sender import build_slack_client, error_code

    client = build_slack_client(settings)
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        return fail("slack", f"Slack rejected SLACK_BOT_TOKEN (auth.test: {error_code(exc)})")
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        return fail("slack", f"auth.test failed at {settings.slack_api_base_url} ({_reason(exc)})")
    if not settings.slack_app_token and not settings.slack_signing_secret:
        return fail("slack", "SLACK_SIGNING_SECRET is empty: HTTP mode needs it (or set SLACK_APP_TOKEN for"
                             " Socket Mode)")
    mode = "Socket Mode" if settings.slack_app_token else f"HTTP mode on port {settings.slack_port}"
    return ok("slack", f"{answer.get('user') or answer.get('user_id')} in {answer.get('team')} (auth.test); {mode}")


# -- the command -------------------------------------------------------------------------------------------

ITEMS_AFTER_SETTINGS = ("database", "fields", "llm", "arxiv rss", "arxiv api", "telegram", "slack", "digest folder")


async def run_checks(settings: Settings, emit: Callable[[Outcome], None]) -> list[Outcome]:
    """Check every item of a deployment with valid `settings`, emitting each outcome as it is known."""
    outcomes: list[Outcome] = []

    def report(*found: Outcome) -> None:
        for outcome in found:
            outcomes.append(outcome)
            emit(outcome)

    report(await check_database(settings))
    report(check_fields(settings))
    report(await check_llm(settings))
    async with aiohttp.ClientSession() as http:
        report(*await check_arxiv(settings, http))
    report(await check_telegram(settings))
    report(await check_slack(settings))
    report(check_digest_dir(settings))
    return outcomes


async def check(env: Mapping[str, str], out: TextIO, *, log_warnings: bool = False) -> int:
    """`arxiv-digest check`: print one line per item and return 1 when any item fails, else 0.

    `log_warnings` (the command line) sends the libraries' warnings to stderr as the process's redacted JSON
    logs, instead of Python's last-resort handler, which redacts nothing.
    """
    secrets = [part for name in SECRET_FIELDS
               for part in secret_texts(name, env.get(Settings.model_fields[name].alias or name.upper(), ""))]
    redact = redactor(secrets)

    def emit(outcome: Outcome) -> None:
        print(redact(outcome.line()), file=out, flush=True)

    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        emit(fail("settings", str(exc)))
        for item in ITEMS_AFTER_SETTINGS:
            emit(skip(item, "the settings are invalid"))
        return 1
    if log_warnings:
        level = settings.log_level if settings.log_level in ("WARNING", "ERROR") else "WARNING"
        setup_logging(settings.replace(log_level=level))
    emit(ok("settings", _settings_summary(settings)))
    outcomes = await run_checks(settings, emit)
    return 1 if any(o.status == "FAIL" for o in outcomes) else 0


def _settings_summary(settings: Settings) -> str:
    scorer = f"LLM {settings.llm_model}" if settings.llm_enabled else "offline scorer"
    platforms = [name for name, token in (("Telegram", settings.telegram_bot_token),
                                          ("Slack", settings.slack_bot_token)) if token]
    return f"{scorer}; {', '.join(platforms) or 'no chat platform'}; {len(settings.arxiv_categories)} categories"

