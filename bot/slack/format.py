"""Slack's formatter (pure): neutral blocks as Block Kit messages within Slack's limits, mrkdwn escaping.

Owns the limits (50 blocks and ~12k characters a message, 3000 a section, 150 a header), mrkdwn
escaping and links, the spelling of `/field …` as `/arxiv field …` (and back: `command_line`), the
vote buttons' Block Kit, the adapter's own texts and the App Home view. It does no IO: no client, no
store, no clock.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from bot.commands import COMMANDS, Button, menu, vote_buttons
from bot.texts import say
from core.build.digest import format_score
from core.build.links import link_label
from core.models import Block, Heading, Note, PaperItem, Subscription

SLASH = "/arxiv"
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_LABEL = 75
MAX_ACTIONS = 25
# Slack rejects a message whose block texts add up past an undocumented ~11-13k characters
# (msg_blocks_too_long); stay well below it.
MESSAGE_TEXT_BUDGET = 8000
MAX_FALLBACK = 3000
HOME_MAX_CHANNELS = 40
_CHANNEL_ID = re.compile(r"^[A-Z0-9]{2,32}$")
_COMMAND_MENTION = re.compile(
    r"(?<![\w/.:])/(" + "|".join(sorted((c[0] for c in COMMANDS), key=len, reverse=True)) + r")\b"
)

TEXT = {
    "en": {
        "score": "Score",
        "cannot_post": "I can't post in this channel ({error}). Invite me with /invite and run /arxiv subscribe "
        "again; the daily digest is paused until then.",
        "post_failed": "Posting the digest failed ({error}). Try again in a minute.",
        "home_title": "arXiv digest", "home_channels": "Subscribed channels",
        "home_none": "No channel is subscribed yet: invite me to a channel and type /arxiv subscribe there.",
        "home_more": "… and {n} more channels.",
        "home_row": "{channel} — {fields} · threshold {score} · daily {time} ({tz}) · {language}",
    },
    "zh": {
        "score": "评分",
        "cannot_post": "我无法在此频道发消息（{error}）。请用 /invite 邀请我，再运行 /arxiv subscribe；"
        "在此之前每日推送已暂停。",
        "post_failed": "推送失败（{error}），请稍后再试。",
        "home_title": "arXiv 每日推荐", "home_channels": "已订阅的频道",
        "home_none": "还没有频道订阅：把我邀请到频道，然后在频道里输入 /arxiv subscribe。",
        "home_more": "……另有 {n} 个频道。",
        "home_row": "{channel} — {fields} · 阈值 {score} · 每天 {time}（{tz}）· {language}",
    },
}


def slack_say(lang: str, key: str, **values: object) -> str:
    """One of the Slack adapter's own texts (TEXT) in `lang`, English when the language has none."""
    return TEXT.get(lang, TEXT["en"])[key].format(**values)


# -- mrkdwn ----------------------------------------------------------------------------------------


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reads as markup: &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…" if limit > 0 else ""


