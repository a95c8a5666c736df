"""Which JSON mode an OpenAI-compatible server accepts, found by asking and remembered per base URL and model.

LLM_JSON_MODE=auto (the default) tries the modes of LADDER in order: `json_schema` (OpenAI structured
output), `json_object_schema` (`{"type": "json_object", "schema": ...}`, which llama.cpp's servers accept
and constrain their output with), plain `json_object`, and `none` (no `response_format`: the prompt alone).
A mode counts as refused when the server answers it with a 4xx (other than auth, not-found, timeout,
conflict, too-large and rate-limit statuses) or with a 5xx whose body names `response_format`;
llama-cpp-python's server answers `json_schema` with a 500 saying "Input should be 'text' or
'json_object'". The `none` mode sends no `response_format`, so its failures are never a refusal: the
request itself is at fault, and nothing is learned from it.

Until a mode is known, requests go one at a time (the others wait), so a refused shape costs one request,
not one per batch; a probe is sent without the client's own retries, so a 500 refusal is not sent four
times (a probe that fails otherwise, say with a 429, is sent again with the retries it has left). Once
a mode answered, requests go out in parallel with it, and the caller's `on_accept` stores it
(core/store/capabilities.py), so a restart does not probe again. A remembered mode that a server later
refuses is forgotten and the ladder is probed again. An explicit LLM_JSON_MODE is used as given: nothing
is probed, nothing is stored, and a refusal is an ordinary failure.

It owns no request text and reads no reply (core/score/requests.py renders, core/score/replies.py reads);
`ask_json` sends a rendered request in the negotiated mode (summaries, interest readings).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionUserMessageParam

from core.config import JSON_MODES
from core.errors import ConfigError
from core.score.requests import json_response_format

if TYPE_CHECKING:
    from core.services import Services

log = logging.getLogger(__name__)

AUTO = "auto"
# The JSON modes, most constrained first: what `auto` tries, in this order.
LADDER = ("json_schema", "json_object_schema", "json_object", "none")
assert JSON_MODES == (AUTO, *LADDER), "core/config.py's LLM_JSON_MODE values are auto and the ladder"
# Statuses that say nothing about the request's JSON mode: the key, the model, a timeout, a conflict, the
# request's size, the rate limit.
NOT_A_REFUSAL = frozenset({401, 403, 404, 408, 409, 413, 429})

T = TypeVar("T")
# (mode, max_retries) -> the reply: the client's own retries for this request, None for the configured number
Send = Callable[[str, int | None], Awaitable[T]]


def refuses_mode(exc: openai.APIError, mode: str) -> bool:
    """True when `exc` says the server refused the request's `response_format` (see the module docstring)."""
    if mode == "none" or not isinstance(exc, openai.APIStatusError):
        return False
    status = exc.status_code
    if 400 <= status < 500:
        return status not in NOT_A_REFUSAL
    if status >= 500:
        return "response_format" in _error_text(exc)
    return False


def _error_text(exc: openai.APIStatusError) -> str:
    parts = [str(exc.message)]
    try:
        parts.append(exc.response.text)
    except Exception:  # a streamed or closed response has no text to read  # noqa: BLE001
        pass
    if exc.body is not None:
        parts.append(json.dumps(exc.body, default=str))
    return " ".join(parts)


def _retryable(exc: openai.APIError) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in (408, 409, 429) or exc.status_code >= 500)


