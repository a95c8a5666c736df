"""Slack's Sender: chat.postMessage with bounded retries, paced per channel; Slack errors become DeliveryError.

Owns the AsyncWebClient's construction (retry handlers for connection errors, 429 and 5xx) and the
translation of Slack's error codes: a channel that is gone is permanent, a dead token is logged for
the operator and never deactivates anyone. It formats nothing (format.py) and handles no events (app.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import cast

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.format import SlackMessage, to_slack_messages
from core.config import Settings
from core.deliver.pacing import ChatPacer
from core.errors import DeliveryError
from core.models import Block, ChatRef

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
CHAT_INTERVAL = 1.0  # seconds between two posts to one channel
# The channel is gone for us: deactivate the subscription.
CHANNEL_GONE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
                          "team_access_not_granted"})
# The token is dead or short of scopes: every channel fails alike, so subscriptions are kept and the
# operator is told to fix SLACK_BOT_TOKEN instead of every channel being deactivated by one typo.
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                          "no_permission", "missing_scope", "ekm_access_denied"})


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


def unreachable_reason(exc: BaseException) -> str:
    """Why a request did not get through, in words for a log line (never an exception's repr)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


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
    """core.deliver.delivery.Sender for Slack: Block Kit parts, at most one post per `min_interval` per channel.

    The pacing is `pacer`'s, which the delivery pass honours too.
    """

    platform = "slack"

    def __init__(
        self, client: AsyncWebClient, *, min_interval: float = CHAT_INTERVAL, pacer: ChatPacer | None = None,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChatPacer(min_interval, time.monotonic)

    @property
    def min_interval(self) -> float:
        return self.pacer.min_interval

    def render(self, blocks: Sequence[Block], lang: str) -> list[SlackMessage]:
        """Spell a digest's blocks as Slack messages, with vote buttons (pure)."""
        return to_slack_messages(blocks, lang)

    async def send_part(self, chat: ChatRef, part: object) -> None:
        """Post one message with chat.postMessage; raise DeliveryError when Slack refuses or fails."""
        if chat.platform != self.platform:
            raise ValueError(f"not a Slack chat: {chat}")
        message = cast(SlackMessage, part)
        async with self.pacer.turn(chat):
            try:
                await self.client.chat_postMessage(channel=chat.chat_id, text=message["text"],
                                                   blocks=message["blocks"], unfurl_links=False, unfurl_media=False)
            except SlackApiError as exc:
                raise delivery_error(exc, chat) from exc
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("Slack could not be reached for %s: %s", chat.chat_id, unreachable_reason(exc))
                raise DeliveryError(f"Slack could not be reached for {chat.chat_id}") from exc

    async def send_image(self, chat: ChatRef, png: bytes, caption: str, *, filename: str) -> None:
        """Share a PNG to the channel with Slack's external upload (files.getUploadURLExternal, the upload,
        files.completeUploadExternal: slack_sdk's files_upload_v2), `caption` as its comment; raise
        DeliveryError as send_part does (a plain one when Slack refuses the file: no files:write scope, ...)."""
        if chat.platform != self.platform:
            raise ValueError(f"not a Slack chat: {chat}")
        async with self.pacer.turn(chat):
            try:
                await self.client.files_upload_v2(channel=chat.chat_id, file=png, filename=filename,
                                                  title=caption.split("\n")[0], alt_txt=caption[:1000],
                                                  initial_comment=caption)
            except SlackApiError as exc:
                raise delivery_error(exc, chat) from exc
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("Slack took no file for %s: %s", chat.chat_id, unreachable_reason(exc))
                raise DeliveryError(f"Slack could not upload a file to {chat.chat_id}") from exc

    async def send_blocks(self, chat: ChatRef, blocks: Sequence[Block], lang: str) -> None:
        """Render and post every part, in order."""
        for part in self.render(blocks, lang):
            await self.send_part(chat, part)
