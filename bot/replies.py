"""What a command answers, platform-neutral: replies, buttons, the caller, and small reply builders.

Owns the shapes adapters spell (Reply, Button, ActionResult) and receive (Caller). It must not import a
platform library or decide what a command means (bot/commands.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.texts import say
from core.models import Block, ChatRef, Field, Note, Subscription


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a message. `action` and `value` come back to `handle_action` when pressed."""

    label: str
    action: str  # "vote" | "field"
    value: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers. `kind` tells adapters where it goes: "digest" is posted to the chat
    for everyone; "info" may be private (Slack: ephemeral). An `image` goes first (core.deliver.weekly.send_chart)."""

    blocks: tuple[Block, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    kind: str = "info"  # "info" | "error" | "digest"
    image: bytes = b""  # a PNG sent before the blocks where the platform takes images (the weekly chart)
    caption: str = ""  # the image's caption; the blocks carry the meaning, so they go even without the image


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The answer to a button press: a short toast, and optionally a new version of the message."""

    toast: str
    reply: Reply | None = None


IsAdmin = Callable[[], Awaitable[bool]]


async def _always() -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command, from where. `is_admin` is asked only before a settings change."""

    chat: ChatRef
    now: datetime
    is_group: bool = False
    is_admin: IsAdmin = field(default=_always)
    language_hint: str = ""  # the user's client language, used until the chat sets /lang


def info(*lines: str, kind: str = "info", buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    return Reply(tuple(Note(line) for line in lines), buttons=buttons, kind=kind)


def vote_buttons(arxiv_id: str) -> tuple[Button, ...]:
    """The 👍/👎 pair under a paper."""
    return (Button("👍", "vote", f"+1:{arxiv_id}"), Button("👎", "vote", f"-1:{arxiv_id}"))


def field_names(fields: Sequence[Field], sub: Subscription) -> str:
    """The chat's chosen fields by name, or "all fields"."""
    if not sub.fields:
        return say(sub.lang, "all_fields")
    names = {f.slug: f.name(sub.lang) for f in fields}
    return ", ".join(names.get(s, s) for s in sub.fields)
