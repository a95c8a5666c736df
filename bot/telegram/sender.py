"""Telegram's Sender: one message per sendMessage, paced per chat, Telegram's errors become DeliveryError.

Owns the bounded retries on timeouts and network errors / 5xx (a 429 is the Bot's AIORateLimiter's)
and the translation of Telegram's refusals (blocked, chat not found, migrated) into DeliveryError.
It formats nothing (format.py) and handles no updates (bot.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from telegram import Bot as PTBBot
from telegram import InputFile, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter

from bot.telegram.format import TelegramPart, to_telegram_html
from core.deliver.pacing import ChatPacer
from core.errors import DeliveryError
from core.models import Block, ChatRef

log = logging.getLogger(__name__)

PLATFORM = "telegram"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
RATE_LIMIT_RETRIES = 2  # AIORateLimiter: a 429 waits retry_after, then retries, at most this often
SEND_TRIES = 3  # TelegramSender: tries per part on timeouts and network errors / 5xx
CHAT_INTERVAL = 1.0  # seconds between two messages to one chat
MAX_CAPTION = 1024  # sendPhoto's caption limit (characters after entity parsing; ours is plain text)


class SharedRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter, plus one turn of `send_turn` before every request to a chat (each retry too).

    `send_turn` is the bot's rate shared by every process sending as it (core.deliver.botrate.SharedRate),
    so a command's reply, a button's edit and a digest from any instance all count against one limit.
    """

    def __init__(self, send_turn: Callable[[], Awaitable[None]] | None, *, max_retries: int) -> None:
        super().__init__(max_retries=max_retries)
        self.send_turn = send_turn

    async def process_request(
        self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any, kwargs: dict[str, Any],
        endpoint: str, data: dict[str, Any], rate_limit_args: int | None,
    ) -> Any:
        turn = self.send_turn
        if turn is None or data.get("chat_id") is None:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)

        async def after_turn(*a: Any, **kw: Any) -> Any:
            await turn()
            return await callback(*a, **kw)

        return await super().process_request(after_turn, args, kwargs, endpoint, data, rate_limit_args)


class TelegramSender:
    """core.deliver.delivery.Sender for Telegram: one part per sendMessage, Telegram errors become DeliveryError.

    A 429 is retried by the Bot's AIORateLimiter (it waits retry_after); timeouts, network errors and
    5xx are retried here, bounded, with jittered backoff. Messages to one chat go at most one per
    `min_interval` seconds (Telegram allows about one a second per chat; 0 turns pacing off), through
    `pacer`, which the delivery pass honours too.
    """

    platform = PLATFORM

    def __init__(
        self, bot: PTBBot, *, tries: int = SEND_TRIES, retry_delay: float = 1.0,
        min_interval: float = CHAT_INTERVAL, pacer: ChatPacer | None = None,
    ) -> None:
        self.bot = bot
        self.tries = tries
        self.retry_delay = retry_delay
        self.pacer = pacer or ChatPacer(min_interval, time.monotonic)

    @property
    def min_interval(self) -> float:
        return self.pacer.min_interval

    def render(self, blocks: Sequence[Block], lang: str) -> list[TelegramPart]:
        """Spell a digest as Telegram messages with vote buttons (pure)."""
        return to_telegram_html(blocks, lang)

    async def send_part(self, chat: ChatRef, part: object) -> None:
        """Send one message; raise DeliveryError (permanent / migrate_to) when Telegram refuses it."""
        if not isinstance(part, TelegramPart):
            raise TypeError(f"TelegramSender cannot send {type(part).__name__}")
        async with self.pacer.turn(chat):
            await self.call(chat, lambda: self.bot.send_message(
                chat_id=chat.chat_id, text=part.html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                reply_markup=part.reply_markup(),
            ))

    async def send_image(self, chat: ChatRef, png: bytes, caption: str, *, filename: str) -> None:
        """Send a PNG with sendPhoto (a multipart upload) and a plain caption cut to MAX_CAPTION; raise
        DeliveryError as send_part does (a plain one when the chat refuses photos)."""
        if len(caption) > MAX_CAPTION:
            caption = caption[: MAX_CAPTION - 1] + "…"
        async with self.pacer.turn(chat):
            await self.call(chat, lambda: self.bot.send_photo(
                chat_id=chat.chat_id, photo=InputFile(png, filename=filename), caption=caption or None,
            ))

    async def call(self, chat: ChatRef, request: Callable[[], Awaitable[object]]) -> object:
        """Run one Bot API request for `chat` with bounded retries, translating Telegram's errors."""
        where = f"telegram chat {chat.chat_id}"
        for attempt in range(1, self.tries + 1):
            try:
                return await request()
            except Forbidden as exc:
                raise DeliveryError(f"{where}: {exc}", permanent=True) from exc
            except ChatMigrated as exc:
                raise DeliveryError(f"{where} moved to {exc.new_chat_id}", migrate_to=str(exc.new_chat_id)) from exc
            except BadRequest as exc:
                if "chat not found" in str(exc).lower():
                    raise DeliveryError(f"{where}: {exc}", permanent=True) from exc
                log.warning("Telegram refused a message to %s: %s", where, exc)
                raise DeliveryError(f"{where}: {exc}") from exc
            except RetryAfter as exc:
                raise DeliveryError(f"{where}: still rate limited after {RATE_LIMIT_RETRIES} retries") from exc
            except (TimedOut, NetworkError) as exc:
                if attempt == self.tries:
                    what = "timed out" if isinstance(exc, TimedOut) else "could not be reached"
                    log.warning("Telegram %s for %s: %s", what, where, exc)
                    raise DeliveryError(f"{where}: Telegram {what} (after {self.tries} tries)") from exc
                delay = self.retry_delay * 2 ** (attempt - 1) * (1 + random.random() / 2)
                log.info("%s: %s; retrying in %.1fs", where, exc, delay)
                await asyncio.sleep(delay)
            except TelegramError as exc:
                raise DeliveryError(f"{where}: {exc}") from exc
        raise AssertionError("unreachable")
