"""Process wiring: load `.env`, build Settings and Services, and run one CLI command.

This is the only module that reads the environment and builds clients (aiohttp, openai, the
store). Everything below receives them as arguments.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from dotenv import dotenv_values

from core.config import PROJECT_ROOT, Settings
from core.errors import ConfigError, DigestError
from core.fields import load_fields
from core.pipeline import Services
from core.store import Store

log = logging.getLogger("arxiv_digest")


def load_env(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """The process environment over `.env` (the current folder's, else the project's)."""
    env: dict[str, str] = {}
    candidates = [dotenv] if dotenv else [Path.cwd() / ".env", PROJECT_ROOT / ".env"]
    for path in candidates:
        if path is not None and path.is_file():
            env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
            break
    env.update(os.environ if environ is None else environ)
    return env


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL, and a Telegram URL carries the bot token.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "telegram.ext.Updater", "apscheduler.executors"):
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
    setup_logging(settings.log_level)
    try:
        return asyncio.run(cli.dispatch(args, settings))
    except DigestError as exc:
        print(f"arxiv-digest: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
