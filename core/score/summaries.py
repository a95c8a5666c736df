"""Short per-language paper summaries: the one LLM reading of a paper that everything else reuses.

Owns the summary request (prompts/summarize_papers.md, batched, JSON), reading replies
(`parse_summary_reply`, pure), the cache key, and the offline fallback (`excerpt`). It must not decide
where a summary is shown or how it is marked: core/build/digest.py and bot/commands.py do that.

How a paper is read once: the English summary is written from the title and abstract, and is cached
per (paper, summary key). Every other language is a translation *of that English summary*, so a paper's
abstract reaches the LLM once, whatever the number of languages, chats or interest profiles. The
English summary's first sentence is also what interest profiles are judged on (core/score/interests.py).

Untrusted text only travels inside the prompt's JSON data block (`</` escaped), and a reply can only set
summaries for ids sent in that same request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import openai
from openai import AsyncOpenAI

from core.errors import ConfigError
from core.models import Paper, Summary
from core.prompts import Prompt, load_prompt
from core.score.jsonmode import JsonModes, ask_json, json_modes_for
from core.score.llm import LLMConfig, TokenBudget
from core.score.replies import json_values
from core.score.requests import LANG_TEXT, list_schema, shorten_abstract

if TYPE_CHECKING:
    from core.services import Services

log = logging.getLogger(__name__)

READ_LANG = "en"  # the language a paper is read in; every other language translates this summary
# Abstract characters read for a summary. More than scoring's cut (LLM_ABSTRACT_CHARS): a summary states
# the main result, which sits late in an abstract. Read once per paper, so it is cheap per reader.
SUMMARY_ABSTRACT_CHARS = 800
SUMMARY_MAX_CHARS = 600  # a longer reply is cut: it must fit a digest entry
SUMMARY_SCHEMA_NAME = "paper_summaries"
EXCERPT_SENTENCES = 2
SUMMARY_PURPOSE = "summaries"
LIMITS: Mapping[str, tuple[str, str]] = {
    "en": ("at most 25 words", "at most 20 words"),
    "zh": ("at most 45 汉字", "at most 35 汉字"),
}
SOURCES = {
    "read": "its title and abstract",
    "translate": "an English summary (\"text\"): translate it faithfully, keeping its content and its two sentences",
}
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|(?<=[。！？])")


def first_sentences(text: str, n: int = 3, limit: int = 500) -> str:
    """The first `n` sentences of an abstract, cut at `limit` characters (pure)."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", " ".join(text.split()))
    out = " ".join(parts[:n])
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"


def first_sentence(text: str, limit: int = 240) -> str:
    """The first sentence of a summary, cut at `limit` characters (pure)."""
    text = " ".join(text.split())
    head = _SENTENCE_RE.split(text, maxsplit=1)[0].strip()
    return head if len(head) <= limit else head[: limit - 1].rsplit(" ", 1)[0] + "…"


def excerpt(paper: Paper, lang: str, sentences: int = EXCERPT_SENTENCES) -> Summary:
    """The offline stand-in for a summary: the abstract's first sentences, untranslated."""
    return Summary(paper.arxiv_id, lang, first_sentences(paper.abstract, sentences), "excerpt")


def summary_key(model: str, prompt: Prompt, abstract_chars: int = SUMMARY_ABSTRACT_CHARS) -> str:
    """Cache key of summaries: same model, template and cut, same summary."""
    return f"llm:{model}|{prompt.name}@{prompt.version}|abs{abstract_chars}"


def summary_schema() -> dict[str, Any]:
    """Return the JSON schema of a summary reply: `{"summaries": [{"id", "summary"}, ...]}`."""
    return list_schema("summaries", {"id": {"type": "string"}, "summary": {"type": "string"}})


