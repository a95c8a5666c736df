"""Feishu/Lark's Sender: posts interactive cards to a group custom bot's webhook, signed, paced, translated.

Owns the request (JSON body, `timestamp` and `sign` when the webhook has a signing secret), the pacing a
custom bot needs (Feishu allows about 5 requests a second and 100 a minute per bot: one card per
webhook every MIN_INTERVAL seconds, and at most PER_MINUTE in any minute), and the translation of
Feishu's answers: HTTP 200 with a non-zero `code` is an error. A failed signature, a deleted webhook or
a bot whose security settings refuse us is permanent (the subscription deactivates, as a blocked
Telegram chat does); the rate limit, 5xx and timeouts are transient (retried at the next tick). It
formats nothing (format.py), reads the secret from the store at each send and never logs it, nor the
webhook's whole token. The wall clock (the signature's timestamp) and the monotonic clock are injected.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import datetime
from typing import Any, cast

import aiohttp

from bot.feishu.format import FeishuCard, to_feishu_cards
from bot.feishu.target import PLATFORM, show_webhook
from core.deliver.pacing import ChatPacer, Monotonic, Sleep
from core.errors import DeliveryError
from core.models import Block, ChatRef

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.25  # seconds between two cards to one webhook: 4 a second, under Feishu's 5
PER_MINUTE = 90  # cards to one webhook in any 60 seconds, under Feishu's 100
TIMEOUT = 30.0
SIGNATURE_FAILED = 19021  # "sign match fail or timestamp is not within one hour from current time"
# Feishu's codes for a webhook that will never take our cards as it stands: the webhook was deleted (its
# token is unknown), the signature does not match (the secret was reset, or signing turned on), or the
# bot's security settings refuse us (an IP allow-list without this host, keywords our cards lack).
PERMANENT = {
    19001: "the webhook no longer exists (deleted, or its URL was reset)",
    19002: "the webhook no longer exists (its bot was removed from the group)",
    SIGNATURE_FAILED: "the signature does not match: the secret is wrong or was reset, signing was turned on,"
                      " or this host's clock is more than an hour off",
    19022: "the bot's IP allow-list does not include this host",
    19024: "the bot requires keywords the digest does not contain",
}
RATE_LIMITED = frozenset({11232, 9499})  # 9499 is also "Bad Request": told apart by its message

SecretSource = Callable[[ChatRef], Awaitable[str | None]]


def sign(secret: str, timestamp: int) -> str:
    """Feishu's signature: HMAC-SHA256 keyed with "{timestamp}\\n{secret}" over an empty message, base64."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class MinuteBudget:
    """At most `limit` sends per key in any `window` seconds: a send past it waits for the oldest to age out."""

    def __init__(self, limit: int, clock: Monotonic, *, window: float = 60.0, sleep: Sleep = asyncio.sleep) -> None:
        self.limit, self.window = limit, window
        self._clock, self._sleep = clock, sleep
        self._sent: dict[Hashable, deque[float]] = {}

    def delay(self, key: Hashable) -> float:
        """Seconds until `key` may send again (0: now)."""
        sent = self._sent.get(key)
        if not sent:
            return 0.0
        now = self._clock()
        while sent and sent[0] + self.window <= now:
            sent.popleft()
        if not sent:
            del self._sent[key]
            return 0.0
        return max(0.0, sent[0] + self.window - now) if len(sent) >= self.limit else 0.0

    async def take(self, key: Hashable) -> None:
        """Wait for room in `key`'s minute, then count one send."""
        wait = self.delay(key)
        while wait > 0:
            await self._sleep(wait)
            wait = self.delay(key)
        self._sent.setdefault(key, deque()).append(self._clock())


