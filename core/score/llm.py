"""Score papers with an LLM through any OpenAI-compatible chat endpoint.

Owns sending (JSON mode, batching, concurrency), the re-ask of entries a reply got wrong
(core/score/replies.py reads replies), the token budget and the fallback path, so every input paper
always leaves with exactly one Score. It must not store anything or decide what a digest shows:
caching scores by `scorer_key` is the store's job.

Untrusted paper text only ever travels inside the JSON data block of the prompt, and a reply can only
set scores for ids sent in that same request, so no paper (or reply) can change another paper's score.

Template variables of `prompts/score_papers.md`: $fields, $low_priority, $reason_keys and $reason_rule
(the reason per language asked, LLMConfig.reason_langs: both languages in one reply when readers of both
are subscribed) and $papers (the JSON array; `</` is escaped so text cannot close the block).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionUserMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from core.config import Settings
from core.errors import ConfigError
from core.models import Field, Paper, Score
from core.prompts import Prompt
from core.score.glossary import CJK
from core.score.jsonmode import AUTO, JsonModes
from core.score.replies import ReplyEntry, parse_score_reply
from core.score.requests import ABSTRACT_CHARS, LANG_TEXT, render_request, response_format

log = logging.getLogger(__name__)

# Blank replies (DeepSeek sends them under load) are asked again at most this many times.
EMPTY_REPLY_RETRIES = 2
UNAVAILABLE: Mapping[str, str] = {"zh": "无评分：LLM 不可用", "en": "no score: LLM unavailable"}


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """How to talk to the LLM; built from Settings once per run."""

    model: str
    json_mode: str = AUTO  # LLM_JSON_MODE: auto, or one of core/score/jsonmode.py's LADDER
    batch_size: int = 25
    concurrency: int = 4
    timeout: float = 120.0
    max_retries: int = 3
    lang: str = "zh"  # the language of Score.reason (DIGEST_LANGUAGE)
    abstract_chars: int = ABSTRACT_CHARS
    langs: tuple[str, ...] = ()  # the languages reasons are asked in, all in one reply (default: `lang`)

    @property
    def reason_langs(self) -> tuple[str, ...]:
        """The languages each reply gives a reason in."""
        return self.langs or (self.lang,)

    @classmethod
    def from_settings(cls, settings: Settings, lang: str | None = None, langs: Sequence[str] = ()) -> LLMConfig:
        """Take the LLM_* settings; `lang` is Score.reason's language (default DIGEST_LANGUAGE), `langs`
        the languages every reply words its reason in (default: `lang` alone)."""
        return cls(
            model=settings.llm_model,
            json_mode=settings.llm_json_mode,
            batch_size=settings.llm_batch_size,
            concurrency=settings.llm_concurrency,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
            lang=lang or settings.digest_language,
            abstract_chars=settings.llm_abstract_chars,
            langs=tuple(langs),
        )


@dataclass(slots=True)
class TokenBudget:
    """Tokens allowed for one day, shared by every call that day. `limit` 0 means unlimited.

    Checked before each request, so requests already in flight may overshoot by at most
    `concurrency` requests' worth of tokens.
    """

    limit: int
    spent: int = 0

    @property
    def exhausted(self) -> bool:
        return self.limit > 0 and self.spent >= self.limit

    def charge(self, tokens: int) -> None:
        self.spent += tokens


@dataclass(frozen=True, slots=True)
class LLMResult:
    """One Score per input paper (input order) and what it cost."""

    scores: list[Score]
    tokens_in: int = 0
    tokens_out: int = 0
    requests: int = 0  # chat.completions calls made; the client's own 429/5xx retries are not counted
    fallbacks: int = 0  # papers whose LLM score failed: stage "offline-fallback"
    budget_skipped: int = 0  # papers never sent because the budget was spent: stage "offline-budget"
    json_modes: Mapping[str, str] = dataclasses.field(default_factory=dict)  # arXiv id -> JSON mode (stage "llm")

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


def scorer_key(
    model: str,
    prompt: Prompt,
    fields: Sequence[Field],
    *,
    abstract_chars: int = ABSTRACT_CHARS,
) -> str:
    """Return the cache key for scores: same key, same scores, so a re-run may reuse stored scores.

    Pass `abstract_chars` as LLMConfig has it (LLM_ABSTRACT_CHARS), since the cut decides what the LLM
    reads. No language: the scores do not depend on it (fields are always described to the LLM in
    English), and a score keeps its reasons per language, so adding a language only adds reasons.
    """
    parts = [f"llm:{model}", f"{prompt.name}@{prompt.version}", f"abs{abstract_chars}"]
    parts.append(",".join(f"{f.slug}={f.fingerprint}" for f in fields))
    return "|".join(parts)


def select_candidates(scores: Sequence[Score], pass_rate: float, min_keep: int = 10) -> list[str]:
    """Return the ids the LLM should read: the top `pass_rate` share by offline best-field value, best first.

    At least `min_keep` are kept (all, if fewer). Ties break on the runner-up field's value (evidence for
    two fields beats evidence for one), then on the id, so the choice is deterministic. Papers without
    a value rank last.
    """
    unique = list({s.arxiv_id: s for s in scores}.values())
    if not unique:
        return []
    count = min(len(unique), max(math.ceil(len(unique) * pass_rate), min_keep))

    def rank(score: Score) -> tuple[float, float, str]:
        if score.value is None:
            return (math.inf, math.inf, score.arxiv_id)
        others = sorted(score.field_scores.values(), reverse=True)
        runner_up = others[1] if len(others) > 1 else -math.inf
        return (-score.value, -runner_up, score.arxiv_id)

    return [s.arxiv_id for s in sorted(unique, key=rank)][:count]


def guess_language(text: str) -> str:
    """"zh" for text with Chinese characters, else "en": which language a reason came back in."""
    return "zh" if CJK.search(text) else "en"


def reply_reasons(entry: ReplyEntry, langs: Sequence[str]) -> dict[str, str]:
    """The reasons of a reply entry by language, only those asked for.

    A reply to a one-language request has a plain "reason": it is in that language. A model asked for
    several that answers with one plain "reason" anyway gets it filed under the language it is written in.
    """
    reasons = {lang: text for lang, text in entry.reasons.items() if lang in langs}
    if entry.reason and not reasons:
        lang = langs[0] if len(langs) == 1 else guess_language(entry.reason)
        if lang in langs:
            reasons[lang] = entry.reason
    return reasons


class BatchRun:
    """State of one `score_papers` call: decided scores, counters, the semaphore and the budget."""

    def __init__(
        self,
        llm: AsyncOpenAI,
        fields: Sequence[Field],
        prompt: Prompt,
        config: LLMConfig,
        fallback: Mapping[str, Score],
        budget: TokenBudget | None,
        modes: JsonModes | None = None,
    ) -> None:
        self.llm = llm.with_options(max_retries=config.max_retries, timeout=config.timeout)
        self.fields = fields
        self.slugs = [f.slug for f in fields]
        self.prompt = prompt
        self.config = config
        self.fallback = fallback
        self.budget = budget
        self.modes = modes if modes is not None else JsonModes(config.json_mode, retries=config.max_retries)
        self.used: dict[str, str] = {}  # arXiv id -> the JSON mode of the reply that scored it
        self.semaphore = asyncio.Semaphore(config.concurrency)
        self.decided: dict[str, Score] = {}
        self.tokens_in = 0
        self.tokens_out = 0
        self.requests = 0
        self.dead = False  # the endpoint refused us (auth, model not found): stop asking

    def _fallback(self, paper: Paper, stage: str) -> None:
        base = self.fallback.get(paper.arxiv_id)
        if base is None:
            self.decided[paper.arxiv_id] = Score(paper.arxiv_id, None, None, UNAVAILABLE["en"], stage,
                                                 reasons=dict(UNAVAILABLE))
        else:
            self.decided[paper.arxiv_id] = dataclasses.replace(base, stage=stage)

    def _accept(self, paper: Paper, entry: ReplyEntry) -> None:
        base = self.fallback.get(paper.arxiv_id)
        field_scores = dict(base.field_scores) if base else {}
        field_scores[entry.field] = entry.score
        # A language asked for and not given is stored as "": asked once, so no later run asks again.
        reasons = {**dict.fromkeys(self.config.reason_langs, ""), **reply_reasons(entry, self.config.reason_langs)}
        self.decided[paper.arxiv_id] = Score(
            arxiv_id=paper.arxiv_id,
            field_slug=entry.field,
            value=entry.score,
            reason=reasons.get(self.config.lang) or entry.reason or next((r for r in reasons.values() if r), ""),
            stage="llm",
            field_scores=field_scores,
            reasons=reasons,
        )

    async def score_batch(self, batch: Sequence[Paper], *, reask: bool) -> None:
        """Score a batch; ask once more for what is missing (in halves if all is), then fall back."""
        entries = await self._ask(batch)
        if entries is None:  # budget spent before sending
            for paper in batch:
                self._fallback(paper, "offline-budget")
            return
        missing = []
        for paper in batch:
            entry = entries.get(paper.arxiv_id)
            if entry is None:
                missing.append(paper)
            else:
                self._accept(paper, entry)
        if not missing:
            return
        if reask and not self.dead:
            log.info("re-asking the LLM for %d of %d papers", len(missing), len(batch))
            if len(missing) == len(batch) and len(batch) > 1:
                half = (len(batch) + 1) // 2
                groups = [missing[:half], missing[half:]]
            else:
                groups = [missing]
            await asyncio.gather(*(self.score_batch(g, reask=False) for g in groups))
            return
        for paper in missing:
            self._fallback(paper, "offline-fallback")
        log.warning("LLM gave no valid score for %d papers; using the offline score", len(missing))

    def format_for(self, mode: str) -> ResponseFormat | None:
        """The `response_format` of a request in JSON mode `mode` (None: send none)."""
        return response_format(mode, self.slugs, self.config.reason_langs)

    async def create(
        self, messages: list[ChatCompletionUserMessageParam], mode: str, max_retries: int | None,
    ) -> ChatCompletion:
        """Send one chat request in JSON mode `mode` (with `max_retries` client retries, None: as configured)."""
        fmt = self.format_for(mode)
        client = self.llm if max_retries is None else self.llm.with_options(max_retries=max_retries)
        self.requests += 1  # a refused JSON mode's request counts too
        return await client.chat.completions.create(
            model=self.config.model,
            messages=messages,
            temperature=0,
            response_format=openai.omit if fmt is None else fmt,
        )

    def render(self, batch: Sequence[Paper]) -> tuple[str, dict[str, str]]:
        """Return one batch's request text and the ids it uses, mapped to arXiv ids."""
        content = render_request(self.prompt, self.fields, batch, self.config.lang,
                                 abstract_chars=self.config.abstract_chars, langs=self.config.reason_langs)
        return content, {p.arxiv_id: p.arxiv_id for p in batch}

    def parse(self, text: str, aliases: Mapping[str, str]) -> dict[str, ReplyEntry]:
        """Read a reply to a request that used the ids in `aliases`; keys are the request's ids."""
        return parse_score_reply(text, list(aliases), self.slugs)

    async def _ask(self, batch: Sequence[Paper]) -> dict[str, ReplyEntry] | None:
        """Send one batch; return its valid entries ({} on failure) or None when the budget is spent."""
        content, aliases = self.render(batch)
        messages: list[ChatCompletionUserMessageParam] = [{"role": "user", "content": content}]
        async with self.semaphore:
            for attempt in range(EMPTY_REPLY_RETRIES + 1):
                if self.dead:
                    return {}
                if self.budget is not None and self.budget.exhausted:
                    return None
                try:
                    response, mode = await self.modes.send(
                        lambda mode, retries: self.create(messages, mode, retries))
                except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
                    self.dead = True
                    log.error("LLM endpoint refused the request (%s, status %s); check OPENAI_BASE_URL, "
                              "the key and LLM_MODEL", type(exc).__name__, exc.status_code)
                    return {}
                except openai.BadRequestError as exc:
                    # The provider's own words say which parameter it refused (json_schema, temperature...).
                    hint = " Try LLM_JSON_MODE=auto." if self.config.json_mode != AUTO else ""
                    log.warning("LLM endpoint rejected the request for %d papers (400: %.200s).%s",
                                len(batch), exc.message, hint)
                    return {}
                except openai.APIError as exc:
                    log.warning("LLM request for %d papers failed: %s (status %s)",
                                len(batch), type(exc).__name__, getattr(exc, "status_code", None))
                    return {}
                usage = response.usage
                if usage is not None:
                    self.tokens_in += usage.prompt_tokens
                    self.tokens_out += usage.completion_tokens
                    if self.budget is not None:
                        self.budget.charge(usage.prompt_tokens + usage.completion_tokens)
                text = response.choices[0].message.content if response.choices else None
                if text and text.strip():
                    entries = {aliases[k]: v for k, v in self.parse(text, aliases).items()}
                    self.used.update(dict.fromkeys(entries, mode))
                    if len(entries) < len(batch):
                        log.info("LLM reply had %d valid scores for %d papers", len(entries), len(batch))
                    return entries
                log.info("LLM reply was empty (attempt %d of %d)", attempt + 1, EMPTY_REPLY_RETRIES + 1)
        return {}


