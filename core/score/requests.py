"""What an LLM scoring request says (pure): the papers as a JSON data block, the fields, the reply's JSON
schema (with a reason per language asked: "reason" for one, "reason_zh"/"reason_en" for both, so one
reply serves readers of both languages) and the `response_format` that asks for it.

Untrusted paper text only ever travels inside the JSON data block, with `</` escaped so it cannot close the
block. This module sends nothing and reads no reply (core/score/llm.py sends, core/score/replies.py reads).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from openai.types.chat.completion_create_params import ResponseFormat

from core.errors import ConfigError
from core.models import Field, Paper
from core.prompts import Prompt

# Default of LLM_ABSTRACT_CHARS: abstracts are cut to this many characters (at a sentence, else a word, end).
# The title and the opening sentences state the problem and the method, which is what a relevance score
# needs; the rest (results, numbers, outlook) rarely moves a paper between fields. 450 characters keep two
# or three sentences (arXiv abstracts average ~1,350 characters) for ~65 tokens instead of ~240. Part of
# the scorer key, because a different cut is a different request.
ABSTRACT_CHARS = 450
SCHEMA_NAME = "paper_scores"

LANG_TEXT: Mapping[str, Mapping[str, str]] = {
    "zh": {"language": "简体中文 (Simplified Chinese)", "reason_long": "at most 40 汉字",
           "reason_short": "at most 10 汉字"},
    "en": {"language": "English", "reason_long": "at most 30 words", "reason_short": "at most 6 words"},
}


def list_schema(key: str, entry_properties: Mapping[str, Any]) -> dict[str, Any]:
    """Return `{key: [entry, ...]}` as a JSON schema valid under OpenAI strict mode (all required, closed)."""
    entry = {
        "type": "object",
        "properties": dict(entry_properties),
        "required": list(entry_properties),
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {key: {"type": "array", "items": entry}},
        "required": [key],
        "additionalProperties": False,
    }


def scores_schema(entry_properties: Mapping[str, Any]) -> dict[str, Any]:
    """Return `{"scores": [entry, ...]}` as a strict JSON schema."""
    return list_schema("scores", entry_properties)


def reason_keys(langs: Sequence[str]) -> list[str]:
    """The reply's reason keys: "reason" for one language, "reason_zh", "reason_en"... for several."""
    if len(langs) <= 1:
        return ["reason"]
    return [f"reason_{lang}" for lang in langs]


def reply_schema(field_slugs: Sequence[str], langs: Sequence[str] = ()) -> dict[str, Any]:
    """Return the JSON schema of a scoring reply: id, field (one of the slugs sent), score, a reason per language."""
    return scores_schema({
        "id": {"type": "string"},
        "field": {"type": "string", "enum": list(field_slugs)},
        "score": {"type": "integer"},
        **{key: {"type": "string"} for key in reason_keys(langs)},
    })


def json_response_format(json_mode: str, name: str, schema: Mapping[str, Any]) -> ResponseFormat | None:
    """Return the `response_format` of a JSON mode (core/score/jsonmode.py's LADDER); None sends none.

    `json_object_schema` is llama.cpp's spelling of a schema-constrained reply: `{"type": "json_object",
    "schema": ...}` (other servers ignore the key or refuse the shape, and `auto` then tries the next mode).
    """
    if json_mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": True}}
    if json_mode == "json_object_schema":
        return cast(ResponseFormat, {"type": "json_object", "schema": dict(schema)})
    if json_mode == "json_object":
        return {"type": "json_object"}
    if json_mode == "none":
        return None
    raise ConfigError(f"no response_format for JSON mode {json_mode!r}")


def response_format(
    json_mode: str, field_slugs: Sequence[str], langs: Sequence[str] = (),
) -> ResponseFormat | None:
    """Return the `response_format` of a scoring request."""
    return json_response_format(json_mode, SCHEMA_NAME, reply_schema(field_slugs, langs))


