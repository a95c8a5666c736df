"""Chinese interests read into English by the LLM, so that their candidate papers can be found.

Papers are in English, and the candidates an LLM judges for a profile are found by English words
(core/score/routing.py); a Chinese phrase is read through the glossary (core/score/glossary.py). A phrase
holding words the glossary lacks would find the wrong papers or none ("否定词理解" reads as "understanding").
When an LLM judges interests, each such phrase is read once by the LLM (prompts/read_interests.md, BATCH
phrases a request) and routed by its English; the judge still reads the reader's own words. Readings are
remembered per process (by LLM endpoint, model, prompt version and phrase), so a long-running `serve` asks
once per phrase and a daily `run` once a day; a failed or malformed reply, or a spent token budget, leaves
the glossary's reading. Phrases travel only inside the prompt's JSON data block, and a reply can only give
English (Latin text, one line) for the ids sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI

from core.prompts import Prompt
from core.score.glossary import CJK, unread_terms
from core.score.jsonmode import JsonModes, ask_json
from core.score.llm import LLMConfig, TokenBudget
from core.score.replies import json_values
from core.score.requests import list_schema

log = logging.getLogger(__name__)

READINGS_SCHEMA_NAME = "interest_readings"
READING_MAX_CHARS = 120  # a reading is a research term, not a sentence: a longer reply is not one
CACHE_SIZE = 4_096  # phrases remembered per process
BATCH = 40  # phrases per request: a few hundred tokens in, as many out
_cache: OrderedDict[tuple[str, ...], str] = OrderedDict()


def needs_reading(phrase: str) -> bool:
    """Whether the glossary leaves part of `phrase` unread: Chinese words it does not know (pure)."""
    return bool(unread_terms([phrase]))


def readings_schema() -> dict[str, Any]:
    """The JSON schema of a reading reply: `{"phrases": [{"id", "english"}, ...]}`."""
    return list_schema("phrases", {"id": {"type": "string"}, "english": {"type": "string"}})


def render_readings_request(prompt: Prompt, phrases: Sequence[str]) -> str:
    """Fill the reading template; phrase i goes under id "p<i+1>"."""
    lines = [json.dumps({"id": f"p{i + 1}", "phrase": phrase}, ensure_ascii=False, separators=(",", ":"))
             for i, phrase in enumerate(phrases)]
    return prompt.render(phrases=("[\n" + ",\n".join(lines) + "\n]").replace("</", "<\\/"))


def parse_readings_reply(text: str, phrases: Sequence[str]) -> dict[str, str]:
    """The English of each phrase sent, by phrase (pure; never raises): only sent ids, Latin text, one line."""
    sent = {f"p{i + 1}": phrase for i, phrase in enumerate(phrases)}
    for value in json_values(text):
        entries = value.get("phrases") if isinstance(value, dict) else value
        if not isinstance(entries, list):
            continue
        out: dict[str, str] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            phrase, english = sent.get(str(entry.get("id", ""))), entry.get("english")
            if phrase is None or not isinstance(english, str):
                continue
            english = " ".join(english.split())
            if english and len(english) <= READING_MAX_CHARS and not CJK.search(english) \
                    and any(ch.isascii() and ch.isalpha() for ch in english):
                out[phrase] = english
        if out:
            return out
    return {}


@dataclass(slots=True)
class ReadingResult:
    """The English of the phrases read, and what reading them cost."""

    english: dict[str, str]
    tokens_in: int = 0
    tokens_out: int = 0
    requests: int = 0


def _key(llm: AsyncOpenAI, config: LLMConfig, prompt: Prompt, phrase: str) -> tuple[str, ...]:
    return (str(llm.base_url), config.model, prompt.version, phrase)


async def read_phrases(
    llm: AsyncOpenAI, phrases: Collection[str], *, prompt: Prompt, config: LLMConfig, modes: JsonModes,
    budget: TokenBudget | None = None,
) -> ReadingResult:
    """The English of each of `phrases` the glossary cannot fully read: remembered ones, then requests of
    up to BATCH phrases for the rest. A phrase the LLM does not answer for is simply missing (the glossary
    reads it); a failed request fails its own batch only."""
    wanted = sorted({p for p in phrases if needs_reading(p)})
    result = ReadingResult({p: _cache[k] for p in wanted if (k := _key(llm, config, prompt, p)) in _cache})
    todo = [p for p in wanted if p not in result.english]
    client = llm.with_options(max_retries=config.max_retries, timeout=config.timeout)
    gate = asyncio.Semaphore(config.concurrency)

    async def one(batch: Sequence[str]) -> None:
        def sent() -> None:
            result.requests += 1

        async with gate:
            if budget is not None and budget.exhausted:
                return
            try:
                response = await ask_json(modes, client, model=config.model, content=render_readings_request(
                    prompt, batch), name=READINGS_SCHEMA_NAME, schema=readings_schema(), on_send=sent)
            except openai.APIError as exc:
                log.warning("reading %d interest phrases in English failed: %s (status %s); the glossary reads"
                            " them", len(batch), type(exc).__name__, getattr(exc, "status_code", None))
                return
        if response.usage is not None:
            result.tokens_in += response.usage.prompt_tokens
            result.tokens_out += response.usage.completion_tokens
            if budget is not None:
                budget.charge(response.usage.prompt_tokens + response.usage.completion_tokens)
        text = response.choices[0].message.content if response.choices else None
        got = parse_readings_reply(text or "", batch)
        if len(got) < len(batch):
            log.info("the reading reply had %d of %d interest phrases", len(got), len(batch))
        for phrase, english in got.items():
            _cache[_key(llm, config, prompt, phrase)] = english
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        result.english.update(got)

    await asyncio.gather(*(one(todo[i:i + BATCH]) for i in range(0, len(todo), BATCH)))
    return result


def read_as(phrases: Sequence[str], english: Mapping[str, str]) -> tuple[str, ...]:
    """`phrases` with each one the LLM read replaced by its English (pure)."""
    return tuple(english.get(p, p) for p in phrases)
