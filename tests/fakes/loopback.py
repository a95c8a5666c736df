"""The lifecycle every fake server shares: an aiohttp app on 127.0.0.1, port 0, started and closed.

A fake subclasses `LoopbackServer`, builds its routes in `build_app`, releases anything it holds
(stalled handlers, websockets) in `before_close`, and is used as `async with Fake() as fake:` or
with `await fake.start()` / `await fake.close()`. `fake.url` is `http://127.0.0.1:<port>`.
"""

from __future__ import annotations

from typing import Self

from aiohttp import web


class LoopbackServer:
    """Serve `build_app()` on 127.0.0.1 at a port the OS picks."""

    url: str = ""
    _runner: web.AppRunner | None = None

    def build_app(self) -> web.Application:
        raise NotImplementedError

    async def before_close(self) -> None:
        """Release what handlers may be waiting on, before the server stops."""

    async def start(self) -> Self:
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        await self.before_close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
