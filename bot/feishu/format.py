"""Feishu/Lark's formatter (pure): neutral blocks as interactive cards within the custom bot's size limit.

Owns the card layout (a header with the digest's title, its notes as a note element, one section per
field under a rule, each paper a markdown element with its linked title, score, authors and reason), the
escaping of untrusted text for the card's markdown, and the split across messages: a custom bot's request
body may hold at most 20 KB (JSON, UTF-8), so each card is measured as the request that carries it. A
paper never splits across cards and a field heading stays with its first paper. A custom bot cannot
receive button presses, so cards carry no vote buttons. No IO: no client, no store, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from core.build.digest import format_score
from core.models import Block, Heading, Note, PaperItem

MAX_BODY = 20 * 1024  # bytes of a custom bot's request body, as Feishu documents it
# Room left in each body for what the sender adds (timestamp and sign: well under 100 bytes).
SIGNING_ROOM = 256
CARD_BUDGET = MAX_BODY - SIGNING_ROOM
MAX_ELEMENTS = 50  # elements per card: long cards render slowly in the client, well before any hard cap
MAX_HEADER = 100  # characters of a card's title
MAX_TITLE, MAX_AUTHORS, MAX_WHY, MAX_NOTE, MAX_SECTION = 400, 300, 1500, 2000, 200
HEADER_TEMPLATE = "blue"

TEXT = {
    "en": {"score": "Score", "part": "{title} ({n}/{total})"},
    "zh": {"score": "评分", "part": "{title}（{n}/{total}）"},
}
# Characters the card's markdown (lark_md) reads as markup, spelled as HTML entities, which it renders
# as the character. `&` first, so an entity already written is shown as typed, not interpreted.
_ESCAPES = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "*": "&#42;", "_": "&#95;", "~": "&#126;", "`": "&#96;",
    "[": "&#91;", "]": "&#93;", "(": "&#40;", ")": "&#41;", "#": "&#35;", "\\": "&#92;", "|": "&#124;",
}
_TABLE = str.maketrans(_ESCAPES)
_PARTIAL_ENTITY = re.compile(r"&#?[0-9a-z]*$")  # an entity cut in two at the end of a clipped text


def feishu_say(lang: str, key: str, **values: object) -> str:
    """One of the Feishu formatter's own texts in `lang`, English when the language has none."""
    return TEXT.get(lang, TEXT["en"])[key].format(**values)


class FeishuCard(TypedDict):
    """One message to a custom bot's webhook: what the sender posts, before `timestamp` and `sign`."""

    msg_type: str  # "interactive"
    card: dict[str, Any]


def escape_md(text: str) -> str:
    """`text` shown literally in the card's markdown: every character it reads as markup escaped."""
    return text.translate(_TABLE)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def _lines(text: str, limit: int) -> str:
    """A multi-line note, clipped and escaped, keeping its line breaks."""
    text = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return "\n".join(escape_md(" ".join(line.split())) for line in text.splitlines())


def _link(url: str, label: str) -> str:
    """`[label](url)`: the label escaped, the URL free of what would end it early."""
    safe = url.strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C") \
        .replace(">", "%3E")
    if not safe.startswith(("https://", "http://")):
        return escape_md(label)
    return f"[{escape_md(label)}]({safe})"


def body_size(card: FeishuCard) -> int:
    """Bytes of the request body that carries `card` (the sender serialises it the same way)."""
    return len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode())


def _markdown(content: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "lark_md", "content": content}}


def _paper(item: PaperItem, lang: str) -> dict[str, Any]:
    authors = escape_md(_clip(item.authors, MAX_AUTHORS))
    lines = [f"**{_link(item.url, _clip(item.title, MAX_TITLE))}**",
             f"{feishu_say(lang, 'score')} **{format_score(item.score)}**/10 · {authors}"]
    if item.why.strip():
        lines.append(escape_md(_clip(item.why, MAX_WHY)))
    return _markdown("\n".join(lines))


@dataclass
class _Unit:
    """Elements that must stay in one card; `glue` keeps a field heading with what follows."""

    elements: list[dict[str, Any]]
    glue: bool = False


def _units(blocks: Sequence[Block], lang: str) -> tuple[str, list[_Unit]]:
    title = ""
    units: list[_Unit] = []
    header_notes: list[str] = []
    in_header = False
    for block in blocks:
        if isinstance(block, Heading) and block.level == 1 and not title:
            title, in_header = _clip(block.text, MAX_HEADER), True
            continue
        if isinstance(block, Note) and in_header:
            header_notes.append(_lines(block.text, MAX_NOTE))
            continue
        in_header = False
        if isinstance(block, Heading):
            units.append(_Unit([{"tag": "hr"}, _markdown(f"**{escape_md(_clip(block.text, MAX_SECTION))}**")],
                               glue=True))
        elif isinstance(block, Note):
            units.append(_Unit([_markdown(_lines(block.text, MAX_NOTE))]))
        else:
            units.append(_Unit([_paper(block, lang)]))
    if header_notes:
        note = {"tag": "note", "elements": [{"tag": "lark_md", "content": text} for text in header_notes]}
        units.insert(0, _Unit([note]))
    return title, units


def _card(title: str, elements: list[dict[str, Any]]) -> FeishuCard:
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": title}, "template": HEADER_TEMPLATE},
        "elements": elements,
    }}


def _fit(unit: _Unit, title: str) -> _Unit:
    """A unit that would not fit an empty card alone, cut down until it does (a huge note, say)."""
    while body_size(_card(title, unit.elements)) > CARD_BUDGET:
        element = unit.elements[-1]
        content = element["text"]["content"] if element.get("tag") == "div" else ""
        if len(content) < 20:
            unit.elements.pop()
            continue
        element["text"]["content"] = _PARTIAL_ENTITY.sub("", content[: len(content) * 3 // 4]) + "…"
    return unit


def to_feishu_cards(blocks: Sequence[Block], lang: str, *, budget: int = CARD_BUDGET) -> list[FeishuCard]:
    """Spell neutral blocks as interactive cards, each posted alone within the webhook's body limit (pure).

    The first level-1 heading titles every card (numbered "(2/3)" when there are several), the notes right
    under it become the first card's note element, a field heading a rule and a bold line, a paper a
    markdown element. A paper never splits across cards; a field heading stays with its first paper.
    """
    title, units = _units(blocks, lang)
    title = title or "arXiv"
    merged: list[_Unit] = []
    for unit in units:
        if merged and merged[-1].glue:
            merged[-1] = _Unit(merged[-1].elements + unit.elements, unit.glue)
        else:
            merged.append(_fit(unit, title))
    # The numbered title is longer than the plain one: measure with the longest it can be.
    worst = feishu_say(lang, "part", title=title, n=99, total=99)
    groups: list[list[dict[str, Any]]] = []
    for unit in merged:
        current = groups[-1] if groups else None
        if (current is not None and len(current) + len(unit.elements) <= MAX_ELEMENTS
                and body_size(_card(worst, current + unit.elements)) <= budget):
            current.extend(unit.elements)
        else:
            groups.append(list(unit.elements))
    if not groups:
        groups = [[]]
    total = len(groups)
    cards = []
    for n, elements in enumerate(groups, 1):
        if elements and elements[0].get("tag") == "hr":
            elements = elements[1:]  # a card opening on a new field needs no rule above it
        shown = title if total == 1 else feishu_say(lang, "part", title=title, n=n, total=total)
        cards.append(_card(shown, elements or [_markdown(escape_md(title))]))
    return cards
