"""The Slack app: `/arxiv`, its buttons and the App Home in, through the command layer; Socket Mode or HTTP.

Owns slack_bolt: turning a Slack event into a command line and a Caller, asking the command layer
(bot/commands.py), answering ephemerally or posting through the SlackSender, and the app's lifecycle.
An event, command or button press is claimed once across instances (`once`), so a retried or replayed
one has one effect. Decisions: subscriptions are per channel (`ChatRef("slack", channel_id)`) and anyone
in a channel may change its settings (`is_group=False`: Slack has no cheap per-channel admin notion). The App Home shows
help, the command list and every subscribed channel of the workspace (`<#C…>` mentions, which Slack
renders only for members, so private channel names do not leak), in DIGEST_LANGUAGE. A channel the bot
cannot post to is reported to the command layer (`chat_gone`); this module never touches the store,
formats nothing itself (format.py) and never imports telegram. Time comes from the injected `clock`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import Caller, Commands, Reply
from bot.slack.format import SLASH, command_line, escape_mrkdwn, home_view, slack_say, to_slack_messages
from bot.slack.sender import CHAT_INTERVAL, SlackSender, build_slack_client, error_code, unreachable_reason
from bot.web import SHUTDOWN_SECONDS
from core.config import Settings
from core.deliver.weekly import send_chart
from core.errors import ConfigError, DeliveryError
from core.models import ChatRef

log = logging.getLogger(__name__)

PLATFORM = "slack"
EVENTS_PATH = "/slack/events"
ACTION_ID = re.compile(r"^(vote|field)-\d+$")


def _system_clock() -> datetime:
    return datetime.now(UTC)


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

    @app.middleware
    async def once(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:  # noqa: A002
        # An event has an event_id, kept by Slack's retries (X-Slack-Retry-Num); a slash command or a button
        # press has none, but its trigger_id is unique per invocation (Slack does not retry those). A copy
        # whose id another instance (or an earlier try) claimed is acknowledged and dropped: one effect.
        key = str(body.get("event_id") or body.get("trigger_id") or "")
        if key and not await commands.claim_update(PLATFORM, key, clock()):
            log.info("slack %s %s was already handled: acknowledged, skipped", body_kind(body), key)
            return BoltResponse(status=200, body="")
        await next()
        return None

    def _caller(channel_id: str) -> Caller:
        return Caller(chat=ChatRef(PLATFORM, channel_id), now=clock())

    async def reply_privately(respond: Any, reply: Reply, lang: str, *, replace_original: bool = False) -> None:
        for message in to_slack_messages(reply.blocks, lang, buttons=reply.buttons, votes=False):
            await respond(text=message["text"], blocks=message["blocks"], response_type="ephemeral",
                          replace_original=replace_original)
            replace_original = False

    @app.command(SLASH)
    async def on_arxiv(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        if not command.get("channel_id"):
            log.warning("slack %s command without a channel_id (team %s); ignored", SLASH, command.get("team_id"))
            return
        caller = _caller(command["channel_id"])
        reply = await commands.handle(command_line(command.get("text") or ""), caller)
        lang = (await commands.subscription(caller)).lang
        if reply.kind != "digest":
            await reply_privately(respond, reply, lang)
            return
        try:
            if reply.image:
                await send_chart(sender, caller.chat, reply.image, reply.caption)
            await sender.send_blocks(caller.chat, reply.blocks, lang)
        except DeliveryError as exc:
            if exc.permanent:
                await commands.chat_gone(caller.chat, caller.now, str(exc))
            key = "cannot_post" if exc.permanent else "post_failed"
            # A permanent refusal names Slack's code (not_in_channel, ...), which tells the user what to do.
            await respond(text=escape_mrkdwn(slack_say(lang, key, error=exc)), response_type="ephemeral")

    @app.action(ACTION_ID)
    async def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        if not channel:
            log.info("slack button %s pressed outside a channel; ignored", action.get("action_id"))
            return
        action_id = str(action.get("action_id") or "")
        if not action_id:
            log.warning("slack button without an action_id in channel %s; ignored", channel)
            return
        caller = _caller(channel)
        result = await commands.handle_action(action_id.split("-", 1)[0], action.get("value") or "", caller)
        if respond is None:
            return
        if result.reply is not None:
            lang = (await commands.subscription(caller)).lang
            await reply_privately(respond, result.reply, lang, replace_original=True)
        else:
            await respond(text=escape_mrkdwn(result.toast), response_type="ephemeral", replace_original=False)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if not event.get("user"):
            log.warning("slack app_home_opened without a user (channel %s); ignored", event.get("channel"))
            return
        if event.get("tab", "home") == "home":
            lang = settings.digest_language
            view = home_view(lang, await commands.subscribed_chats(PLATFORM, lang))
            await client.views_publish(user_id=event["user"], view=view)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        # The type and ids only: a body carries message texts and a response_url that can post to the channel.
        log.error("slack handler failed (%s, channel %s): %s", body_kind(body), body_channel(body), error,
                  exc_info=error)

    return app


def body_kind(body: dict[str, Any]) -> str:
    """What an inbound body is, for a log line: its type, command or event type."""
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    return str(body.get("command") or (event or {}).get("type") or body.get("type") or "?")


def body_channel(body: dict[str, Any]) -> str:
    """The channel id an inbound body is about, for a log line; "-" when it names none."""
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
    return str(body.get("channel_id") or (channel or {}).get("id") or (event or {}).get("channel") or "-")


class SlackBot:
    """The Slack side of `arxiv-digest serve`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode."""

    def __init__(
        self, settings: Settings, commands: Commands, *, client: AsyncWebClient | None = None,
        host: str = "0.0.0.0", min_interval: float = CHAT_INTERVAL, clock: Callable[[], datetime] = _system_clock,
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
            raise DeliveryError(f"Slack could not be reached at {self.settings.slack_api_base_url}"
                                f" ({unreachable_reason(exc)})") from exc
        if self.settings.slack_app_token:
            self._socket = AsyncSocketModeHandler(self.app, app_token=self.settings.slack_app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: Socket Mode connected")
            return
        # A stop waits SHUTDOWN_SECONDS for requests under way, not aiohttp's 60 s: Slack gives up on an event or
        # a command not acknowledged within 3 s (and sends it again), and a reply is sent apart from the request.
        self._runner = web.AppRunner(self.app.web_app(path=EVENTS_PATH), access_log=None,
                                     shutdown_timeout=SHUTDOWN_SECONDS)
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
