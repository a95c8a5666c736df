"""A fake Feishu/Lark custom bot webhook server for tests and benchmarks.

It binds 127.0.0.1 on port 0 and answers `POST /open-apis/bot/v2/hook/<token>` as Feishu does: HTTP 200
with JSON `{"code", "msg", "data"}`, code 0 on success. Make a webhook with `fake.add_hook(secret=None)`
(returns its URL); a token it never made answers 19001. It never reaches the network.

Checks, each answered with Feishu's own code (HTTP 200):
  9499  "Bad Request"      the body is not a JSON object, or is over `fake.max_body` bytes (20 KB)
  19021 sign match fail    the hook has a secret and the request's `timestamp`/`sign` are missing, wrong
                           (HMAC-SHA256 keyed "{timestamp}\\n{secret}" over an empty message, base64), or
                           the timestamp is more than an hour from `fake.clock()` (epoch seconds)
  11232 frequency limited  more than `fake.per_second` (5) requests to one hook in a second, or
                           `fake.per_minute` (100) in a minute (time.monotonic on arrival)
  11246 card invalid       msg_type "interactive" whose card is malformed: no header title of tag
                           plain_text, elements not a non-empty list, an element whose tag is unknown,
                           a div without text of tag lark_md/plain_text, a note without elements
  19001 / 19002            an unknown token / a hook marked `fake.removed` (the bot left the group)

Recording: `fake.calls(token=None)` -> list[Call] in arrival order (`token`, `body` (the decoded JSON),
`size` (bytes), `code`, `at`); `fake.cards(token)` is each accepted card. `fake.fail_next(token, code,
msg, times=1)` answers the next `times` requests to that hook with that code (accepting nothing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiohttp import web

from tests.fakes.loopback import LoopbackServer

HOOK_PATH = "/open-apis/bot/v2/hook/"
MAX_BODY = 20 * 1024
ELEMENT_TAGS = frozenset({"div", "markdown", "hr", "note", "action", "img", "column_set"})
TEXT_TAGS = frozenset({"lark_md", "plain_text"})


@dataclass
class Call:
    token: str
    body: dict[str, Any] | None
    size: int
    at: float
    code: int = -1
    msg: str = ""


def expected_sign(secret: str, timestamp: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def card_error(card: Any) -> str | None:
    """Why Feishu would refuse this card, or None."""
    if not isinstance(card, dict):
        return "card is not an object"
    title = ((card.get("header") or {}).get("title") or {})
    if title.get("tag") != "plain_text" or not str(title.get("content", "")).strip():
        return "header.title must be plain_text with content"
    elements = card.get("elements")
    if not isinstance(elements, list) or not elements:
        return "elements must be a non-empty list"
    for element in elements:
        tag = element.get("tag") if isinstance(element, dict) else None
        if tag not in ELEMENT_TAGS:
            return f"unknown element tag {tag!r}"
        if tag == "div":
            text = element.get("text") or {}
            if text.get("tag") not in TEXT_TAGS or not isinstance(text.get("content"), str) or not text["content"]:
                return "div.text must be lark_md or plain_text with content"
        if tag == "markdown" and not element.get("content"):
            return "markdown element without content"
        if tag == "note":
            parts = element.get("elements")
            if not isinstance(parts, list) or not parts or any(p.get("tag") not in TEXT_TAGS for p in parts):
                return "note.elements must be text elements"
    return None


class FakeFeishu(LoopbackServer):
    """The fake server; see the module docstring for its API."""

    def __init__(self) -> None:
        self.hooks: dict[str, str | None] = {}  # token -> secret
        self.removed: set[str] = set()
        self.clock: Callable[[], float] = time.time
        self.max_body = MAX_BODY
        self.per_second, self.per_minute = 5, 100
        self._calls: list[Call] = []
        self._arrivals: dict[str, deque[float]] = defaultdict(deque)
        self._failures: dict[str, deque[tuple[int, str]]] = defaultdict(deque)

    def add_hook(self, secret: str | None = None) -> str:
        """A new webhook (signed when `secret` is given); returns its URL."""
        token = secrets.token_hex(16)
        self.hooks[token] = secret
        return self.url + HOOK_PATH + token

    def fail_next(self, token: str, code: int, msg: str, *, times: int = 1) -> None:
        for _ in range(times):
            self._failures[token].append((code, msg))

    def calls(self, token: str | None = None) -> list[Call]:
        return [c for c in self._calls if token is None or c.token == token]

    def cards(self, token: str) -> list[dict[str, Any]]:
        return [c.body["card"] for c in self.calls(token) if c.code == 0 and c.body is not None]

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(HOOK_PATH + "{token}", self._hook)
        return app

    async def _hook(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        raw = await request.read()
        now = time.monotonic()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        call = Call(token, body if isinstance(body, dict) else None, len(raw), now)
        self._calls.append(call)
        call.code, call.msg = self._judge(token, call, raw)
        return web.json_response({"code": call.code, "msg": call.msg, "data": {}})

    def _judge(self, token: str, call: Call, raw: bytes) -> tuple[int, str]:
        if token not in self.hooks:
            return 19001, "param invalid: incoming webhook access token invalid"
        if token in self.removed:
            return 19002, "bot not found or removed from the chat"
        arrivals = self._arrivals[token]
        arrivals.append(call.at)
        while arrivals and arrivals[0] <= call.at - 60:
            arrivals.popleft()
        in_second = sum(1 for at in arrivals if at > call.at - 1)
        if in_second > self.per_second or len(arrivals) > self.per_minute:
            return 11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[-1]"
        if self._failures[token]:
            return self._failures[token].popleft()
        if call.body is None or len(raw) > self.max_body:
            return 9499, "Bad Request"
        secret = self.hooks[token]
        if secret is not None:
            stamp, signature = str(call.body.get("timestamp", "")), call.body.get("sign")
            fresh = stamp.isdigit() and abs(int(stamp) - self.clock()) <= 3600
            if not fresh or not isinstance(signature, str) or not hmac.compare_digest(
                    signature, expected_sign(secret, stamp)):
                return 19021, "sign match fail or timestamp is not within one hour from current time"
        if call.body.get("msg_type") != "interactive":
            return 9499, "Bad Request"
        problem = card_error(call.body.get("card"))
        if problem:
            return 11246, f"create card content failed: {problem}"
        return 0, "success"


@pytest_asyncio.fixture
async def fake_feishu() -> AsyncIterator[FakeFeishu]:
    """Start a FakeFeishu for one test and close it afterwards."""
    async with FakeFeishu() as fake:
        yield fake
