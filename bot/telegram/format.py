"""Telegram's formatter (pure): neutral blocks as HTML messages of at most 4096 units, with inline keyboards.

Owns Telegram HTML escaping and clipping, the split between entries (a paper never splits, a field
heading never ends a message and is repeated when its field continues), the vote rows and the
callback_data encoding (<= 64 bytes). It does no IO: no Bot, no Application, no store, no clock.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, InlineKeyboardMarkupLimit, MessageLimit

from bot.commands import Button, Reply
from core.build.digest import format_score
from core.build.links import link_label
from core.models import Block, Heading, Note, PaperItem

log = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096 UTF-16 units after entity parsing
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64 bytes
MAX_BUTTONS = int(InlineKeyboardMarkupLimit.TOTAL_BUTTON_NUMBER)  # 100 per message
MAX_PAPERS_PER_PART = MAX_BUTTONS // 2  # a 👍 and a 👎 each
# Caps on untrusted text (escaped length), so one entry always fits one message with room to spare.
MAX_TITLE, MAX_AUTHORS, MAX_WHY, MAX_HEADING = 500, 300, 1800, 300
CONTINUED = {"zh": "（续）", "en": " (continued)"}
ACTION_PREFIX = {"vote": "v", "field": "f"}
PREFIX_ACTION = {prefix: action for action, prefix in ACTION_PREFIX.items()}


@dataclass(frozen=True, slots=True)
class TelegramButton:
    """An inline button: its label and the callback_data Telegram sends back (<= 64 bytes)."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class TelegramPart:
    """One message: HTML within Telegram's length limit, and the inline keyboard under it."""

    html: str
    keyboard: tuple[tuple[TelegramButton, ...], ...] = ()

    def reply_markup(self) -> InlineKeyboardMarkup | None:
        if not self.keyboard:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in self.keyboard]
        )


@dataclass(slots=True)
class _Entry:
    """A piece of a message that is never split: a heading, a note line group, or a whole paper."""

    html: str
    sep: str  # what goes before it when it does not start a message
    kind: str  # "title" | "heading" | "note" | "paper"
    section: str = ""  # the escaped field heading a paper belongs to
    number: int = 0
    arxiv_id: str = ""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's message limit."""
    return len(text.encode("utf-16-le")) // 2


def _clip(text: str, limit: int, *, collapse: bool = True) -> str:
    """Escape `text` for Telegram HTML, cut (with "…") so the escaped result is at most `limit` units."""
    if collapse:
        text = " ".join(text.split())
    out = html.escape(text, quote=False)
    if utf16_len(out) <= limit:
        return out
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if utf16_len(html.escape(text[:mid], quote=False)) + 1 <= limit:
            lo = mid
        else:
            hi = mid - 1
    return html.escape(text[:lo].rstrip(), quote=False) + "…"


def encode_callback(button: Button) -> str | None:
    """callback_data for a command-layer button, e.g. "v:+1:2601.08151"; None when over 64 bytes."""
    data = f"{ACTION_PREFIX.get(button.action, button.action)}:{button.value}"
    if len(data.encode()) > MAX_CALLBACK_DATA:
        log.warning("dropped a button whose callback_data exceeds %d bytes: %r", MAX_CALLBACK_DATA, data)
        return None
    return data


def decode_callback(data: str) -> tuple[str, str]:
    """Split callback_data back into (action, value): "f:efficient-llm" -> ("field", "efficient-llm")."""
    prefix, _, value = data.partition(":")
    return PREFIX_ACTION.get(prefix, prefix), value


def _entries(blocks: Sequence[Block], numbered: bool) -> list[_Entry]:
    out: list[_Entry] = []
    in_header, has_title, section, number = True, False, "", 0
    for block in blocks:
        if isinstance(block, Heading):
            text = _clip(block.text, MAX_HEADING)
            if block.level == 1:
                has_title = True
                out.append(_Entry(f"<b>{text}</b>", "\n\n", "title"))
            else:
                in_header, section = False, text
                out.append(_Entry(f"<b>{text}</b>", "\n\n", "heading", section=section))
        elif isinstance(block, Note):
            wrap = (lambda s: s) if in_header else (lambda s: f"<i>{s}</i>")
            sep = "\n" if in_header and has_title and out else "\n\n"
            for i, piece in enumerate(_note_pieces(block.text, MAX_MESSAGE_LENGTH - len("<i></i>"))):
                out.append(_Entry(wrap(piece), "\n" if i else sep, "note", section=section))
        elif isinstance(block, PaperItem):
            in_header = False
            number += 1
            head = f"{number}. " if numbered else ""
            href = html.escape(block.url, quote=True)
            lines = [f'{head}<b>{format_score(block.score)}</b> <a href="{href}">{_clip(block.title, MAX_TITLE)}</a>']
            if block.authors.strip():
                lines.append(f"<i>{_clip(block.authors, MAX_AUTHORS)}</i>")
            if block.why.strip():
                lines.append(_clip(block.why, MAX_WHY))
            if block.code_url:
                lines.append(f'💻 <a href="{html.escape(block.code_url, quote=True)}">{link_label(block.code_url)}</a>')
            out.append(_Entry("\n".join(lines), "\n\n", "paper", section, number, block.arxiv_id))
    return out


