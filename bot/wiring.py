"""Process wiring: read the environment and `.env`, build the clients and Services, and close them.

This is the only module that reads the environment and builds clients (aiohttp, openai, the
store). Everything below receives them as arguments.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from dotenv import dotenv_values

from core.config import Settings
from core.fields import load_fields
from core.services import Services
from core.store import Store

# python-telegram-bot 22 warns on every RetryAfter unless durations are timedeltas.
os.environ.setdefault("PTB_TIMEDELTA", "true")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, in UTC: the one place the processes read it; everything else is handed a clock."""
    return datetime.now(UTC)


DOTENV_SWITCH = "ARXIV_DIGEST_DOTENV"


def load_env(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """The process environment over `.env` in the working folder (the folder relative paths resolve in).

    ARXIV_DIGEST_DOTENV in the environment picks the file instead: a path reads that file, and an
    empty value reads none (a test driving `python -m bot` must not pick up a developer's tokens).
    Never a `.env` beside the code: an installed package has no project folder.
    """
    env: dict[str, str] = {}
    source = os.environ if environ is None else environ
    if dotenv is None and DOTENV_SWITCH in source:
        chosen = source[DOTENV_SWITCH].strip()
        candidates = [Path(chosen).expanduser()] if chosen else []
    else:
        candidates = [dotenv or Path.cwd() / ".env"]
    for path in candidates:
        if path is not None and path.is_file():
            env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
            break
    env.update(source)
    return env


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
        async with Store.open_settings(settings) as store, aiohttp.ClientSession() as http:
            yield Services(settings=settings, store=store, fields=fields, http=http, llm=llm,  # type: ignore[arg-type]
                           monotonic=time.monotonic, sleep=asyncio.sleep)
    finally:
        if llm is not None:
            await llm.close()  # type: ignore[attr-defined]