def _escaped(text: str, limit: int) -> str:
    """Escaped `text` within `limit` characters, cut before escaping so no entity is split."""
    out = escape_mrkdwn(text)
    while len(out) > limit:
        text = _clip(text, len(text) * limit // len(out) - 1)
        out = escape_mrkdwn(text)
    return out


def slack_link(url: str, label: str, limit: int = 300) -> str:
    """`<url|label>` with the label escaped and free of `|` (which would end the URL part)."""
    safe_url = (url.replace("&", "&amp;").replace("|", "%7C").replace("<", "%3C")
                .replace(">", "%3E").replace(" ", "%20"))
    return f"<{safe_url}|{_escaped(' '.join(label.split()).replace('|', '¦'), limit)}>"


def slack_commands(text: str) -> str:
    """Spell the command layer's `/field …` as Slack's `/arxiv field …`."""
    return _COMMAND_MENTION.sub(SLASH + r" \1", text)


# -- Block Kit ---------------------------------------------------------------------------------------


class SlackMessage(TypedDict):
    text: str  # the plain fallback Slack shows in notifications
    blocks: list[dict[str, Any]]


@dataclass
class _Unit:
    """Blocks that must stay in one message; `glue` keeps a field heading with what follows."""

    blocks: list[dict[str, Any]]
    summary: list[str]
    glue: bool = False


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _size(blocks: list[dict[str, Any]]) -> int:
    return sum(len(t) for t in _texts(blocks))


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _actions(buttons: Sequence[Button], ids: Iterator[int]) -> list[dict[str, Any]]:
    """Buttons as actions blocks of at most 25; action ids stay unique within the whole render."""
    elements = [
        {"type": "button", "text": {"type": "plain_text", "text": _clip(b.label, MAX_BUTTON_LABEL), "emoji": True},
         "action_id": f"{b.action}-{next(ids)}", "value": b.value[:2000]}
        for b in buttons
    ]
    return [{"type": "actions", "elements": elements[i : i + MAX_ACTIONS]}
            for i in range(0, len(elements), MAX_ACTIONS)]


def _note_sections(text: str) -> Iterator[str]:
    """A note's escaped mrkdwn in chunks of at most 3000 characters, cut at line ends."""
    chunk = ""
    for line in slack_commands(text).splitlines() or [""]:
        line = _escaped(line, MAX_SECTION)
        if chunk and len(chunk) + 1 + len(line) > MAX_SECTION:
            yield chunk
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
    if chunk.strip():
        yield chunk


def _paper(item: PaperItem, lang: str) -> str:
    # No bold around the link: a title's own asterisks would end the bold early.
    lines = [slack_link(item.url, item.title),
             f"{slack_say(lang, 'score')} *{format_score(item.score)}*/10 · {_escaped(item.authors, 400)}"]
    if item.why:
        lines.append(_escaped(item.why, 1800))
    if item.code_url:
        lines.append("💻 " + slack_link(item.code_url, link_label(item.code_url)))
    return "\n".join(lines)


def _units(blocks: Sequence[Block], lang: str, votes: bool, ids: Iterator[int]) -> list[_Unit]:
    units: list[_Unit] = []
    header: _Unit | None = None  # the title and the notes right under it, as a context block
    for block in blocks:
        if isinstance(block, Note) and header is not None:
            context = header.blocks[-1] if header.blocks[-1]["type"] == "context" else None
            if context is None or len(context["elements"]) >= MAX_CONTEXT_ELEMENTS:
                context = {"type": "context", "elements": []}
                header.blocks.append(context)
            context["elements"].append({"type": "mrkdwn", "text": _escaped(slack_commands(block.text), 500)})
            continue
        header = None
        if isinstance(block, Heading) and block.level == 1:
            title = _clip(" ".join(block.text.split()), MAX_HEADER)
            header = _Unit([{"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}], [title])
            units.append(header)
        elif isinstance(block, Heading):
            units.append(_Unit([{"type": "divider"}, _section(f"*{_escaped(block.text, 500)}*")], [block.text],
                               glue=True))
        elif isinstance(block, Note):
            units.extend(_Unit([_section(chunk)], [block.text[:200]]) for chunk in _note_sections(block.text))
        else:
            parts = [_section(_paper(block, lang))]
            if votes:
                parts.extend(_actions(vote_buttons(block.arxiv_id), ids))
            units.append(_Unit(parts, [f"{format_score(block.score)} · {block.title}"]))
    return units


def to_slack_messages(
    blocks: Sequence[Block], lang: str, *, buttons: Sequence[Sequence[Button]] = (), votes: bool = True,
) -> list[SlackMessage]:
    """Spell neutral blocks as Slack messages within every Block Kit limit (pure).

    A level-1 heading becomes a header with its notes as context, a field heading a divider and a
    bold section, a paper a section with its linked title, score, authors and reason, followed by
    👍/👎 buttons when `votes`. `buttons` (a Reply's) come last. A paper never splits across messages,
    and a field heading stays with its first paper.
    """
    ids = itertools.count(1)
    units = _units(blocks, lang, votes, ids)
    flat = [b for row in buttons for b in row]
    units.extend(_Unit([actions], []) for actions in _actions(flat, ids))
    merged: list[_Unit] = []
    for unit in units:
        if merged and merged[-1].glue:
            merged[-1] = _Unit(merged[-1].blocks + unit.blocks, merged[-1].summary + unit.summary, unit.glue)
        else:
            merged.append(unit)
    groups: list[list[_Unit]] = []
    count = size = 0
    for unit in merged:
        n, s = len(unit.blocks), _size(unit.blocks)
        if not groups or count + n > MAX_BLOCKS or size + s > MESSAGE_TEXT_BUDGET:
            groups.append([])
            count = size = 0
        groups[-1].append(unit)
        count, size = count + n, size + s
    title = next((b.text for b in blocks if isinstance(b, Heading)), "")
    messages: list[SlackMessage] = []
    for k, group in enumerate(groups, 1):
        lines = [line for unit in group for line in unit.summary]
        if k > 1 and title:
            lines.insert(0, f"{title} ({k}/{len(groups)})")
        fallback = _escaped("\n".join(" ".join(line.split()) for line in lines), MAX_FALLBACK)
        messages.append(SlackMessage(text=fallback or "arXiv digest",
                                     blocks=[b for unit in group for b in unit.blocks]))
    return messages


def command_line(text: str) -> str:
    """The text after `/arxiv` as the command layer's line: "" -> "/help", "field a b" -> "/field a b"."""
    return "/" + (text.strip().lstrip("/") or "help")


# -- App Home ---------------------------------------------------------------------------------------


def home_view(lang: str, chats: Sequence[tuple[Subscription, str]]) -> dict[str, Any]:
    """The App Home: intro, the command list and the workspace's subscribed channels (with their
    fields' names, as Commands.subscribed_chats gives them)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": slack_say(lang, "home_title"), "emoji": True}},
        _section(_escaped(say(lang, "intro"), MAX_SECTION)),
        _section(_escaped(say(lang, "help_head") + "\n" + "\n".join(
            f"{SLASH} {name} — {desc}" for name, desc in menu(lang)), MAX_SECTION)),
        {"type": "divider"},
        _section(f"*{_escaped(slack_say(lang, 'home_channels'), 200)}*"),
    ]
    for sub, fields in chats[:HOME_MAX_CHANNELS]:
        cid = sub.chat.chat_id
        channel = f"<#{cid}>" if _CHANNEL_ID.match(cid) else escape_mrkdwn(cid)
        blocks.append(_section(slack_say(lang, "home_row", channel=channel, fields=_escaped(fields, 1500),
                                  score=format_score(sub.min_score), time=sub.digest_time,
                                  tz=escape_mrkdwn(sub.timezone), language=sub.lang)))
    if not chats:
        blocks.append(_section(_escaped(slack_commands(slack_say(lang, "home_none")), MAX_SECTION)))
    elif len(chats) > HOME_MAX_CHANNELS:
        blocks.append(_section(_escaped(slack_say(lang, "home_more", n=len(chats) - HOME_MAX_CHANNELS), 500)))
    return {"type": "home", "blocks": blocks}
