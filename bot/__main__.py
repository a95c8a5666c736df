"""Process wiring: load `.env`, build Settings and Services, and run one CLI command.

This is the only module that reads the environment and builds clients (aiohttp, openai, the
store). Everything below receives them as arguments.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from dotenv import dotenv_values

# python-telegram-bot 22 warns on every RetryAfter unless durations are timedeltas.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from core.config import PROJECT_ROOT, SECRET_FIELDS, Settings
from core.errors import ConfigError, DigestError
from core.fields import load_fields
from core.pipeline import Services
from core.store import Store

log = logging.getLogger("arxiv_digest")


DOTENV_SWITCH = "ARXIV_DIGEST_DOTENV"


def load_env(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """The process environment over `.env` (the current folder's, else the project's).

    ARXIV_DIGEST_DOTENV in the environment picks the file instead: a path reads that file, and an
    empty value reads none (a test driving `python -m bot` must not pick up a developer's tokens).
    """
    env: dict[str, str] = {}
    source = os.environ if environ is None else environ
    if dotenv is None and DOTENV_SWITCH in source:
        chosen = source[DOTENV_SWITCH].strip()
        candidates = [Path(chosen).expanduser()] if chosen else []
    else:
        candidates = [dotenv] if dotenv else [Path.cwd() / ".env", PROJECT_ROOT / ".env"]
    for path in candidates:
        if path is not None and path.is_file():
            env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
            break
    env.update(source)
    return env


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and the exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RedactSecrets(logging.Filter):
    """Replace every configured secret with *** in log records, whatever logged it."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            redacted = text
            for secret in self.secrets:
                redacted = redacted.replace(secret, "***")
            if redacted != text:
                record.msg, record.args = redacted, None
        return True


def setup_logging(settings: Settings) -> None:
    """Structured (JSON lines) logs on stderr, secrets redacted, noisy libraries quieted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RedactSecrets([getattr(settings, name) for name in SECRET_FIELDS]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, settings.log_level, logging.INFO))
    # httpx logs every request URL at INFO, and a Telegram Bot API URL carries the bot token.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "telegram.ext.Updater", "apscheduler.executors",
                  "apscheduler.scheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_llm(settings: Settings) -> object | None:
    """An AsyncOpenAI client for the configured endpoint, or None without a key."""
    if not settings.llm_enabled:
        return None
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
    )


@asynccontextmanager
async def open_services(settings: Settings, *, offline: bool = False) -> AsyncIterator[Services]:
    """Open the store, the HTTP session and the LLM client; close them all on exit."""
    fields = tuple(load_fields(settings.fields_path))
    llm = None if offline else build_llm(settings)
    try:
        async with Store.open(settings.database_path) as store, aiohttp.ClientSession() as http:
            yield Services(settings=settings, store=store, fields=fields, http=http, llm=llm)  # type: ignore[arg-type]
    finally:
        if llm is not None:
            await llm.close()  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Console entry point: `arxiv-digest COMMAND ...`. `env` replaces the environment and `.env` (tests)."""
    from bot import cli

    args = cli.parse_args(argv)
    try:
        settings = Settings.from_env(load_env() if env is None else env)
    except ConfigError as exc:
        print(f"arxiv-digest: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings)
    try:
        return asyncio.run(cli.dispatch(args, settings))
    except DigestError as exc:
        print(f"arxiv-digest: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