def _answer(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _code(data: dict[str, Any]) -> int | None:
    """Feishu's error code: `code`, or the older `StatusCode`; None when the answer has neither."""
    for key in ("code", "StatusCode"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def delivery_error(status: int, data: dict[str, Any], chat: ChatRef) -> DeliveryError | None:
    """Translate Feishu's answer; None when it accepted the card. Permanent codes deactivate the group."""
    code = _code(data)
    if status == 200 and code == 0:
        return None
    shown = show_webhook(chat.chat_id)
    message = str(data.get("msg") or data.get("StatusMessage") or "")[:200]
    if code in PERMANENT:
        log.warning("feishu webhook %s refuses the digest (code %s): %s; its subscription deactivates",
                    shown, code, PERMANENT[code])
        return DeliveryError(f"Feishu refused {shown}: {code} {message}".rstrip(), permanent=True)
    if status in (404, 410) and code is None:
        log.warning("feishu webhook %s answers HTTP %s: its subscription deactivates", shown, status)
        return DeliveryError(f"Feishu has no webhook at {shown} (HTTP {status})", permanent=True)
    if status == 429 or code == 11232 or (code == 9499 and "too many" in message.lower()):
        log.warning("feishu rate-limited %s; retried at the next tick", shown)
        return DeliveryError(f"Feishu rate-limited {shown}: {code or status} {message}".rstrip())
    if code not in (None, 0):
        log.error("feishu rejected a card for %s (code %s: %s)", shown, code, message)
        return DeliveryError(f"Feishu failed for {shown}: {code} {message}".rstrip())
    return DeliveryError(f"Feishu failed for {shown}: HTTP {status}")


class FeishuSender:
    """core.deliver.delivery.Sender for Feishu/Lark custom bots: one card per request, to the group's webhook.

    `secrets` gives a webhook's signing secret (the store's `get_webhook_secret`), `clock` the wall clock
    whose time the signature carries. `session` is the process's aiohttp session; without one, the sender
    opens its own and `close()` closes it.
    """

    platform = PLATFORM

    def __init__(
        self, session: aiohttp.ClientSession | None, secrets: SecretSource, *, clock: Callable[[], datetime],
        min_interval: float = MIN_INTERVAL, per_minute: int = PER_MINUTE, monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep, timeout: float = TIMEOUT,
    ) -> None:
        self._session, self._own = session, session is None
        self.secrets, self.clock = secrets, clock
        self.pacer = ChatPacer(min_interval, monotonic, sleep=sleep)
        self.budget = MinuteBudget(per_minute, monotonic, sleep=sleep)
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def render(self, blocks: Sequence[Block], lang: str) -> list[FeishuCard]:
        """Spell a digest's blocks as interactive cards (pure)."""
        return to_feishu_cards(blocks, lang)

    def body(self, card: FeishuCard, secret: str | None) -> bytes:
        """The request body: the card, with `timestamp` and `sign` from the clock when there is a secret."""
        payload: dict[str, Any] = {}
        if secret:
            stamp = math.floor(self.clock().timestamp())
            payload = {"timestamp": str(stamp), "sign": sign(secret, stamp)}
        payload.update(card)
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    async def send_part(self, chat: ChatRef, part: object) -> None:
        """Post one card; return once Feishu answered code 0, else raise DeliveryError."""
        if chat.platform != self.platform:
            raise ValueError(f"not a Feishu webhook: {chat.platform}")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        card = cast(FeishuCard, part)
        shown = show_webhook(chat.chat_id)
        async with self.pacer.turn(chat):
            await self.budget.take(chat)
            body = self.body(card, await self.secrets(chat))
            try:
                async with self._session.post(chat.chat_id, data=body, timeout=self.timeout, allow_redirects=False,
                                              headers={"Content-Type": "application/json; charset=utf-8"}) as resp:
                    status, text = resp.status, await resp.text(errors="replace")
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
                log.warning("feishu webhook %s could not be reached: %s", shown, reason)
                raise DeliveryError(f"Feishu could not be reached for {shown}") from None
        error = delivery_error(status, _answer(text), chat)
        if error is not None:
            raise error

    async def send_blocks(self, chat: ChatRef, blocks: Sequence[Block], lang: str) -> None:
        """Render and post every card, in order."""
        for card in self.render(blocks, lang):
            await self.send_part(chat, card)

    async def close(self) -> None:
        """Close the session the sender opened itself (a session handed in is its owner's to close)."""
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None
