"""A fake Slack Web API (plus response_url sink and Socket Mode) for tests and benchmarks.

It binds 127.0.0.1 on port 0, answers only the methods the app uses, records every request, enforces
the Block Kit limits Slack enforces, and can be told to fail. It never reaches the network.

Start it with the fixture (test modules: `from tests.fakes.slack import fake_slack  # noqa: F401`) or by
hand (`async with FakeSlack() as fake: ...`). Point the real clients at it:

    client = AsyncWebClient(token="xoxb-test", base_url=f"{fake.url}/api/")
    Settings.from_env({"SLACK_API_BASE_URL": f"{fake.url}/api/", ...})
    body["response_url"] = fake.response_url("1")        # what bolt's respond() POSTs to

Web API routes (`/api/<method>`, GET or POST, form or JSON; the bearer token must start with `xoxb-`,
or `xapp-` for apps.connections.open, else `not_authed`/`invalid_auth`):
  auth.test              team T0001, bot user `fake.bot_user_id` ("UBOT")
  chat.postMessage       channel + text/blocks -> {"ok", "channel", "ts", "message"}
  chat.postEphemeral     channel + user + text/blocks -> {"ok", "message_ts"}
  conversations.info     channel -> {"ok", "channel": {id, name, is_archived, is_member, is_private}}
  views.publish          user_id + view (type "home", <= 100 blocks) -> {"ok", "view"}
  apps.connections.open  -> {"ok", "url": ws://127.0.0.1:<port>/socket}
  files.getUploadURLExternal   filename + length (> 0), optional alt_txt/snippet_type -> {"ok",
                         "upload_url": <fake.url>/upload/<file_id>, "file_id"}; no filename or length:
                         `invalid_arguments`; a token in `fake.no_files_scope`: `missing_scope` (files:write)
  POST /upload/<file_id> the upload step: the raw bytes (or one multipart part) of that file; answers 200
                         "OK - <length>", 404 for an unknown id, 400 when the size is not the length given
                         (recorded as method "upload", params {"file_id", "length"})
  files.completeUploadExternal files (JSON [{"id", "title"}]) + channel_id, optional initial_comment
                         -> {"ok", "files": [{"id", "title", "name", "mimetype", "size", ...}]}; an id not
                         uploaded: `file_not_found`; channel errors as for chat.postMessage. The bytes of
                         each file shared to a channel: `fake.files(channel)` -> list of (name, bytes, comment)
  POST /response/<key>   the response_url sink: records JSON as method "response", answers "ok"

Channels: any id exists, unarchived, with the bot as a member, unless listed in `fake.archived`
(`is_archived`), `fake.missing` (`channel_not_found`) or `fake.not_member` (`not_in_channel`; public
channels still accept posts when the token has chat:write.public, which the fake does not model).

Block Kit checks (chat.postMessage, chat.postEphemeral, views.publish and the response sink), answered
as HTTP 200 `{"ok": false, "error": ...}` (the sink answers 400 with the error as text):
  `invalid_blocks`       more than 50 blocks (100 in a view), an unknown block type, section text
                         over 3000, header text over 150 or not plain_text, context over 10 elements
                         or an element over 2000, actions over 25 elements, button text over 75, a
                         button value over 2000, duplicate block_id or action_id within the message
  `msg_blocks_too_long`  the texts in all blocks together over `fake.max_blocks_text` (11000): Slack's
                         cumulative limit is undocumented (reported rejections from ~11.3k characters)
  `msg_too_long`         top-level `text` over 40000;  `no_text`  neither text nor blocks

Recording: `fake.calls(method=None)` -> list[Call] in arrival order. A Call has `method`, `path`,
`params` (query, form and JSON body merged; `blocks`/`view` sent as JSON strings are decoded),
`headers` (lower-case names), `at` (time.monotonic() on arrival), `status`, `error` (the Slack error
code answered, or None) and `ok`. `fake.accepted(method)` keeps the calls answered with success, and
`fake.messages(channel)` is the params of each accepted chat.postMessage to that channel.
`await fake.wait_for(method, count=1, seconds=5.0)` polls until `count` calls of `method` were
answered (any outcome) and returns them; TimeoutError otherwise.

Failures: `fake.fail_next(method, *, status=200, error=None, retry_after=None, times=1)` makes the next
`times` calls of `method` fail (`fake.clear_failures()` forgets those still queued). `status=429` answers
`{"ok": false, "error": "ratelimited"}` with a `Retry-After` header (`retry_after`, default 1); other
statuses >= 500 answer a text/html error page like Slack's edge does; `error="is_archived"` (HTTP 200)
answers `{"ok": false, "error": "is_archived"}`.

Socket Mode: after apps.connections.open the client opens `/socket`; the fake sends `hello`. Then
`await fake.wait_socket(seconds)` waits for a connection, `await fake.send_envelope(type, payload)`
sends one envelope (returns its envelope_id), and each ack the client sends back is recorded as a
Call with method "socket.ack" (params: the JSON it sent, e.g. {"envelope_id", "payload"}).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes.loopback import LoopbackServer

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 2000
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_MESSAGE_TEXT = 40000
BLOCK_TYPES = frozenset({"section", "header", "context", "actions", "divider", "image", "rich_text", "markdown"})
JSON_PARAMS = ("blocks", "view", "attachments", "files")


@dataclass
class Call:
    """One recorded request."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int = 0  # 0 until answered
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None