def render_summary_request(
    prompt: Prompt, items: Sequence[Mapping[str, str]], lang: str, *, translate: bool,
) -> str:
    """Fill the summary template: `items` are {"id", "title", "abstract"} to read, or {"id", "text"} to translate."""
    if lang not in LANG_TEXT or lang not in LIMITS:
        raise ConfigError(f"unsupported language {lang!r}")
    lines = [json.dumps(dict(item), ensure_ascii=False, separators=(",", ":")) for item in items]
    papers = ("[\n" + ",\n".join(lines) + "\n]").replace("</", "<\\/")
    first, second = LIMITS[lang]
    return prompt.render(source=SOURCES["translate" if translate else "read"], language=LANG_TEXT[lang]["language"],
                         first_limit=first, second_limit=second, papers=papers)


def parse_summary_reply(text: str, sent_ids: Collection[str]) -> dict[str, str]:
    """Read a reply into summaries keyed by id; ignore ids not sent and blank summaries; never raise.

    One summary back for the one paper sent is that paper's, whatever id it names (small local models
    misspell ids: tests/real_llm).
    """
    sent = set(sent_ids)
    out: dict[str, str] = {}
    for value in json_values(text or ""):
        strays: list[str] = []
        items: list[object] = []
        if isinstance(value, list):
            items = value
        elif isinstance(value, dict):
            inner = value.get("summaries")
            if isinstance(inner, list):
                items = inner
            elif "id" in value:
                items = [value]
            else:  # keyed by id: {"2601.10781": "..."}
                items = [{"id": k, "summary": v} for k, v in value.items()]
        for item in items:
            if not isinstance(item, dict):
                continue
            arxiv_id, summary = str(item.get("id", "")).strip(), item.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                continue
            summary = " ".join(summary.split())
            if len(summary) > SUMMARY_MAX_CHARS:
                summary = summary[: SUMMARY_MAX_CHARS - 1].rstrip() + "…"
            if arxiv_id not in sent:
                strays.append(summary)
            elif arxiv_id not in out:
                out[arxiv_id] = summary
        if not out and len(sent) == 1 and len(strays) == 1:
            out[next(iter(sent))] = strays[0]
        if out:
            break
    return out


@dataclass(frozen=True, slots=True)
class SummaryResult:
    """Summaries written by one `summarize` call, and what they cost."""

    summaries: dict[str, str]
    tokens_in: int = 0
    tokens_out: int = 0
    requests: int = 0


async def summarize(
    llm: AsyncOpenAI,
    items: Sequence[Mapping[str, str]],
    lang: str,
    *,
    prompt: Prompt,
    config: LLMConfig,
    translate: bool,
    budget: TokenBudget | None = None,
    modes: JsonModes | None = None,
) -> SummaryResult:
    """Ask the LLM for summaries of `items` in batches; ids it fails on are simply missing from the result.

    `modes` is the JSON mode negotiation to share (core/score/jsonmode.py); by default one of its own.
    """
    client = llm.with_options(max_retries=config.max_retries, timeout=config.timeout)
    gate = asyncio.Semaphore(config.concurrency)
    modes = modes if modes is not None else JsonModes(config.json_mode, retries=config.max_retries)
    found: dict[str, str] = {}
    totals = [0, 0, 0]
    dead = False

    async def one(batch: Sequence[Mapping[str, str]]) -> None:
        nonlocal dead
        content = render_summary_request(prompt, batch, lang, translate=translate)
        sent = [item["id"] for item in batch]

        def counted() -> None:
            totals[2] += 1

        async with gate:
            if dead or (budget is not None and budget.exhausted):
                return
            try:
                response = await ask_json(modes, client, model=config.model, content=content,
                                          name=SUMMARY_SCHEMA_NAME, schema=summary_schema(), on_send=counted)
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
                dead = True
                log.error("LLM endpoint refused a summary request (%s); using abstract excerpts", type(exc).__name__)
                return
            except openai.APIError as exc:
                log.warning("summary request for %d papers failed: %s (status %s); using abstract excerpts",
                            len(batch), type(exc).__name__, getattr(exc, "status_code", None))
                return
        usage = response.usage
        if usage is not None:
            totals[0] += usage.prompt_tokens
            totals[1] += usage.completion_tokens
            if budget is not None:
                budget.charge(usage.prompt_tokens + usage.completion_tokens)
        text = response.choices[0].message.content if response.choices else None
        got = parse_summary_reply(text or "", sent)
        if len(got) < len(batch):
            log.info("summary reply had %d of %d summaries", len(got), len(batch))
        found.update(got)

    size = config.batch_size
    await asyncio.gather(*(one(items[i : i + size]) for i in range(0, len(items), size)))
    return SummaryResult(found, totals[0], totals[1], totals[2])


