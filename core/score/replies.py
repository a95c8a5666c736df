"""Read an LLM's scoring reply (pure): find the JSON in it, validate each entry, keep only ids that were sent.

Never raises on a bad reply: invalid JSON, unknown ids, out-of-range scores and unknown fields come back
as fewer entries, and the caller decides what to ask again. It knows nothing about requests or storage.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

REASON_MAX_CHARS = 240
MAX_JSON_STARTS = 50  # where to try decoding in a chatty reply; bounds the work on junk

# Providers and models sometimes prefix the reason with labels the prompt never asked for.
_REASON_PREFIX_RE = re.compile(
    r"^\s*(?:(?:score|rating|field|评分|分数|得分|领域)\s*[:：=]\s*[^\s,;，；。|]*[\s,;，；。|]*"
    r"|(?:reason|why|理由|原因)\s*[:：=]\s*)",
    re.IGNORECASE,
)
_FENCE_RE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_ARXIV_PREFIX_RE = re.compile(r"^(?:arxiv:|https?://arxiv\.org/abs/)", re.IGNORECASE)
_VERSION_RE = re.compile(r"v\d+$")


class ReplyEntry(BaseModel):
    """One paper's score as the LLM gave it, cleaned: score clamped to 1-10, reason on one line."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    id: str
    field: str
    score: float
    reason: str = ""

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


def _json_candidates(text: str) -> list[object]:
    """Return JSON values found in `text`: fenced blocks first, then the first decodable object or array."""
    decoder = json.JSONDecoder()
    found: list[object] = []
    chunks = [m.group(1) for m in _FENCE_RE.finditer(text)] + [text]
    for chunk in chunks:
        starts = [i for i, ch in enumerate(chunk) if ch in "{["][:MAX_JSON_STARTS]
        for start in starts:
            try:
                value, _ = decoder.raw_decode(chunk, start)
            except (json.JSONDecodeError, RecursionError):  # junk, or nesting deeper than Python's stack
                continue
            if isinstance(value, dict | list):
                found.append(value)
                break
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
        for item in _entries(candidate):
            if not isinstance(item, dict):
                continue
            if default_field is not None and "field" not in item:
                item = {**item, "field": default_field}
            try:
                entry = ReplyEntry.model_validate(item)
            except ValidationError:
                continue
            arxiv_id = _normalise_id(entry.id, sent)
            if arxiv_id not in sent or entry.field not in slugs or arxiv_id in result:
                continue
            result[arxiv_id] = entry.model_copy(update={"id": arxiv_id}) if arxiv_id != entry.id else entry
        if result:
            break
    return result