def _texts(node: Any) -> list[str]:
    """Every `text` string in a block tree (text objects and plain strings under a "text" key)."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                out.append(value)
            else:
                out.extend(_texts(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_texts(item))
    return out


def check_blocks(blocks: Any, *, max_blocks: int = MAX_BLOCKS, max_text: int = 11000) -> str | None:
    """Return the Slack error code a list of blocks would get, or None when Slack would accept it."""
    if not isinstance(blocks, list) or len(blocks) > max_blocks:
        return "invalid_blocks"
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            return "invalid_blocks"
        if "block_id" in block:
            if block["block_id"] in block_ids:
                return "invalid_blocks"
            block_ids.add(block["block_id"])
        kind = block["type"]
        if kind == "section":
            text = block.get("text") or {}
            if not text.get("text") or len(text["text"]) > MAX_SECTION_TEXT:
                return "invalid_blocks"
        elif kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not text.get("text") or len(text["text"]) > MAX_HEADER_TEXT:
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                return "invalid_blocks"
            if any(len(e.get("text", "")) > MAX_CONTEXT_TEXT for e in elements):
                return "invalid_blocks"
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
                return "invalid_blocks"
            for element in elements:
                action_id = element.get("action_id", "")
                if action_id in action_ids:
                    return "invalid_blocks"
                action_ids.add(action_id)
                label = (element.get("text") or {}).get("text", "")
                if not label or len(label) > MAX_BUTTON_TEXT or len(element.get("value", "")) > MAX_BUTTON_VALUE:
                    return "invalid_blocks"
    if sum(len(t) for t in _texts(blocks)) > max_text:
        return "msg_blocks_too_long"
    return None


class FakeSlack(LoopbackServer):
    """The fake server; see the module docstring for its API."""

    def __init__(self) -> None:
        self.team_id = "T0001"
        self.bot_user_id = "UBOT"
        self.max_blocks_text = 11000
        self.archived: set[str] = set()
        self.missing: set[str] = set()
        self.not_member: set[str] = set()
        self._calls: list[Call] = []
        self._failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._ts = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._envelopes = 0
        self.no_files_scope: set[str] = set()  # bot tokens without files:write
        self._uploads: dict[str, dict[str, Any]] = {}  # file_id -> {"filename", "length", "data", "title"}
        self._shared: dict[str, list[tuple[str, bytes, str]]] = defaultdict(list)

    # -- control --

    def fail_next(self, method: str, *, status: int = 200, error: str | None = None,
                  retry_after: int | None = None, times: int = 1) -> None:
        """Make the next `times` calls of `method` fail (see the module docstring)."""
        if status == 200 and error is None:
            raise ValueError("give a failing status or a Slack error code")
        for _ in range(times):
            self._failures[method].append(Failure(status, error, retry_after))

    def clear_failures(self) -> None:
        """Forget every failure queued with `fail_next` that has not happened yet."""
        self._failures.clear()

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded requests (of `method`, when given), oldest first."""
        return [c for c in self._calls if method is None or c.method == method]

    def accepted(self, method: str = "chat.postMessage") -> list[Call]:
        """The calls of `method` answered with success (what Slack took), oldest first."""
        return [c for c in self._calls if c.method == method and c.ok]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The params of every accepted chat.postMessage to `channel`."""
        return [c.params for c in self.calls("chat.postMessage") if c.ok and c.params.get("channel") == channel]

    def files(self, channel: str) -> list[tuple[str, bytes, str]]:
        """(filename, bytes, initial_comment) of every file shared to `channel` by files.completeUploadExternal."""
        return list(self._shared.get(channel, []))

    def response_url(self, key: str = "1") -> str:
        return f"{self.url}/response/{key}"

    async def wait_for(self, method: str, count: int = 1, seconds: float = 5.0) -> list[Call]:
        """Poll until `count` calls of `method` were answered; raise TimeoutError after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            done = [c for c in self.calls(method) if c.status]
            if len(done) >= count:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)} of {count} {method} calls answered after {seconds}s")
            await asyncio.sleep(0.01)

    async def wait_socket(self, seconds: float = 5.0) -> None:
        """Wait until a Socket Mode client is connected."""
        deadline = time.monotonic() + seconds
        while not any(not ws.closed for ws in self._sockets):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Socket Mode connection after {seconds}s")
            await asyncio.sleep(0.01)

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Send one Socket Mode envelope ("slash_commands", "interactive", "events_api"); return its id."""
        self._envelopes += 1
        envelope_id = f"env-{self._envelopes}"
        ws = next(ws for ws in self._sockets if not ws.closed)
        await ws.send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                            "accepts_response_payload": kind != "events_api", "retry_attempt": 0,
                            "retry_reason": ""})
        return envelope_id

    # -- lifecycle --

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        return app

    async def before_close(self) -> None:
        for ws in self._sockets:
            await ws.close()

    # -- handlers --

    async def _record(self, request: web.Request, method: str) -> Call:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {"_body": body})
            else:
                params.update(dict(await request.post()))
        for key in JSON_PARAMS:
            if isinstance(params.get(key), str):
                try:
                    params[key] = json.loads(params[key])
                except json.JSONDecodeError:
                    pass
        call = Call(method=method, path=request.path, params=params,
                    headers={k.lower(): v for k, v in request.headers.items()}, at=time.monotonic())
        self._calls.append(call)
        return call

    def _answer(self, call: Call, body: dict[str, Any], status: int = 200,
                headers: dict[str, str] | None = None) -> web.Response:
        call.status = status
        if not body.get("ok", False):
            call.error = str(body.get("error", "unknown"))
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    def _token(call: Call) -> str:
        auth = call.headers.get("authorization", "")
        return auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else call.params.get("token", "")

    def _auth_error(self, call: Call, prefix: str) -> str | None:
        token = self._token(call)
        if not token:
            return "not_authed"
        return None if token.startswith(prefix) else "invalid_auth"

    def _channel_error(self, channel: str, *, posting: bool) -> str | None:
        if not channel or channel in self.missing:
            return "channel_not_found"
        if channel in self.archived:
            return "is_archived"
        if posting and channel in self.not_member:
            return "not_in_channel"
        return None

    def _message_error(self, params: dict[str, Any]) -> str | None:
        text, blocks = params.get("text"), params.get("blocks")
        if not text and not blocks:
            return "no_text"
        if text and len(str(text)) > MAX_MESSAGE_TEXT:
            return "msg_too_long"
        if blocks is not None:
            return check_blocks(blocks, max_text=self.max_blocks_text)
        return None

    def _next_ts(self) -> str:
        self._ts += 1
        return f"{1700000000 + self._ts}.{self._ts:06d}"

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        call = await self._record(request, method)
        queue = self._failures.get(method)
        if queue:
            failure = queue.popleft()
            if failure.status == 429:
                retry = str(failure.retry_after if failure.retry_after is not None else 1)
                return self._answer(call, {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": retry})
            if failure.status != 200:
                call.status, call.error = failure.status, f"http_{failure.status}"
                return web.Response(status=failure.status, content_type="text/html",
                                    text="<html><body>Slack is having trouble</body></html>")
            return self._answer(call, {"ok": False, "error": failure.error})
        auth_error = self._auth_error(call, "xapp-" if method == "apps.connections.open" else "xoxb-")
        if auth_error:
            return self._answer(call, {"ok": False, "error": auth_error})
        if method.startswith("files.") and self._token(call) in self.no_files_scope:
            return self._answer(call, {"ok": False, "error": "missing_scope", "needed": "files:write",
                                       "provided": "chat:write,commands"})
        handler = {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.info": self._conversations_info,
            "views.publish": self._views_publish,
            "apps.connections.open": self._connections_open,
        }.get(method)
        if handler is None:
            return self._answer(call, {"ok": False, "error": "unknown_method"})
        return self._answer(call, handler(call.params))

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "arxiv-digest",
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": "BBOT", "is_enterprise_install": False}

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        error = self._channel_error(channel, posting=True) or self._message_error(params)
        if error:
            return {"ok": False, "error": error}
        ts = self._next_ts()
        message = {"type": "message", "user": self.bot_user_id, "ts": ts, "text": params.get("text", ""),
                   "blocks": params.get("blocks", [])}
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        error = self._channel_error(channel, posting=True) or self._message_error(params)
        if not error and not params.get("user"):
            error = "user_not_in_channel"
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "message_ts": self._next_ts()}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if not channel or channel in self.missing:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {"id": channel, "name": f"channel-{channel.lower()}",
                                        "is_archived": channel in self.archived,
                                        "is_member": channel not in self.not_member, "is_private": False}}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not params.get("user_id") or not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        error = check_blocks(view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS, max_text=10**9)
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "view": {"id": "V0001", "type": "home", **view}}

    def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = str(params.get("filename") or ""), str(params.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self._uploads) + 1:08d}"
        self._uploads[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        if request.content_type.startswith("multipart/"):
            part = await (await request.multipart()).next()
            data = await part.read() if isinstance(part, BodyPartReader) else b""
        else:
            data = await request.read()
        call = Call(method="upload", path=request.path, params={"file_id": file_id, "length": len(data)},
                    headers={k.lower(): v for k, v in request.headers.items()}, at=time.monotonic())
        self._calls.append(call)
        upload = self._uploads.get(file_id)
        if upload is None:
            call.status, call.error = 404, "file_not_found"
            return web.Response(status=404, text="Not Found")
        if len(data) != upload["length"]:
            call.status, call.error = 400, "length_mismatch"
            return web.Response(status=400, text="Bad Request")
        upload["data"] = bytes(data)
        call.status = 200
        return web.Response(text=f"OK - {len(data)}")

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            return {"ok": False, "error": "invalid_arguments"}
        if any(self._uploads.get(str(f["id"]), {}).get("data") is None for f in files):
            return {"ok": False, "error": "file_not_found"}
        channel = str(params.get("channel_id") or "")
        error = self._channel_error(channel, posting=True) if channel else None
        if error:
            return {"ok": False, "error": error}
        done = []
        for f in files:
            upload = self._uploads[str(f["id"])]
            title = str(f.get("title") or upload["filename"])
            if channel:
                comment = str(params.get("initial_comment", ""))
                self._shared[channel].append((upload["filename"], upload["data"], comment))
            done.append({"id": f["id"], "title": title, "name": upload["filename"], "size": upload["length"],
                         "mimetype": "image/png" if upload["filename"].endswith(".png") else "application/octet-stream",
                         "channels": [channel] if channel else []})
        return {"ok": True, "files": done}

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}

    async def _response(self, request: web.Request) -> web.StreamResponse:
        call = await self._record(request, "response")
        error = self._message_error(call.params)
        call.status = 400 if error else 200
        call.error = error
        return web.Response(status=call.status, text=error or "ok")

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                            "connection_info": {"app_id": "A0001"}})
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    params = json.loads(msg.data)
                except json.JSONDecodeError:
                    params = {"_raw": msg.data}
                self._calls.append(Call(method="socket.ack", path="/socket", params=params, headers={},
                                        at=time.monotonic(), status=200))
        return ws


@pytest_asyncio.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """Start a FakeSlack for one test and close it afterwards."""
    async with FakeSlack() as fake:
        yield fake