class JsonModes:
    """The JSON mode requests use, shared by every request of one scoring, judging or summary pass.

    `configured` is LLM_JSON_MODE; `remembered` the mode stored for this base URL and model (auto only);
    `on_accept(mode)` stores a newly accepted mode; `retries` is the client's own retries (LLM_MAX_RETRIES).
    """

    def __init__(
        self,
        configured: str = AUTO,
        *,
        remembered: str | None = None,
        on_accept: Callable[[str], Awaitable[None]] | None = None,
        retries: int = 0,
    ) -> None:
        if configured not in JSON_MODES:
            raise ConfigError(f"LLM_JSON_MODE must be one of {', '.join(JSON_MODES)}, got {configured!r}")
        self.configured = configured
        self.auto = configured == AUTO
        self.ladder = LADDER if self.auto else (configured,)
        self.accepted: str | None = configured if not self.auto else (remembered if remembered in LADDER else None)
        self.on_accept = on_accept
        self.retries = retries
        self.probes = 0  # requests sent while no mode was known
        self.refusals: list[str] = []  # modes refused, in the order they were
        self._lock = asyncio.Lock()

    @property
    def mode(self) -> str | None:
        """The mode requests go out with now; None while it is being found."""
        return self.accepted

    async def send(self, send: Send[T]) -> tuple[T, str]:
        """Send one request through `send(mode, max_retries)`; return its reply and the mode that got it.

        Errors other than a refusal (and a refusal of an explicit mode, or of every mode) propagate.
        """
        while True:
            mode = self.accepted
            if mode is not None:
                try:
                    return await send(mode, None), mode
                except openai.APIError as exc:
                    if not (self.auto and refuses_mode(exc, mode)):
                        raise
                    self._forget(mode, exc)
                    continue
            async with self._lock:
                if self.accepted is not None:  # found while this request waited
                    continue
                return await self._probe(send)

    async def _probe(self, send: Send[T]) -> tuple[T, str]:
        """Try the ladder's modes in order for one request; the first that answers is accepted."""
        last: openai.APIError | None = None
        for mode in self.ladder:
            self.probes += 1
            try:
                reply = await send(mode, 0)
            except openai.APIError as exc:
                if refuses_mode(exc, mode):
                    self.refusals.append(mode)
                    log.warning("the LLM endpoint refused JSON mode %s (status %s: %.160s); trying the next",
                                mode, getattr(exc, "status_code", None), _error_text(exc)
                                if isinstance(exc, openai.APIStatusError) else exc)
                    last = exc
                    continue
                if not _retryable(exc) or self.retries < 1:
                    raise
                reply = await send(mode, self.retries - 1)  # an ordinary failure: the retries left
            await self._accept(mode)
            return reply, mode
        assert last is not None
        raise last

    async def _accept(self, mode: str) -> None:
        self.accepted = mode
        if self.auto:
            log.info("the LLM endpoint accepts JSON mode %s", mode)
            if self.on_accept is not None:
                await self.on_accept(mode)

    def _forget(self, mode: str, exc: openai.APIError) -> None:
        if self.accepted == mode:
            log.warning("the LLM endpoint now refuses JSON mode %s (status %s); finding its mode again",
                        mode, getattr(exc, "status_code", None))
            self.accepted = None


async def json_modes_for(services: Services, now: datetime) -> JsonModes:
    """The JSON modes of the configured LLM: remembered in the store per base URL and model when `auto`."""
    settings = services.settings
    if settings.llm_json_mode != AUTO or services.llm is None:
        return JsonModes(settings.llm_json_mode, retries=settings.llm_max_retries)
    store, model = services.store, settings.llm_model
    base_url = str(services.llm.base_url)
    remembered = await store.get_json_mode(base_url, model)

    async def remember(mode: str) -> None:
        await store.save_json_mode(base_url, model, mode, now)

    return JsonModes(AUTO, remembered=remembered, on_accept=remember, retries=settings.llm_max_retries)


async def ask_json(
    modes: JsonModes, client: AsyncOpenAI, *, model: str, content: str, name: str, schema: Mapping[str, Any],
    on_send: Callable[[], None],
) -> ChatCompletion:
    """One user message asking for a JSON reply of `schema` (named `name`), at temperature 0, in the mode
    `modes` negotiates; `on_send` is called for each request made (a probe of a refused mode is one more).
    The request's errors propagate."""
    messages: list[ChatCompletionUserMessageParam] = [{"role": "user", "content": content}]

    async def create(mode: str, retries: int | None) -> ChatCompletion:
        fmt = json_response_format(mode, name, schema)
        sender = client if retries is None else client.with_options(max_retries=retries)
        on_send()
        return await sender.chat.completions.create(model=model, messages=messages, temperature=0,
                                                    response_format=openai.omit if fmt is None else fmt)

    response, _ = await modes.send(create)
    return response
