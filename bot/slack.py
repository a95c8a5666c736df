"""Slack wiring: `/arxiv`, buttons and the App Home in; Block Kit out. Imports slack_bolt/slack_sdk, never telegram.

What a command means lives in bot/commands.py. This module turns a Slack event into a command line
and a Caller, calls the command layer, and spells the Reply in Block Kit within Slack's limits (50
blocks and ~12k characters a message, 3000 a section, 150 a header). Slack errors become
DeliveryError here and travel no further.

Decisions: subscriptions are per channel (`ChatRef("slack", channel_id)`) and anyone in a channel
may change its settings (`is_group=False`: Slack has no cheap per-channel admin notion). The App
Home shows help, the command list and every subscribed channel of the workspace (`<#C…>` mentions,
which Slack renders only for members, so private channel names do not leak), in DIGEST_LANGUAGE.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypedDict, cast

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import COMMANDS, Button, Caller, Commands, Reply, menu, say, vote_buttons
from core.build.digest import format_score
from core.config import Settings
from core.errors import ConfigError, DeliveryError
from core.models import Block, ChatRef, Heading, Note, PaperItem
from core.store import Store

log = logging.getLogger(__name__)

SLASH = "/arxiv"
EVENTS_PATH = "/slack/events"
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
RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
# The channel is gone for us: deactivate the subscription.
CHANNEL_GONE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
                          "team_access_not_granted"})
# The token is dead or short of scopes: every channel fails alike, so subscriptions are kept and the
# operator is told to fix SLACK_BOT_TOKEN instead of every channel being deactivated by one typo.
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                          "no_permission", "missing_scope", "ekm_access_denied"})
ACTION_ID = re.compile(r"^(vote|field)-\d+$")
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


def _t(lang: str, key: str, **values: object) -> str:
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
             f"{_t(lang, 'score')} *{format_score(item.score)}*/10 · {_escaped(item.authors, 400)}"]
    if item.why:
        lines.append(_escaped(item.why, 1800))
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


# -- outbound --------------------------------------------------------------------------------------


def build_slack_client(settings: Settings) -> AsyncWebClient:
    """An AsyncWebClient on SLACK_API_BASE_URL with bounded retries for connection errors, 429 and 5xx."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_base_url,
        timeout=30,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
        ],
    )


def error_code(exc: SlackApiError) -> str:
    """Slack's error code (`is_archived`, `ratelimited`, ...), or "HTTP <status>" for a non-JSON answer."""
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or f"HTTP {exc.response.status_code}")


def delivery_error(exc: SlackApiError, chat: ChatRef) -> DeliveryError:
    """Translate a Slack API error; channel-gone codes are permanent (the subscription deactivates)."""
    code = error_code(exc)
    if code in CHANNEL_GONE:
        log.warning("slack channel %s is gone for us (%s): its subscription deactivates", chat.chat_id, code)
        return DeliveryError(f"Slack refused {chat.chat_id}: {code}", permanent=True)
    if code in TOKEN_ERRORS:
        log.error("Slack rejected the bot token (%s): check SLACK_BOT_TOKEN and the app's scopes", code)
    return DeliveryError(f"Slack failed for {chat.chat_id}: {code}")


class SlackSender:
    """core.deliver.delivery.Sender for Slack: Block Kit parts, at most one post per `min_interval` per channel."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, *, min_interval: float = 1.0) -> None:
        self.client = client
        self.min_interval = min_interval
        self._last: dict[str, float] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def render(self, blocks: Sequence[Block], lang: str) -> list[SlackMessage]:
        """Spell a digest's blocks as Slack messages, with vote buttons (pure)."""
        return to_slack_messages(blocks, lang)

    async def send_part(self, chat: ChatRef, part: object) -> None:
        """Post one message with chat.postMessage; raise DeliveryError when Slack refuses or fails."""
        if chat.platform != self.platform:
            raise ValueError(f"not a Slack chat: {chat}")
        message = cast(SlackMessage, part)
        async with self._locks[chat.chat_id]:
            wait = self._last.get(chat.chat_id, -math.inf) + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self.client.chat_postMessage(channel=chat.chat_id, text=message["text"],
                                                   blocks=message["blocks"], unfurl_links=False, unfurl_media=False)
            except SlackApiError as exc:
                raise delivery_error(exc, chat) from exc
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                raise DeliveryError(f"Slack unreachable for {chat.chat_id}: {exc!r}") from exc
            finally:
                self._last[chat.chat_id] = time.monotonic()

    async def send_blocks(self, chat: ChatRef, blocks: Sequence[Block], lang: str) -> None:
        """Render and post every part, in order."""
        for part in self.render(blocks, lang):
            await self.send_part(chat, part)


# -- inbound ---------------------------------------------------------------------------------------


def command_line(text: str) -> str:
    """The text after `/arxiv` as the command layer's line: "" -> "/help", "field a b" -> "/field a b"."""
    return "/" + (text.strip().lstrip("/") or "help")


def _system_clock() -> datetime:
    return datetime.now(UTC)


async def deactivate(store: Store, chat: ChatRef, now: datetime, reason: str) -> None:
    """Mark a chat's subscription inactive (settings kept) after Slack said the channel is gone."""
    sub = await store.get_subscription(chat)
    if sub is not None and sub.active:
        await store.save_subscription(replace(sub, active=False), now)
        log.warning("slack subscription %s deactivated: %s", chat.chat_id, reason)


