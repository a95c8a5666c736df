"""The collaborators every step of the dataflow is handed: settings, the store, the fields, the clients.

Built once by the entry points (bot/__main__.py, the CLI, tests) and passed down. This module owns
the wiring's shape only: it opens nothing, reads no environment and calls no service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import Settings
from core.models import Field
from core.store import Store

if TYPE_CHECKING:
    import aiohttp
    from openai import AsyncOpenAI


@dataclass(frozen=True, slots=True)
class Services:
    """Collaborators built once by the entry point and passed down."""

    settings: Settings
    store: Store
    fields: tuple[Field, ...]
    http: aiohttp.ClientSession | None = None
    llm: AsyncOpenAI | None = None
    # Pacing requests to arXiv: monotonic seconds and a sleep, handed in by the entry point (core reads no clock).
    monotonic: Callable[[], float] | None = None
    sleep: Callable[[float], Awaitable[None]] | None = None


def uses_llm(services: Services, offline: bool) -> bool:
    """Whether a step should ask the LLM: a client is configured, enabled, and the caller did not ask for offline."""
    return not offline and services.llm is not None and services.settings.llm_enabled
