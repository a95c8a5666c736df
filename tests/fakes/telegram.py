"""A fake Telegram Bot API server for tests and benchmarks. It never reaches the network.

It binds 127.0.0.1 on port 0, answers the methods the app uses, records every request, validates
what it is sent the way Telegram does, and can be told to fail.

Start it with the fixture (test modules: `from tests.fakes.telegram import fake_telegram  # noqa: F401`)
or by hand (`async with FakeTelegram() as fake: ...`). Point the real client at it:

    bot = Bot(token="123:abc", base_url=fake.api_url)          # fake.api_url == f"{fake.url}/bot"
    Settings.from_env({"TELEGRAM_API_BASE_URL": fake.api_url, "TELEGRAM_BOT_TOKEN": "123:abc", ...})

Wire format: `POST /bot{token}/{method}` (GET works too; method names are case-insensitive), bodies
form-encoded (PTB JSON-encodes every non-string value) or JSON. Known complex fields (`reply_markup`,
`commands`, `allowed_updates`, `link_preview_options`, ...) are `json.loads`-ed into `call.params`;
everything else stays a string, so `call.params["chat_id"] == "42"`. Answers are
`{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description", "parameters"}`.
`fake.token`, when set, is the only token accepted (others get 401 Unauthorized).

Methods: getMe, getUpdates, sendMessage, sendPhoto, editMessageText, editMessageReplyMarkup, answerCallbackQuery,
setMyCommands, getMyCommands, deleteMyCommands, getChatMember, setWebhook, deleteWebhook,
getWebhookInfo, close, logOut. Anything else: 404 "Not Found: method not found".

Validation, as Telegram does it (HTTP 400, description as Telegram words it):
  "Bad Request: message text is empty"           text missing or blank after parsing entities
  "Bad Request: message is too long"             > 4096 UTF-16 code units after parsing entities
  "Bad Request: can't parse entities: ..."       parse_mode HTML with an unknown tag (only b, strong,
      i, em, u, ins, s, strike, del, a, code, pre, tg-spoiler, blockquote, span class="tg-spoiler",
      tg-emoji), tags that do not nest, an unclosed tag, or an `&` that does not start &lt; &gt;
      &amp; &quot; or a numeric entity (`parse_html` is the parser; tests may call it)
  "Bad Request: BUTTON_DATA_INVALID"             callback_data empty or > 64 bytes
  sendPhoto (multipart upload; the bytes are in `call.files["photo"]`, the message's `photo` sizes read
  from the PNG's IHDR): "Bad Request: there is no photo in the request" (no file and no file_id/URL),
  "Bad Request: IMAGE_PROCESS_FAILED" (not a PNG or JPEG), "Bad Request: PHOTO_INVALID_DIMENSIONS" (width
  + height over 10000 or a side ratio over 20), "Bad Request: message caption is too long" (caption over
  1024 UTF-16 units), 400 "Request Entity Too Large" over 10 MB; `fake.no_photos` holds chats where the
  bot may not post photos ("Bad Request: not enough rights to send photos to the chat")
  "Bad Request: reply markup is too long"        more than 100 inline buttons
  "Bad Request: message to edit not found" / "message is not modified: ..."   on edits
  "Bad Request: query is too old and response timeout expired or query ID is invalid"
      answerCallbackQuery for an id never pushed, or answered twice
  409 "Conflict: can't use getUpdates method while webhook is active; ..."

Recording: `fake.calls("sendMessage")` -> list[Call] in arrival order (all calls without a method);
`fake.accepted("sendMessage")` only those answered with success.
A Call has `method`, `params`, `files` (uploaded bytes by field name), `token`, `headers`, `status`
(None until answered), `result` (the `result` on success), `description` (on failure), `at` (monotonic
time), `wall` (time.time() on arrival, for counting sends per Unix second) and `text` (params["text"]).
`await fake.wait_for("sendMessage", count=2, timeout=5, chat_id="42")` polls until that many calls
matching the params filter were answered (any status), then returns them; TimeoutError otherwise.
`fake.messages(chat_id)` -> the messages the bot sent there (dicts as Telegram returns them, after
edits), `fake.last_message(chat_id)`.

Inbound updates (served by getUpdates, which honours `offset`, `limit` and `allowed_updates`, and
waits for a new update for at most min(timeout, `fake.poll_wait` = 0.2 s) when none is pending):
  fake.push(update) -> update                  any update dict; `update_id` is assigned when missing
  fake.push_command(chat_id, text, chat_type="private"|"group"|"supergroup"|"channel", user_id=...,
                    language_code="en", username=None) -> update
                    a message (a `channel_post` in channels, sent by the channel) with a bot_command
                    entity when `text` starts with "/"; `fake.message_update(...)` builds one without
                    pushing it (for webhook posts)
  fake.push_callback(chat_id, data, user_id=..., message_id=None, chat_type=None, language_code="en")
                    -> callback query id; the message defaults to the last one the bot sent there
  fake.push_migration(old_chat_id, new_chat_id)   the two service messages Telegram sends when a
                    group becomes a supergroup (migrate_to_chat_id, then migrate_from_chat_id)
  fake.push_my_chat_member(chat_id, new_status="kicked", old_status="member", chat_type=None)
Chats are registered by the push helpers (or `fake.add_chat(chat_id, chat_type)`); an unknown id is
a private chat when positive, a supergroup when it starts with -100, else a group.

getChatMember: `fake.set_member(chat_id, user_id, "administrator"|"creator"|"member"|"restricted"|
"left"|"kicked")`; everyone else is a "member".

Failures:
  fake.fail_next(method, status=429, retry_after=1, description=None, migrate_to_chat_id=None,
                 times=1, chat_id=None, delay=0.0)
      the next `times` calls of `method` (for `chat_id` only, when given) fail. Defaults per status:
      400 "Bad Request: chat not found" (with migrate_to_chat_id: "Bad Request: group chat was
      upgraded to a supergroup chat" + parameters.migrate_to_chat_id), 401 "Unauthorized",
      403 "Forbidden: bot was blocked by the user", 429 "Too Many Requests: retry after N" +
      parameters.retry_after, 500 "Internal Server Error", 502 an HTML (non-JSON) body like nginx.
      `delay` waits before answering (past the client's read timeout it becomes a TimedOut).
  fake.block(chat_id, description=...)    every later send to that chat answers 403
  fake.forget(chat_id)                    every later send to that chat answers 400 chat not found
Throughput: `fake.rate_limit = 30` (messages per second, all chats) and `fake.chat_rate_limit = 1`
(per chat) answer 429 with retry_after when exceeded (both off by default; they count sendMessage
and edits). `fake.delay` adds latency to every answer. `fake.max_in_flight` is the most requests
handled at once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import web

from tests.fakes.loopback import LoopbackServer

MAX_TEXT_UTF16 = 4096
MAX_CAPTION_UTF16 = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_CALLBACK_DATA = 64
MAX_BUTTONS = 100
ALLOWED_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
    "blockquote", "span", "tg-emoji",
})
ENTITY_TYPE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "a": "text_link",
    "code": "code", "pre": "pre", "tg-spoiler": "spoiler", "span": "spoiler", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
JSON_FIELDS = frozenset({
    "reply_markup", "commands", "allowed_updates", "link_preview_options", "reply_parameters", "scope",
    "entities", "caption_entities", "media", "results", "options", "reaction",
})
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "editmessagetext", "editmessagereplymarkup"})
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_TAG_RE = re.compile(r"([A-Za-z][A-Za-z0-9-]*)(.*)", re.DOTALL)
_ATTR_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?")
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")
_BAD_GATEWAY = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"  # noqa: E501


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts message length and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    """HTML that Telegram would refuse; the message is the part after "can't parse entities: "."""


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entities(text: str, start: int, source: str) -> str:
    """Decode &...; entities in an attribute value or text run; a stray `&` is an error."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "&":
            out.append(text[i])
            i += 1
            continue
        m = _ENTITY_RE.match(text, i)
        code = None
        if m and m[1]:
            out.append(_NAMED_ENTITIES[m[1]])
        elif m:
            code = int(m[2]) if m[2] else int(m[3], 16)
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                m = None
            else:
                out.append(chr(code))
        if not m:
            raise EntityParseError(
                f"Unsupported HTML entity or unescaped \"&\" at byte offset {_byte_offset(source, start + i)}"
            )
        i = m.end()
    return "".join(out)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities) or raise EntityParseError. Offsets are UTF-16."""
    plain: list[str] = []
    length = 0  # UTF-16 units emitted so far
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        lt = text.find("<", i)
        run_end = len(text) if lt == -1 else lt
        if run_end > i:
            run = _decode_entities(text[i:run_end], i, text)
            plain.append(run)
            length += utf16_len(run)
            i = run_end
            continue
        gt = text.find(">", lt)
        if gt == -1:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, lt)}")
        inner = text[lt + 1 : gt]
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(text, lt)}")
            open_name, start, attrs = stack.pop()
            if name != open_name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, lt)}, expected \"</{open_name}>\", "
                    f"found \"</{name}>\""
                )
            if length > start:
                entity: dict[str, Any] = {"type": ENTITY_TYPE[open_name], "offset": start, "length": length - start}
                if open_name == "a":
                    if "href" not in attrs:
                        entity = {}
                    else:
                        entity["url"] = attrs["href"]
                if open_name == "blockquote" and "expandable" in attrs:
                    entity["type"] = "expandable_blockquote"
                if entity:
                    entities.append(entity)
        else:
            m = _TAG_RE.fullmatch(inner)
            if not m:
                raise EntityParseError(f"Empty tag name at byte offset {_byte_offset(text, lt)}")
            name = m[1].lower()
            if name not in ALLOWED_TAGS:
                raise EntityParseError(f"Unsupported start tag \"{name}\" at byte offset {_byte_offset(text, lt)}")
            attrs = _parse_attrs(m[2], lt + 1 + len(m[1]), text)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise EntityParseError(f"Tag \"span\" must have class \"tg-spoiler\" at byte offset "
                                       f"{_byte_offset(text, lt)}")
            stack.append((name, length, attrs))
        i = gt + 1
    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag \"{stack[-1][0]}\"")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def _parse_attrs(raw: str, start: int, source: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pos = 0
    raw = raw.rstrip("/")
    while pos < len(raw):
        if not raw[pos:].strip():
            break
        m = _ATTR_RE.match(raw, pos)
        if not m or m.end() == pos:
            raise EntityParseError(f"Invalid attribute at byte offset {_byte_offset(source, start + pos)}")
        value = next((g for g in (m[2], m[3], m[4]) if g is not None), "")
        attrs[m[1].lower()] = _decode_entities(value, start + m.start(), source)
        pos = m.end()
    return attrs


@dataclass
class Call:
    """One recorded request."""

    method: str
    params: dict[str, Any]
    token: str
    headers: dict[str, str]
    at: float
    status: int | None = None
    result: Any = None
    description: str = ""
    files: dict[str, bytes] = field(default_factory=dict)  # multipart uploads: field name -> bytes
    wall: float = 0.0  # time.time() on arrival: Unix seconds, as several sending processes count them

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))


@dataclass
class Failure:
    status: int
    description: str | None
    retry_after: int | None
    migrate_to_chat_id: int | None
    chat_id: str | None
    delay: float
    times: int


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters or {}


@dataclass
class _Window:
    """Timestamps of accepted messages in the last second, for the optional rate limits."""

    stamps: deque[float] = field(default_factory=deque)

    def retry_after(self, limit: float, now: float) -> int | None:
        while self.stamps and now - self.stamps[0] >= 1.0:
            self.stamps.popleft()
        if len(self.stamps) >= limit:
            return max(1, math.ceil(1.0 - (now - self.stamps[0])))
        self.stamps.append(now)
        return None


class FakeTelegram(LoopbackServer):
    """The fake Bot API; see the module docstring for its API."""

    def __init__(self, token: str | None = None, username: str = "digest_test_bot") -> None:
        self.token = token
        self.username = username
        self.bot_id = 7000001
        self.poll_wait = 0.2
        self.delay = 0.0
        self.rate_limit: float | None = None
        self.chat_rate_limit: float | None = None
        self.webhook: dict[str, Any] = {}
        self.commands_menu: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.confirmed_offset = 0
        self._calls: list[Call] = []
        self._failures: dict[str, list[Failure]] = defaultdict(list)
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._closing = asyncio.Event()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._chats: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self._members: dict[tuple[str, str], str] = {}
        self._open_callbacks: set[str] = set()
        self._blocked: dict[str, str] = {}
        self.no_photos: set[str] = set()  # chats where the bot may not post photos
        self._forgotten: set[str] = set()
        self._global_window = _Window()
        self._chat_windows: dict[str, _Window] = defaultdict(_Window)

    @property
    def api_url(self) -> str:
        """The base URL for PTB (`Bot(base_url=...)`, TELEGRAM_API_BASE_URL): the token is appended."""
        return f"{self.url}/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Digest Test Bot", "username": self.username}

    # -- recording --

    def calls(self, method: str | None = None) -> list[Call]:
        """Return the recorded requests (of `method`, case-insensitive), oldest first."""
        if method is None:
            return list(self._calls)
        return [c for c in self._calls if c.method.lower() == method.lower()]

    def accepted(self, method: str = "sendMessage") -> list[Call]:
        """The calls of `method` answered with success (what the platform took), oldest first."""
        return [c for c in self._calls if c.status == 200 and c.method.lower() == method.lower()]

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0, **match: Any  # noqa: ASYNC109 (a poll deadline)
    ) -> list[Call]:
        """Poll until `count` answered calls of `method` whose params match `match` exist; return them."""
        deadline = time.monotonic() + timeout
        while True:
            done = [c for c in self.calls(method) if c.status is not None
                    and all(str(c.params.get(k)) == str(v) for k, v in match.items())]
            if len(done) >= count:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)} of {count} {method} calls matching {match} after {timeout}s")
            await asyncio.sleep(0.01)

    def messages(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The messages the bot sent to a chat, in order, as they are now (after edits)."""
        return list(self._messages[str(chat_id)].values())

    def last_message(self, chat_id: int | str) -> dict[str, Any] | None:
        sent = self.messages(chat_id)
        return sent[-1] if sent else None

    # -- control --

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
        chat_id: int | str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next `times` calls of `method` (to `chat_id`, when given) fail; see the module docstring."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures[method.lower()].append(Failure(
            status, description, retry_after, migrate_to_chat_id, None if chat_id is None else str(chat_id),
            delay, times,
        ))

    def block(self, chat_id: int | str, description: str = "Forbidden: bot was blocked by the user") -> None:
        """Answer every later send to this chat with 403."""
        self._blocked[str(chat_id)] = description

    def forget(self, chat_id: int | str) -> None:
        """Answer every later send to this chat with 400 chat not found."""
        self._forgotten.add(str(chat_id))

    def set_member(self, chat_id: int | str, user_id: int | str, status: str) -> None:
        """Set what getChatMember says for a user in a chat."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}; known: {sorted(MEMBER_STATUSES)}")
        self._members[(str(chat_id), str(user_id))] = status

    def add_chat(self, chat_id: int | str, chat_type: str | None = None, title: str | None = None) -> dict[str, Any]:
        """Register (or look up) a chat; returns its Chat dict."""
        key = str(chat_id)
        if key in self._chats and chat_type is None:
            return self._chats[key]
        if chat_type is None:
            chat_type = "private" if not key.startswith("-") else "supergroup" if key.startswith("-100") else "group"
        chat: dict[str, Any] = {"id": int(chat_id), "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = title or "Reader"
        else:
            chat["title"] = title or f"Test {chat_type} {key}"
        self._chats[key] = chat
        return chat

    # -- inbound updates --

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; assigns `update_id` when missing."""
        update.setdefault("update_id", next(self._update_ids))
        self._updates.append(update)
        self._new_update.set()
        return update

    def _user(self, user_id: int, language_code: str | None, username: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            user["language_code"] = language_code
        if username:
            user["username"] = username
        return user

    def message_update(
        self,
        chat_id: int | str,
        text: str,
        *,
        chat_type: str | None = None,
        user_id: int | None = None,
        language_code: str | None = "en",
        username: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Build (without queueing) an update carrying a message; a `channel_post` in a channel."""
        chat = self.add_chat(chat_id, chat_type)
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat}
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        else:
            uid = user_id if user_id is not None else (chat["id"] if chat["type"] == "private" else 1001)
            message["from"] = self._user(uid, language_code, username)
        if text:
            message["text"] = text
            command = _COMMAND_RE.match(text)
            if command:
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command[0])}]
        message.update(extra)
        kind = "channel_post" if chat["type"] == "channel" else "message"
        return {"update_id": next(self._update_ids), kind: message}

    def push_command(self, chat_id: int | str, text: str, **options: Any) -> dict[str, Any]:
        """Queue a message (a command when `text` starts with "/"); options as for `message_update`."""
        return self.push(self.message_update(chat_id, text, **options))

    def push_callback(
        self,
        chat_id: int | str,
        data: str,
        *,
        user_id: int | None = None,
        message_id: int | None = None,
        chat_type: str | None = None,
        language_code: str | None = "en",
    ) -> str:
        """Queue a button press on a message the bot sent (default: its last one there); returns the query id."""
        chat = self.add_chat(chat_id, chat_type)
        sent = self._messages[str(chat_id)]
        if message_id is None:
            if not sent:
                raise ValueError(f"the bot sent nothing to {chat_id} yet; pass message_id")
            message_id = max(sent)
        message = sent.get(message_id) or {"message_id": message_id, "date": int(time.time()), "chat": chat,
                                           "from": self.bot_user, "text": "?"}
        query_id = str(next(self._callback_ids))
        self._open_callbacks.add(query_id)
        uid = user_id if user_id is not None else (chat["id"] if chat["type"] == "private" else 1001)
        self.push({"callback_query": {
            "id": query_id, "from": self._user(uid, language_code, None), "chat_instance": f"ci{chat_id}",
            "message": message, "data": data,
        }})
        return query_id

    def push_migration(self, old_chat_id: int | str, new_chat_id: int | str) -> None:
        """Queue the two service messages of a group that became a supergroup."""
        self.add_chat(old_chat_id, "group")
        self.add_chat(new_chat_id, "supergroup")
        self.push(self.message_update(old_chat_id, "", migrate_to_chat_id=int(new_chat_id)))
        self.push(self.message_update(new_chat_id, "", migrate_from_chat_id=int(old_chat_id)))

    def push_my_chat_member(
        self,
        chat_id: int | str,
        new_status: str = "kicked",
        *,
        old_status: str = "member",
        chat_type: str | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a my_chat_member update: the bot's own status in a chat changed (blocked, removed, added)."""
        chat = self.add_chat(chat_id, chat_type)
        uid = user_id if user_id is not None else (chat["id"] if chat["type"] == "private" else 1001)
        now = int(time.time())
        return self.push({"my_chat_member": {
            "chat": chat, "from": self._user(uid, None, None), "date": now,
            "old_chat_member": _member(self.bot_user, old_status),
            "new_chat_member": _member(self.bot_user, new_status),
        }})

    # -- lifecycle --

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def before_close(self) -> None:
        self._closing.set()
        self._new_update.set()

    # -- dispatch --

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, token, {k.lower(): v for k, v in request.headers.items()}, time.monotonic(),
                    files=files, wall=time.time())
        self._calls.append(call)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await self._sleep(self.delay)
            if self.token is not None and token != self.token:
                raise ApiError(401, "Unauthorized")
            failure = self._take_failure(call)
            if failure is not None:
                if failure.delay:
                    await self._sleep(failure.delay)
                if failure.status == 502:
                    call.status, call.description = 502, "Bad Gateway"
                    return web.Response(status=502, text=_BAD_GATEWAY, content_type="text/html")
                raise _failure_error(failure)
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await (handler(call.params, call.files) if method.lower() == "sendphoto" else handler(call.params))
            call.status, call.result = 200, result
            return web.json_response({"ok": True, "result": result})
        except ApiError as exc:
            call.status, call.description = exc.status, exc.description
            body: dict[str, Any] = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            return web.json_response(body, status=exc.status)
        finally:
            self.in_flight -= 1

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    def _take_failure(self, call: Call) -> Failure | None:
        queue = self._failures.get(call.method.lower(), [])
        chat_id = str(call.params.get("chat_id", ""))
        for failure in queue:
            if failure.chat_id is None or failure.chat_id == chat_id:
                failure.times -= 1
                if failure.times <= 0:
                    queue.remove(failure)
                return failure
        return None

    def _check_chat(self, params: dict[str, Any], method: str) -> dict[str, Any]:
        chat_id = str(params.get("chat_id", "")).strip()
        if not chat_id:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if chat_id in self._forgotten:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, self._blocked[chat_id])
        if method in SEND_METHODS:
            now = time.monotonic()
            wait = self._global_window.retry_after(self.rate_limit, now) if self.rate_limit else None
            if wait is None and self.chat_rate_limit:
                wait = self._chat_windows[chat_id].retry_after(self.chat_rate_limit, now)
            if wait is not None:
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        return self.add_chat(chat_id)

    # -- methods --

    async def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                                "to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates") or None
        if offset > 0:
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

        def pending() -> list[dict[str, Any]]:
            found = [u for u in self._updates if u["update_id"] >= offset]
            if allowed:
                found = [u for u in found if any(k in allowed for k in u if k != "update_id")]
            return found[:limit]

        found = pending()
        if not found and timeout > 0 and not self._closing.is_set():
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), min(timeout, self.poll_wait))
            except TimeoutError:
                pass
            found = pending()
        return found

    def _check_text(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        raw = str(params.get("text", ""))
        if params.get("parse_mode", "").upper() == "HTML":
            try:
                plain, entities = parse_html(raw)
            except EntityParseError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif params.get("parse_mode"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode {params['parse_mode']!r} in the fake")
        else:
            plain, entities = raw, []
        stripped = plain.strip()
        if not stripped:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(stripped) > MAX_TEXT_UTF16:
            raise ApiError(400, "Bad Request: message is too long")
        return plain, entities

    @staticmethod
    def _check_markup(params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return markup if isinstance(markup, dict) else None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup should be an "
                                "Array of Arrays")
        if sum(len(r) for r in rows) > MAX_BUTTONS:
            raise ApiError(400, "Bad Request: reply markup is too long")
        for row in rows:
            for button in row:
                if not str(button.get("text", "")).strip():
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text buttons are "
                                        "unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text buttons are "
                                        "unallowed in the inline keyboard")
        return markup

    async def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._check_chat(params, "sendmessage")
        plain, entities = self._check_text(params)
        markup = self._check_markup(params)
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                                   "from": self.bot_user, "text": plain}
        if entities:
            message["entities"] = entities
        if markup:
            message["reply_markup"] = markup
        self._messages[str(chat["id"])][message["message_id"]] = message
        return message

    async def _m_sendphoto(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat = self._check_chat(params, "sendphoto")
        if str(chat["id"]) in self.no_photos:
            raise ApiError(400, "Bad Request: not enough rights to send photos to the chat")
        data = files.get("photo")
        if data is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if len(data) > MAX_PHOTO_BYTES:
            raise ApiError(400, "Request Entity Too Large")
        size = image_size(data)
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        caption = str(params.get("caption", ""))
        if utf16_len(caption) > MAX_CAPTION_UTF16:
            raise ApiError(400, "Bad Request: message caption is too long")
        file_id = f"AgAC{next(self._message_ids):06d}"
        sizes = [(w, h) for w, h in ((90 * width // max(width, height), 90 * height // max(width, height)),
                                     (320 * width // max(width, height), 320 * height // max(width, height)))
                 if max(w, h) < max(width, height)] + [(width, height)]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": self.bot_user,
            "photo": [{"file_id": f"{file_id}-{i}", "file_unique_id": f"{file_id}u{i}", "width": w, "height": h,
                       "file_size": len(data) * (i + 1) // len(sizes)} for i, (w, h) in enumerate(sizes)],
        }
        if caption:
            message["caption"] = caption
        self._messages[str(chat["id"])][message["message_id"]] = message
        return message

    def _find_message(self, params: dict[str, Any], method: str) -> dict[str, Any]:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat = self._check_chat(params, method)
        message = self._messages[str(chat["id"])].get(int(params.get("message_id") or 0))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    async def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find_message(params, "editmessagetext")
        plain, entities = self._check_text(params)
        markup = self._check_markup(params)
        if plain == message["text"] and entities == message.get("entities", []) \
                and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        message.update(text=plain, edit_date=int(time.time()))
        message.pop("entities", None)
        message.pop("reply_markup", None)
        if entities:
            message["entities"] = entities
        if markup:
            message["reply_markup"] = markup
        return message

    async def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find_message(params, "editmessagereplymarkup")
        markup = self._check_markup(params)
        if markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return message

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_callbacks:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        return True

    @staticmethod
    def _menu_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code", ""))

    async def _m_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands_menu[self._menu_key(params)] = commands
        return True

    async def _m_getmycommands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands_menu.get(self._menu_key(params), [])

    async def _m_deletemycommands(self, params: dict[str, Any]) -> bool:
        self.commands_menu.pop(self._menu_key(params), None)
        return True

    async def _m_getchatmember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = str(params.get("chat_id", ""))
        if chat_id in self._forgotten:
            raise ApiError(400, "Bad Request: chat not found")
        user_id = str(params.get("user_id", ""))
        if not user_id.lstrip("-").isdigit():
            raise ApiError(400, "Bad Request: invalid user_id specified")
        status = self._members.get((chat_id, user_id), "member")
        user = {"id": int(user_id), "is_bot": False, "first_name": f"User{user_id}"}
        return _member(user, status)

    async def _m_setwebhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url", ""))
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": url, "secret_token": secret, "max_connections": params.get("max_connections"),
                        "allowed_updates": params.get("allowed_updates")} if url else {}
        return True

    async def _m_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._updates.clear()
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def _m_close(self, params: dict[str, Any]) -> bool:
        return True

    async def _m_logout(self, params: dict[str, Any]) -> bool:
        return True


def _member(user: dict[str, Any], status: str) -> dict[str, Any]:
    """A ChatMember dict with every field PTB requires for that status."""
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(dict.fromkeys((
            "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
            "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
            "can_post_stories", "can_edit_stories", "can_delete_stories",
        ), False))
        member["can_manage_chat"] = True
    elif status == "restricted":
        member.update(dict.fromkeys((
            "is_member", "can_change_info", "can_invite_users", "can_pin_messages", "can_send_messages",
            "can_send_polls", "can_send_other_messages", "can_add_web_page_previews", "can_manage_topics",
            "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos", "can_send_video_notes",
            "can_send_voice_notes",
        ), False))
        member["until_date"] = 0
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _failure_error(failure: Failure) -> ApiError:
    parameters: dict[str, Any] = {}
    if failure.migrate_to_chat_id is not None:
        parameters["migrate_to_chat_id"] = failure.migrate_to_chat_id
        default = "Bad Request: group chat was upgraded to a supergroup chat"
    elif failure.status == 429:
        parameters["retry_after"] = failure.retry_after
        default = f"Too Many Requests: retry after {failure.retry_after}"
    else:
        default = {400: "Bad Request: chat not found", 401: "Unauthorized",
                   403: "Forbidden: bot was blocked by the user", 500: "Internal Server Error"}.get(
            failure.status, f"Error {failure.status}")
    return ApiError(failure.status, failure.description or default, parameters)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
        params.update(body if isinstance(body, dict) else {})
        return params, files
    if request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            else:  # an uploaded file: its name in params, its bytes in files
                params[key] = value.filename
                files[key] = value.file.read()
    for key in JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass
    return params, files


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG (from its IHDR) or a baseline JPEG (from its SOF0), else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        at = data.find(b"\xff\xc0")
        if at > 0:
            return int.from_bytes(data[at + 7:at + 9], "big"), int.from_bytes(data[at + 5:at + 7], "big")
    return None


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """Start a FakeTelegram for one test and close it afterwards."""
    async with FakeTelegram() as fake:
        yield fake
