"""A small headless Chromium driver for tests: the DevTools protocol over its websocket, with aiohttp.

Starts Debian's `chromium` on a throwaway profile with every background service off, bound to
127.0.0.1 on a port it picks itself; collects console errors, uncaught exceptions and failed loads.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0", "--hide-scrollbars",
)
WAIT = 30.0  # seconds: a bound so a broken browser fails the test instead of hanging it


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab, attached over the browser's websocket (flattened sessions)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: str, ids: itertools.count[int]) -> None:
        self.ws = ws
        self.session = session
        self.ids = ids
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.loaded = asyncio.Event()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[msg_id] = future
        await self.ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params,
                                           "sessionId": self.session}))
        reply = await asyncio.wait_for(future, WAIT)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message and message["id"] in self.pending:
            self.pending.pop(message["id"]).set_result(message)
            return
        self.events.append(message)
        if message.get("method") == "Page.loadEventFired":
            self.loaded.set()

    async def open(self, url: str) -> None:
        self.loaded.clear()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self.loaded.wait(), WAIT)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode((await self.send("Page.captureScreenshot", format="png"))["data"])
        _save(path, data)
        return data

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far."""
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(json.dumps(params.get("args", []))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                out.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        return out


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Page]:
    """A headless Chromium with one page attached, its Page, Runtime and Log domains enabled."""
    binary = chromium_path()
    assert binary, "chromium is not installed (apt-get install -y chromium)"
    proc = await asyncio.create_subprocess_exec(
        binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        ws_url = ""
        while not ws_url:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
            line = (await asyncio.wait_for(proc.stderr.readline(), WAIT)).decode()
            assert line, "chromium exited before its DevTools endpoint was up"
            if "DevTools listening on " in line:
                ws_url = line.split("DevTools listening on ", 1)[1].strip()
        drain = asyncio.ensure_future(proc.stderr.read())
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
            ids = itertools.count(1)
            browser = Page(ws, "", ids)

            async def pump() -> None:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        data = json.loads(msg.data)
                        (page if data.get("sessionId") else browser).dispatch(data)

            page = Page(ws, "", ids)
            reader = asyncio.ensure_future(pump())
            try:
                target = await _browser_send(browser, "Target.createTarget", url="about:blank")
                attached = await _browser_send(browser, "Target.attachToTarget", targetId=target["targetId"],
                                               flatten=True)
                page.session = attached["sessionId"]
                for domain in ("Page", "Runtime", "Log"):
                    await page.send(f"{domain}.enable")
                yield page
            finally:
                reader.cancel()
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


async def _browser_send(browser: Page, method: str, **params: Any) -> dict[str, Any]:
    msg_id = next(browser.ids)
    future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    browser.pending[msg_id] = future
    await browser.ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
    reply = await asyncio.wait_for(future, WAIT)
    assert "error" not in reply, reply
    return dict(reply["result"])


def _save(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