async def get_summaries(
    services: Services,
    papers: Sequence[Paper],
    lang: str,
    *,
    now: datetime,
    day: date,
    use_llm: bool,
    excerpt_sentences: int = EXCERPT_SENTENCES,
) -> dict[str, Summary]:
    """Return one Summary per paper in `lang`: cached, written now by the LLM, or an excerpt.

    LLM summaries are written at most once per (paper, language, summary key) and stored; what they
    cost is recorded under `day` as "summaries" and counts against the daily token budget.
    """
    unique = list({p.arxiv_id: p for p in papers}.values())
    if not use_llm or services.llm is None or not unique:
        return {p.arxiv_id: excerpt(p, lang, excerpt_sentences) for p in unique}
    settings, store = services.settings, services.store
    prompt = load_prompt("summarize_papers")
    key = summary_key(settings.llm_model, prompt)
    config = LLMConfig.from_settings(settings, lang)
    budget = TokenBudget(limit=settings.llm_daily_token_budget, spent=await store.tokens_spent(day))
    modes = await json_modes_for(services, now)
    readings = await _ensure(services, unique, READ_LANG, key, prompt, config, budget, now=now, day=day,
                             modes=modes)
    if lang == READ_LANG:
        found = readings
    else:
        found = await _ensure(services, unique, lang, key, prompt, config, budget, now=now, day=day,
                              source=readings, modes=modes)
    return {p.arxiv_id: found.get(p.arxiv_id) or excerpt(p, lang, excerpt_sentences) for p in unique}


async def _ensure(
    services: Services,
    papers: Sequence[Paper],
    lang: str,
    key: str,
    prompt: Prompt,
    config: LLMConfig,
    budget: TokenBudget,
    *,
    now: datetime,
    day: date,
    source: Mapping[str, Summary] | None = None,
    modes: JsonModes | None = None,
) -> dict[str, Summary]:
    """Cached summaries in `lang`, plus new ones for the rest: read from abstracts, or translated from `source`."""
    assert services.llm is not None
    store = services.store
    cached = await store.get_summaries(key, lang, [p.arxiv_id for p in papers])
    todo = [p for p in papers if p.arxiv_id not in cached]
    if source is not None:  # translate only LLM readings: an excerpt is the untranslated fallback already
        todo = [p for p in todo if p.arxiv_id in source and source[p.arxiv_id].source == "llm"]
    if not todo:
        return cached
    if source is None:
        items = [{"id": p.arxiv_id, "title": " ".join(p.title.split()),
                  "abstract": shorten_abstract(p.abstract, SUMMARY_ABSTRACT_CHARS)} for p in todo]
    else:
        items = [{"id": p.arxiv_id, "text": source[p.arxiv_id].text} for p in todo]
    result = await summarize(services.llm, items, lang, prompt=prompt, config=config,
                             translate=source is not None, budget=budget, modes=modes)
    fresh = [Summary(arxiv_id, lang, text, "llm") for arxiv_id, text in result.summaries.items()]
    await store.save_summaries(key, fresh, now)
    await store.add_usage(day, SUMMARY_PURPOSE, tokens_in=result.tokens_in, tokens_out=result.tokens_out,
                          requests=result.requests, now=now)
    log.info("summaries lang=%s asked=%d written=%d tokens=%d", lang, len(todo), len(fresh),
             result.tokens_in + result.tokens_out)
    return {**cached, **{s.arxiv_id: s for s in fresh}}