def result_of(run: BatchRun, papers: Sequence[Paper]) -> LLMResult:
    """One Score per input paper, in input order, with the run's token and fallback counts."""
    scores = [run.decided[p.arxiv_id] for p in papers]
    return LLMResult(
        scores=scores,
        tokens_in=run.tokens_in,
        tokens_out=run.tokens_out,
        requests=run.requests,
        fallbacks=sum(1 for s in scores if s.stage == "offline-fallback"),
        budget_skipped=sum(1 for s in scores if s.stage == "offline-budget"),
        json_modes={s.arxiv_id: run.used[s.arxiv_id] for s in scores if s.stage == "llm" and s.arxiv_id in run.used},
    )


async def score_papers(
    llm: AsyncOpenAI,
    papers: Sequence[Paper],
    fields: Sequence[Field],
    *,
    prompt: Prompt,
    config: LLMConfig,
    fallback: Mapping[str, Score],
    budget: TokenBudget | None = None,
    modes: JsonModes | None = None,
) -> LLMResult:
    """Score papers in batches; return exactly one Score per input paper, in input order.

    `modes` is the JSON mode negotiation to share (core/score/jsonmode.py); by default one of its own.
    """
    if not papers:
        return LLMResult(scores=[])
    if not fields:
        raise ConfigError("no fields to score against")
    if config.batch_size < 1 or config.concurrency < 1:
        raise ConfigError("LLM batch size and concurrency must be at least 1")
    for lang in (config.lang, *config.reason_langs):
        if lang not in LANG_TEXT:
            raise ConfigError(f"unsupported language {lang!r}")
    run = BatchRun(llm, fields, prompt, config, fallback, budget, modes)
    unique = list({p.arxiv_id: p for p in papers}.values())
    batches = [unique[i : i + config.batch_size] for i in range(0, len(unique), config.batch_size)]
    await asyncio.gather(*(run.score_batch(b, reask=True) for b in batches))
    result = result_of(run, papers)
    by_mode = Counter(result.json_modes.values())
    log.info("LLM scored %d of %d papers in %d requests; JSON mode: %s", len(result.json_modes), len(unique),
             result.requests, ", ".join(f"{mode} {n}" for mode, n in by_mode.items()) or "none answered")
    return result
