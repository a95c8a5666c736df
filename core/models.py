"""Plain, immutable data passed between the pipeline's steps. No IO, no parsing, no formatting."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

LANGUAGES = ("zh", "en")


@dataclass(frozen=True, slots=True)
class Paper:
    """One arXiv paper as announced on a listing day."""

    arxiv_id: str  # without version, e.g. "2601.10781"
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    primary_category: str
    published: date  # the listing (announcement) day
    version: int = 1
    announce_type: str = "new"  # new | cross | replace | replace-cross

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"


@dataclass(frozen=True, slots=True)
class Field:
    """A research field papers are scored against. The slug is stable; everything else may be edited."""

    slug: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    keywords: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()  # low-priority areas, unless they cross this field
    terms: tuple[str, ...] = ()  # weighted phrases for the offline scorer: "phrase", "prefix*", "phrase^2"

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en

    def description(self, lang: str) -> str:
        return self.description_zh if lang == "zh" else self.description_en

    @property
    def fingerprint(self) -> str:
        """Hash of the definition: an edited field is a new cache key."""
        parts: list[object] = [
            self.slug, self.name_en, self.description_en, self.description_zh, self.keywords, self.ignore,
        ]
        if self.terms:  # appended only when set, so fields without terms keep their old fingerprint
            parts.append(self.terms)
        blob = json.dumps(parts, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Score:
    """How well one paper fits the configured fields.

    `field_slug` and `value` are the best-matching field and its 1-10 score; `value` is None when
    no scorer could judge the paper. `field_scores` holds a score per field where the scorer gives
    one. `stage` names who decided: "offline", "llm", "offline-fallback" (the LLM failed for this
    paper) or "offline-budget" (the day's token budget was spent).

    `reasons` holds the reason per language ("zh", "en") where the scorer gave it; `reason` is the one
    in the language the score was asked in (DIGEST_LANGUAGE), kept for scorers that word one language
    and for scores stored before reasons were kept per language. Readers call `reason_in(lang)`.
    """

    arxiv_id: str
    field_slug: str | None
    value: float | None
    reason: str
    stage: str
    field_scores: Mapping[str, float] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)

    def reason_in(self, lang: str) -> str:
        """The reason in `lang`; another language's only when this one is missing."""
        if self.reasons.get(lang):
            return self.reasons[lang]
        if self.reason:
            return self.reason
        return next((text for text in self.reasons.values() if text), "")


@dataclass(frozen=True, slots=True)
class Run:
    """One day's scoring run, as recorded in the store."""

    day: date
    papers_read: int
    tokens_in: int
    tokens_out: int
    model: str  # the LLM model, or "offline"
    scorer_key: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # "running" | "done" | "no-announcement" | "failed"
    note: str = ""
    scored: int = 0  # papers judged anew, not taken from the cache

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    @property
    def duration_seconds(self) -> float:
        if self.finished_at is None:
            return 0.0
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class LLMShare:
    """How the LLM fared on the papers of a day it was meant to judge: counts by score stage.

    `asked` counts every paper the LLM was meant to judge (the pass rate's share), `failed` those that
    kept their offline score after failed or refused requests, `budget` those never sent because the
    day's token budget was spent. Facts, not words: each reader's digest words them in its language.
    """

    asked: int = 0
    failed: int = 0
    budget: int = 0

    @property
    def judged(self) -> int:
        return self.asked - self.failed - self.budget

    @property
    def fell_back(self) -> int:
        return self.failed + self.budget

    @property
    def degraded(self) -> bool:
        """More than half of the papers meant for the LLM fell back to the offline score."""
        return self.fell_back * 2 > self.asked


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Where a digest goes: a platform and that platform's chat or channel id, as text."""

    platform: str  # "telegram" | "slack"
    chat_id: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat's settings. Kept when the chat deactivates, so re-subscribing restores them."""

    chat: ChatRef
    active: bool = True
    fields: tuple[str, ...] = ()  # empty: all fields
    min_score: float = 7.0
    lang: str = "zh"
    digest_time: str = "09:00"
    timezone: str = "Asia/Shanghai"
    interests: str = ""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the delivery ledger: a subscription's digest for one day."""

    chat: ChatRef
    day: date
    state: str  # pending | sent | failed | skipped-empty
    parts_sent: int = 0
    attempts: int = 0
    last_error: str = ""


# -- neutral digest blocks: decided once in core/build/digest.py, spelled per platform by adapters --


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    level: int = 1  # 1: digest title, 2: field section


@dataclass(frozen=True, slots=True)
class Note:
    text: str


@dataclass(frozen=True, slots=True)
class PaperItem:
    arxiv_id: str
    title: str
    url: str
    authors: str  # already shortened for display
    published: date
    score: float
    why: str
    field_slug: str
    stage: str = "offline"
    code_url: str = ""  # the paper's code, model or project page (core/build/links.py), "" when none


Block = Heading | Note | PaperItem


@dataclass(frozen=True, slots=True)
class DigestSection:
    field: Field
    items: tuple[tuple[Paper, Score], ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """What one reader sees for one day, before any markup."""

    day: date
    lang: str
    papers_read: int
    model: str
    tokens: int
    updated_at: datetime | None
    min_score: float
    sections: tuple[DigestSection, ...]
    announced: bool = True
    notes: tuple[str, ...] = ()
    llm: LLMShare | None = None  # how the LLM fared, when one was meant to score the day


# -- personal interests: summaries, keyword matches and vote feedback --------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    """A paper's short summary in one language.

    `source` is "llm" (written by the LLM, cached per paper and language) or "excerpt": the abstract's
    first sentences, untranslated, used offline or when the LLM could not summarise the paper.
    """

    arxiv_id: str
    lang: str
    text: str
    source: str = "llm"


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """A paper that matched a chat's watch list: which terms, and its summary in the chat's language."""

    paper: Paper
    terms: tuple[str, ...]
    summary: Summary


@dataclass(frozen=True, slots=True)
class Adjustment:
    """How one chat's 👍/👎 votes, followed authors and avoided topics move one paper's score, and why.

    `own_vote` is the chat's vote on this very paper (0: none). Otherwise `delta` is the votes' move (the
    chat's learned model, or similarity alone), named by the most similar paper the chat liked
    (`liked_id`, `like_similarity`) and disliked (`disliked_id`, ...).
    """

    arxiv_id: str
    delta: float
    own_vote: int = 0
    liked_id: str = ""
    liked_title: str = ""
    like_similarity: float = 0.0
    disliked_id: str = ""
    disliked_title: str = ""
    dislike_similarity: float = 0.0
    followed: tuple[str, ...] = ()  # the paper's authors the chat follows (their boost is not in `delta`)
    avoided: tuple[str, ...] = ()  # the chat's avoided /interests topics the paper is about (nor is their penalty)
