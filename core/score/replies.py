"""Read an LLM's scoring reply (pure): find the JSON in it, validate each entry, keep only ids that were sent.

Real models wrap JSON in code fences and prose, write single quotes or trailing commas, stop in the middle
of an array, and write scores as "8/10". What is unambiguous is recovered: JSON5 syntax is read as JSON5,
and from a cut-off reply every object that closed is kept (the one cut in half is dropped, never guessed).
Small local models (SmolLM2-135M through llama.cpp, tests/real_llm) also copy the prompt's placeholders
(`"reason": "<text>"`: no reason, so none is kept) and misspell the id of the one paper they were sent
(one entry back for one paper sent is that paper's, whatever id it names).
Never raises on a bad reply: invalid JSON, unknown ids, out-of-range scores and unknown fields come back
as fewer entries, and the caller decides what to ask again. It knows nothing about requests or storage.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection

import json5
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

REASON_MAX_CHARS = 240
MAX_JSON_STARTS = 50  # where to try decoding in a chatty reply; bounds the work on junk
MAX_SALVAGE_CHARS = 200_000  # a cut-off reply longer than this is not scanned for whole objects

# Providers and models sometimes prefix the reason with labels the prompt never asked for.
_REASON_PREFIX_RE = re.compile(
    r"^\s*(?:(?:score|rating|field|评分|分数|得分|领域)\s*[:：=]\s*[^\s,;，；。|]*[\s,;，；。|]*"
    r"|(?:reason|why|理由|原因)\s*[:：=]\s*)",
    re.IGNORECASE,
)
_FENCE_RE = re.compile(r"```[a-zA-Z0-9]*\s*\n?(.*?)(?:```|$)", re.DOTALL)  # an unclosed fence runs to the end
# "8", "8.5", "8/10", "8 / 10", "8 out of 10", "8分": one number, optionally out of ten.
_SCORE_TEXT_RE = re.compile(r"^\s*(\d{1,2}(?:\.\d+)?)\s*(?:/\s*10|out of 10|分)?\s*$", re.IGNORECASE)
_ARXIV_PREFIX_RE = re.compile(r"^(?:arxiv:|https?://arxiv\.org/abs/)", re.IGNORECASE)
_VERSION_RE = re.compile(r"v\d+$")
_PLACEHOLDER_RE = re.compile(r"^<[^<>]{1,40}>$")  # "<text>", "<reason>": the prompt's example, copied
_REASON_KEY_RE = re.compile(r"^reason[_-]([a-z]{2})$", re.IGNORECASE)


def clean_reason(value: object) -> object:
    """One line of reason, without labels the prompt never asked for, cut at REASON_MAX_CHARS."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    text = " ".join(value.split())
    for _ in range(4):  # "Score: 8, Field: x. Reason: ..." peels off one label per step
        stripped = _REASON_PREFIX_RE.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    if len(text) > REASON_MAX_CHARS:
        text = text[: REASON_MAX_CHARS - 1].rstrip() + "…"
    return text