async def build_home_view(commands: Commands, lang: str) -> dict[str, Any]:
    """The App Home: intro, the command list and the workspace's subscribed channels."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _t(lang, "home_title"), "emoji": True}},
        _section(_escaped(say(lang, "intro"), MAX_SECTION)),
        _section(_escaped(say(lang, "help_head") + "\n" + "\n".join(
            f"{SLASH} {name} — {desc}" for name, desc in menu(lang)), MAX_SECTION)),
        {"type": "divider"},
        _section(f"*{_escaped(_t(lang, 'home_channels'), 200)}*"),
    ]
    subs = await commands.services.store.list_subscriptions(platform="slack")
    names = {f.slug: f.name(lang) for f in commands.services.fields}
    for sub in subs[:HOME_MAX_CHANNELS]:
        fields = ", ".join(names.get(s, s) for s in sub.fields) or say(lang, "all_fields")
        cid = sub.chat.chat_id
        channel = f"<#{cid}>" if _CHANNEL_ID.match(cid) else escape_mrkdwn(cid)
        blocks.append(_section(_t(lang, "home_row", channel=channel, fields=_escaped(fields, 1500),
                                  score=format_score(sub.min_score), time=sub.digest_time,
                                  tz=escape_mrkdwn(sub.timezone), language=sub.lang)))
    if not subs:
        blocks.append(_section(_escaped(slack_commands(_t(lang, "home_none")), MAX_SECTION)))
    elif len(subs) > HOME_MAX_CHANNELS:
        blocks.append(_section(_escaped(_t(lang, "home_more", n=len(subs) - HOME_MAX_CHANNELS), 500)))
    return {"type": "home", "blocks": blocks}


def build_slack_app(
    settings: Settings, commands: Commands, *, client: AsyncWebClient | None = None,
    sender: SlackSender | None = None, clock: Callable[[], datetime] = _system_clock,
) -> AsyncApp:
    """An AsyncApp answering `/arxiv`, its buttons and app_home_opened through the command layer."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN (xoxb-...) is required to run the Slack bot")
    if not settings.slack_app_token and not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)")
    client = client or build_slack_client(settings)
    sender = sender or SlackSender(client)
    app = AsyncApp(client=client, signing_secret=settings.slack_signing_secret)
    store = commands.services.store

    def _caller(channel_id: str) -> Caller:
        return Caller(chat=ChatRef("slack", channel_id), now=clock())

    async def reply_privately(respond: Any, reply: Reply, lang: str, *, replace_original: bool = False) -> None:
        for message in to_slack_messages(reply.blocks, lang, buttons=reply.buttons, votes=False):
            await respond(text=message["text"], blocks=message["blocks"], response_type="ephemeral",
                          replace_original=replace_original)
            replace_original = False

    @app.command(SLASH)
    async def on_arxiv(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        caller = _caller(command["channel_id"])
        reply = await commands.handle(command_line(command.get("text") or ""), caller)
        lang = (await commands.subscription(caller)).lang
        if reply.kind != "digest":
            await reply_privately(respond, reply, lang)
            return
        try:
            await sender.send_blocks(caller.chat, reply.blocks, lang)
        except DeliveryError as exc:
            if exc.permanent:
                await deactivate(store, caller.chat, caller.now, str(exc))
            key = "cannot_post" if exc.permanent else "post_failed"
            await respond(text=escape_mrkdwn(_t(lang, key, error=exc)), response_type="ephemeral")

    @app.action(ACTION_ID)
    async def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        if not channel:
            log.info("slack button %s pressed outside a channel; ignored", action.get("action_id"))
            return
        caller = _caller(channel)
        result = await commands.handle_action(action["action_id"].split("-", 1)[0], action.get("value", ""), caller)
        if respond is None:
            return
        if result.reply is not None:
            lang = (await commands.subscription(caller)).lang
            await reply_privately(respond, result.reply, lang, replace_original=True)
        else:
            await respond(text=escape_mrkdwn(result.toast), response_type="ephemeral", replace_original=False)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") == "home":
            view = await build_home_view(commands, settings.digest_language)
            await client.views_publish(user_id=event["user"], view=view)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("slack handler failed (%s): %s", body.get("type") or body.get("command"), error, exc_info=error)

    return app


class SlackBot:
    """The Slack side of `arxiv-digest serve`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode."""

    def __init__(
        self, settings: Settings, commands: Commands, *, client: AsyncWebClient | None = None,
        host: str = "0.0.0.0", min_interval: float = 1.0, clock: Callable[[], datetime] = _system_clock,
    ) -> None:
        self.settings = settings
        self.client = client or build_slack_client(settings)
        self._sender = SlackSender(self.client, min_interval=min_interval)
        self.app = build_slack_app(settings, commands, client=self.client, sender=self._sender, clock=clock)
        self.host = host
        self.port: int | None = None  # HTTP mode: the bound port
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None

    @property
    def sender(self) -> SlackSender:
        return self._sender

    async def start(self) -> None:
        """Check the bot token, then connect Socket Mode or serve /slack/events; return once listening."""
        try:
            await self.client.auth_test()
        except SlackApiError as exc:
            raise ConfigError(f"Slack rejected SLACK_BOT_TOKEN: {error_code(exc)}") from exc
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Slack unreachable at {self.settings.slack_api_base_url}: {exc!r}") from exc
        if self.settings.slack_app_token:
            self._socket = AsyncSocketModeHandler(self.app, app_token=self.settings.slack_app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: Socket Mode connected")
            return
        self._runner = web.AppRunner(self.app.web_app(path=EVENTS_PATH), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.settings.slack_port).start()
        self.port = int(self._runner.addresses[0][1])
        log.info("slack: HTTP mode on %s:%s%s", self.host, self.port, EVENTS_PATH)

    async def stop(self) -> None:
        """Disconnect Socket Mode or stop the web server."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
