"""Judge one interest profile on papers' one-sentence summaries, through the LLM scorer's request machinery.

Owns the judging request (prompt, schema, short local ids); batching, retries, re-asks, the budget and
the fallback path are `core.score.llm.BatchRun`'s, so the contract is `score_papers`': exactly one
Score per input paper. It stores nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

from openai import AsyncOpenAI
from openai.types.chat.completion_create_params import ResponseFormat

from core.errors import ConfigError
from core.models import Field, Paper, Score
from core.prompts import Prompt
from core.score.jsonmode import JsonModes
from core.score.llm import BatchRun, LLMConfig, LLMResult, TokenBudget, result_of
from core.score.replies import ReplyEntry, parse_score_reply
from core.score.requests import LANG_TEXT, json_response_format, reason_keys, scores_schema

# Template variables of `prompts/judge_interests.md`: $interests, $avoid, $reason_keys and $reason_rule (the
# reason per language asked, as in the scoring request: "reason", or "reason_zh"/"reason_en" in one reply) and
# $papers (a JSON array of {"id", "text"}: short local ids "1", "2"... and each paper's short text, a one-sentence
# summary or its title and opening sentence, `</` escaped as in `render_papers`). Local ids cost one token
# where an arXiv id costs five, each way.

JUDGE_SCHEMA_NAME = "interest_scores"
JUDGE_REASON_LIMIT = {"zh": "at most 20 汉字", "en": "at most 15 words"}


def judge_schema(langs: Sequence[str] = ()) -> dict[str, Any]:
    """Return the JSON schema of a profile judgement: like `reply_schema`, without the field."""
    return scores_schema({"id": {"type": "string"}, "score": {"type": "integer"},
                          **{key: {"type": "string"} for key in reason_keys(langs)}})


def judge_response_format(json_mode: str, langs: Sequence[str] = ()) -> ResponseFormat | None:
    """Return the `response_format` of a profile judgement for the JSON mode the provider supports."""
    return json_response_format(json_mode, JUDGE_SCHEMA_NAME, judge_schema(langs))


def judge_reason_rule(langs: Sequence[str]) -> dict[str, str]:
    """The judging template's `$reason_keys` and `$reason_rule` for one language or several."""
    for lang in langs:
        if lang not in LANG_TEXT:
            raise ConfigError(f"unsupported language {lang!r}")
    keys = reason_keys(langs)
    limits = " / ".join(JUDGE_REASON_LIMIT[lang] for lang in langs)
    if len(langs) == 1:
        rule = f'reason: for 7+, why it fits, in {LANG_TEXT[langs[0]]["language"]} ({limits}); else "".'
    else:
        named = ", ".join(f"{key} in {LANG_TEXT[lang]['language']}" for key, lang in zip(keys, langs, strict=True))
        rule = f'{named}: for 7+, the same reason why it fits in each language ({limits}); else "".'
    return {"reason_keys": ",".join(f'"{key}":"<text>"' for key in keys), "reason_rule": rule}


def render_judge_request(
    prompt: Prompt, field: Field, items: Sequence[tuple[str, str]], lang: str, langs: Sequence[str] = (),
) -> str:
    """Fill the judging template for one profile (`field`) and (local id, summary) items; reasons in `langs`
    (default: `lang` alone)."""
    if lang not in LANG_TEXT:
        raise ConfigError(f"unsupported language {lang!r}")
    reasons = judge_reason_rule(tuple(langs) or (lang,))
    avoid = ""
    if field.ignore:
        avoid = f"Avoid (score 2 or less unless clearly crossing an interest): {', '.join(field.ignore)}.\n"
    lines = [json.dumps({"id": local, "text": " ".join(text.split())}, ensure_ascii=False, separators=(",", ":"))
             for local, text in items]
    papers = ("[\n" + ",\n".join(lines) + "\n]").replace("</", "<\\/")
    return prompt.render(interests=field.description_en, avoid=avoid, papers=papers, **reasons)


class _SummaryJudgeRun(BatchRun):
    """A `BatchRun` that shows the LLM each paper's summary (not its abstract) under short local ids."""

    def __init__(
        self,
        llm: AsyncOpenAI,
        field: Field,
        summaries: Mapping[str, str],
        prompt: Prompt,
        config: LLMConfig,
        fallback: Mapping[str, Score],
        budget: TokenBudget | None,
        modes: JsonModes | None = None,
    ) -> None:
        super().__init__(llm, [field], prompt, config, fallback, budget, modes)
        self.summaries = summaries

    def format_for(self, mode: str) -> ResponseFormat | None:
        return judge_response_format(mode, self.config.reason_langs)

    def render(self, batch: Sequence[Paper]) -> tuple[str, dict[str, str]]:
        aliases = {str(i): p.arxiv_id for i, p in enumerate(batch, 1)}
        items = [(local, self.summaries[arxiv_id]) for local, arxiv_id in aliases.items()]
        return render_judge_request(self.prompt, self.fields[0], items, self.config.lang,
                                    self.config.reason_langs), aliases

    def parse(self, text: str, aliases: Mapping[str, str]) -> dict[str, ReplyEntry]:
        return parse_score_reply(text, list(aliases), self.slugs, default_field=self.slugs[0])


async def score_summaries(
    llm: AsyncOpenAI,
    papers: Sequence[Paper],
    field: Field,
    summaries: Mapping[str, str],
    *,
    prompt: Prompt,
    config: LLMConfig,
    fallback: Mapping[str, Score],
    budget: TokenBudget | None = None,
    modes: JsonModes | None = None,
) -> LLMResult:
    """Score papers against one profile from their one-sentence `summaries` (keyed by arXiv id).

    Same contract as `score_papers`: exactly one Score per input paper, in input order, falling back
    to `fallback` when the LLM fails or the budget is spent. `modes` is the JSON mode negotiation to share.
    """
    if not papers:
        return LLMResult(scores=[])
    if config.batch_size < 1 or config.concurrency < 1:
        raise ConfigError("LLM batch size and concurrency must be at least 1")
    if config.lang not in LANG_TEXT:
        raise ConfigError(f"unsupported language {config.lang!r}")
    missing = [p.arxiv_id for p in papers if p.arxiv_id not in summaries]
    if missing:
        raise ValueError(f"no summary for {', '.join(missing[:3])}")
    run = _SummaryJudgeRun(llm, field, summaries, prompt, config, fallback, budget, modes)
    unique = list({p.arxiv_id: p for p in papers}.values())
    batches = [unique[i : i + config.batch_size] for i in range(0, len(unique), config.batch_size)]
    await asyncio.gather(*(run.score_batch(b, reask=True) for b in batches))
    return result_of(run, papers)