def _note_pieces(text: str, limit: int) -> list[str]:
    """Escape a note, grouping its lines into pieces of at most `limit` units (a long line is cut)."""
    pieces: list[str] = []
    current = ""
    for line in text.strip().split("\n"):
        escaped = _clip(line, limit, collapse=False)
        if current and utf16_len(current) + 1 + utf16_len(escaped) > limit:
            pieces.append(current)
            current = escaped
        else:
            current = f"{current}\n{escaped}" if current else escaped
    if current.strip():
        pieces.append(current)
    return pieces


def _joined(entries: Sequence[_Entry]) -> str:
    return "".join((e.sep if i else "") + e.html for i, e in enumerate(entries))


def _pack(entries: Sequence[_Entry], lang: str, limit: int) -> list[list[_Entry]]:
    """Fill messages entry by entry; never end a message on a field heading; repeat it when a field continues."""
    groups: list[list[_Entry]] = []
    current: list[_Entry] = []
    for entry in entries:
        papers = sum(1 for e in current if e.kind == "paper")
        too_long = utf16_len(_joined([*current, entry])) > limit
        if current and (too_long or (entry.kind == "paper" and papers >= MAX_PAPERS_PER_PART)):
            carry = [current.pop()] if current[-1].kind == "heading" and len(current) > 1 else []
            groups.append(current)
            current = carry
            if not carry and entry.kind == "paper" and entry.section:
                cont = _Entry(f"<b>{entry.section}{CONTINUED.get(lang, CONTINUED['en'])}</b>", "\n\n", "heading")
                if utf16_len(_joined([cont, entry])) <= limit:
                    current = [cont]
        current.append(entry)
    if current:
        groups.append(current)
    return groups


def to_telegram_html(
    blocks: Sequence[Block],
    lang: str,
    *,
    votes: bool = True,
    buttons: Sequence[Sequence[Button]] = (),
    limit: int = MAX_MESSAGE_LENGTH,
) -> list[TelegramPart]:
    """Spell blocks as Telegram HTML messages of at most `limit` UTF-16 units, split between entries.

    With `votes`, papers are numbered and each message carries a "n 👍" / "n 👎" row per paper in it.
    `buttons` (a Reply's own buttons) go under the last message.
    """
    groups = _pack(_entries(blocks, numbered=votes), lang, limit)
    parts: list[TelegramPart] = []
    for i, group in enumerate(groups):
        rows: list[tuple[TelegramButton, ...]] = []
        if votes:
            for e in group:
                if e.kind == "paper":
                    row = [(f"{e.number} 👍", f"+1:{e.arxiv_id}"), (f"{e.number} 👎", f"-1:{e.arxiv_id}")]
                    rows.append(_row([Button(label, "vote", value) for label, value in row]))
        if i == len(groups) - 1:
            rows.extend(_row(row) for row in buttons)
        rows = [r for r in rows if r]
        while sum(len(r) for r in rows) > MAX_BUTTONS:
            log.warning("dropped an inline keyboard row: more than %d buttons", MAX_BUTTONS)
            rows.pop()
        parts.append(TelegramPart(_joined(group), tuple(rows)))
    return parts


def _row(buttons: Sequence[Button]) -> tuple[TelegramButton, ...]:
    out = []
    for button in buttons:
        data = encode_callback(button)
        if data is not None:
            out.append(TelegramButton(button.label, data))
    return tuple(out)


def render_reply(reply: Reply, lang: str) -> list[TelegramPart]:
    """A command's Reply as messages: digests get vote rows per paper, others the Reply's own buttons."""
    return to_telegram_html(reply.blocks, lang, votes=reply.kind == "digest", buttons=reply.buttons)