class ReplyEntry(BaseModel):
    """One paper's score as the LLM gave it, cleaned: score clamped to 1-10, reasons on one line.

    `reason` is a reply's plain "reason"; `reasons` holds "reason_zh", "reason_en"... by language code,
    as a request asking for several languages spells them. Empty reasons are left out.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    id: str
    field: str
    score: float
    reason: str = ""
    reasons: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _per_language(cls, value: object) -> object:
        if not isinstance(value, dict) or "reasons" in value:
            return value
        reasons = {}
        for key, text in value.items():
            match = _REASON_KEY_RE.match(str(key))
            cleaned = clean_reason(text) if match else None
            if match and isinstance(cleaned, str) and cleaned:
                reasons[match.group(1).lower()] = cleaned
        return {**value, "reasons": reasons} if reasons else value

    @field_validator("id", "field", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # an id like 2601.10781 written as a number
        return value

    @field_validator("score", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        if isinstance(value, bool) or value is None:
            raise ValueError("score must be a number")
        if isinstance(value, str):
            match = _SCORE_TEXT_RE.match(value)
            if match is None:  # "7-8", "high", "": ambiguous, so not a score
                raise ValueError(f"score is not one number: {value!r}")
            return float(match.group(1))
        return value

    @field_validator("score")
    @classmethod
    def _clamp(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("score must be finite")
        return min(10.0, max(1.0, value))

    @field_validator("reason", mode="before")
    @classmethod
    def _one_line(cls, value: object) -> object:
        return clean_reason(value)


def _strict(chunk: str) -> tuple[object, int] | None:
    """The first JSON object or array that decodes strictly from one of the first `{`/`[`, with its start."""
    decoder = json.JSONDecoder()
    for start in [i for i, ch in enumerate(chunk) if ch in "{["][:MAX_JSON_STARTS]:
        try:
            value, _ = decoder.raw_decode(chunk, start)
        except (json.JSONDecodeError, RecursionError):  # junk, or nesting deeper than Python's stack
            continue
        if isinstance(value, dict | list):
            return value, start
    return None


def _loose(text: str) -> object | None:
    """`text` as one JSON5 value (single quotes, trailing commas, bare keys), or None."""
    try:
        value = json5.loads(text)
    except (ValueError, RecursionError, TypeError):
        return None
    return value if isinstance(value, dict | list) else None


def _closed_spans(text: str) -> list[tuple[int, int]]:
    """The [start, end) of every `{...}` in `text` that closes, in one pass; quotes count only inside braces."""
    spans: list[tuple[int, int]] = []
    opened: list[int] = []
    quote, escaped = "", False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif opened and ch in "\"'":
            quote = ch
        elif ch == "{":
            opened.append(i)
        elif ch == "}" and opened:
            spans.append((opened.pop(), i + 1))
    return sorted(spans)


def _whole_objects(text: str) -> list[dict[str, object]]:
    """Every object in `text` that closes and reads as JSON or JSON5, outermost first, none inside another."""
    found: list[dict[str, object]] = []
    taken_until = 0
    for start, end in _closed_spans(text):
        if start < taken_until:
            continue  # inside an object already taken
        chunk = text[start:end]
        strict = _strict(chunk)
        value = strict[0] if strict and strict[1] == 0 else _loose(chunk)
        if isinstance(value, dict) and ("id" in value or "score" in value):
            found.append(value)
            taken_until = end
    return found


def _json_candidates(text: str) -> list[object]:
    """Return JSON values found in `text`, most likely first: fenced blocks, then the whole text.

    Each chunk is read strictly first, then as JSON5; a chunk that reads neither way (a reply cut off
    mid-array, say) gives the list of its objects that closed.
    """
    found: list[object] = []
    chunks = [m.group(1) for m in _FENCE_RE.finditer(text)] + [text]
    for chunk in chunks:
        opened = [i for i in (chunk.find("{"), chunk.find("[")) if i >= 0]
        if not opened:
            continue
        first = min(opened)
        strict = _strict(chunk)
        if strict is not None and strict[1] == first:
            found.append(strict[0])
            continue
        # The first bracket opens something that is not strict JSON: JSON5, or a reply cut off mid-way.
        closed = max(chunk.rfind("}"), chunk.rfind("]"))
        value = _loose(chunk[first : closed + 1]) if closed > first else None
        if value is None and len(chunk) <= MAX_SALVAGE_CHARS:
            value = _whole_objects(chunk[first:]) or None
        if value is None and strict is not None:
            value = strict[0]  # prose with a stray bracket before the JSON
        if value is not None:
            found.append(value)
    return found


def json_values(text: str) -> list[object]:
    """Return the JSON objects or arrays a reply holds, most likely first (pure; never raises)."""
    return _json_candidates(text)


def _entries(value: object) -> list[object]:
    """Return the per-paper items of a reply in any shape we accept."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return []
    if "id" in value and "score" in value:
        return [value]
    for key in ("scores", "papers", "results", "items"):
        if isinstance(value.get(key), list):
            return list(value[key])
    # Keyed by id: {"2601.10781": {"field": ..., "score": ..., "reason": ...}}
    return [{**v, "id": k} for k, v in value.items() if isinstance(v, dict)]


def _normalise_id(raw: str, sent: Collection[str]) -> str:
    if raw in sent:
        return raw
    return _VERSION_RE.sub("", _ARXIV_PREFIX_RE.sub("", raw.strip()))


def parse_score_reply(
    text: str, sent_ids: Collection[str], field_slugs: Collection[str], *, default_field: str | None = None,
) -> dict[str, ReplyEntry]:
    """Read a reply into valid entries keyed by arXiv id; ignore ids not sent; never raise.

    `default_field` fills entries that name no field (replies scoring a single profile carry none).
    """
    if not text or not text.strip():
        return {}
    sent = set(sent_ids)
    slugs = set(field_slugs)
    result: dict[str, ReplyEntry] = {}
    for candidate in _json_candidates(text):
        strays: list[ReplyEntry] = []  # valid entries for ids that were not sent
        for item in _entries(candidate):
            if not isinstance(item, dict):
                continue
            if default_field is not None and "field" not in item:
                item = {**item, "field": default_field}
            try:
                entry = ReplyEntry.model_validate(item)
            except ValidationError:
                continue
            if entry.field not in slugs:
                continue
            if _PLACEHOLDER_RE.match(entry.reason) or any(_PLACEHOLDER_RE.match(r) for r in entry.reasons.values()):
                entry = entry.model_copy(update={
                    "reason": "" if _PLACEHOLDER_RE.match(entry.reason) else entry.reason,
                    "reasons": {k: r for k, r in entry.reasons.items() if not _PLACEHOLDER_RE.match(r)},
                })
            arxiv_id = _normalise_id(entry.id, sent)
            if arxiv_id not in sent:
                strays.append(entry)
                continue
            if arxiv_id in result:
                continue
            result[arxiv_id] = entry.model_copy(update={"id": arxiv_id}) if arxiv_id != entry.id else entry
        if not result and len(sent) == 1 and len(strays) == 1:
            # One paper asked about, one answer given: it can only be about that paper.
            [only] = sent
            result[only] = strays[0].model_copy(update={"id": only})
        if result:
            break
    return result