def shorten_abstract(text: str, limit: int = ABSTRACT_CHARS) -> str:
    """Collapse whitespace and cut at a sentence (else word) end within `limit` characters, marking the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    # The cut text plus " …" must fit in `limit`, so a reader of the request never gets more than asked.
    head = text[: max(limit - 1, 1)]
    # A sentence end in the last 40% keeps whole sentences; earlier than that it would waste the budget.
    cut = max(head.rfind(". ", 0, limit - 1), head.rfind("? ", 0, limit - 1), head.rfind("! ", 0, limit - 1))
    if cut >= limit * 0.6:
        return head[: cut + 1] + " …"
    cut = head.rfind(" ", 0, limit - 1)
    if cut <= 0:  # one endless word: cut inside it
        return head[: limit - 1] + "…"
    return head[:cut].rstrip(",;:") + " …"


def render_papers(papers: Sequence[Paper], abstract_chars: int = ABSTRACT_CHARS) -> str:
    """Encode papers as a JSON array, one per line; JSON quoting keeps their text inside the data block."""
    lines = [
        json.dumps(
            {"id": p.arxiv_id, "title": " ".join(p.title.split()),
             "abstract": shorten_abstract(p.abstract, abstract_chars)},
            ensure_ascii=False,
            separators=(",", ":"),  # the spaces after , and : cost about 5 tokens a paper and say nothing
        )
        for p in papers
    ]
    # `<\/` is still `</` to a JSON reader, but text can no longer spell the closing `</papers>` tag.
    return ("[\n" + ",\n".join(lines) + "\n]").replace("</", "<\\/")


def _plain(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").split())


def render_fields(fields: Sequence[Field]) -> tuple[str, str]:
    """Return the prompt's field list and its low-priority line (English: scores must not depend on lang)."""
    ignores = {f.ignore for f in fields}
    shared = next(iter(ignores)) if len(ignores) == 1 else ()
    lines = []
    for f in fields:
        line = f"- {f.slug} ({f.name_en}): {f.description_en}"
        # Keywords the description already spells out are paid for twice in every request.
        described = _plain(f.description_en)
        keywords = [k for k in f.keywords if _plain(k) not in described]
        if keywords:
            line += f" Keywords: {', '.join(keywords)}."
        if f.ignore and not shared:
            line += f" Low priority: {', '.join(f.ignore)}."
        lines.append(line)
    if shared:
        low = f"Low-priority areas (score 3 or less unless a paper clearly crosses a field): {', '.join(shared)}."
    elif any(f.ignore for f in fields):
        low = "A field's low-priority areas score 3 or less unless the paper clearly crosses that field."
    else:
        low = ""
    return "\n".join(lines), low


def reason_text(langs: Sequence[str]) -> dict[str, str]:
    """The template's `$reason_keys` (the reply's reason keys, as the example entry spells them) and
    `$reason_rule` (each key's language and length), for one language or several."""
    for lang in langs:
        if lang not in LANG_TEXT:
            raise ConfigError(f"unsupported language {lang!r}")
    keys = reason_keys(langs)
    example = ",".join(f'"{key}":"<text>"' for key in keys)
    if len(langs) == 1:
        t = LANG_TEXT[langs[0]]
        rule = (f"reason: one line in {t['language']}; score 6+: why it fits ({t['reason_long']}),"
                f" else {t['reason_short']}.")
    else:
        texts = [LANG_TEXT[lang] for lang in langs]
        named = ", ".join(f"{key} in {t['language']}" for key, t in zip(keys, texts, strict=True))
        long, short = " / ".join(t["reason_long"] for t in texts), " / ".join(t["reason_short"] for t in texts)
        rule = f"{named}: the same one-line reason in each language; score 6+: why it fits ({long}), else {short}."
    return {"reason_keys": example, "reason_rule": rule}


def render_request(
    prompt: Prompt,
    fields: Sequence[Field],
    papers: Sequence[Paper],
    lang: str,
    *,
    abstract_chars: int = ABSTRACT_CHARS,
    langs: Sequence[str] = (),
) -> str:
    """Fill the scoring template for one batch; reasons in `langs` (default: `lang` alone)."""
    field_text, low = render_fields(fields)
    return prompt.render(fields=field_text, low_priority=low, papers=render_papers(papers, abstract_chars),
                         **reason_text(tuple(langs) or (lang,)))
