"""The static site inside `serve`: an aiohttp server over the site folder, rebuilt after each scoring run.

Owns the web server's lifecycle and the rebuild; what the site holds is core/build/site.py's and
writing it is bot/site.py's. Serves files only (no directory listings, nothing outside the folder).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from bot.site import build_site
from core.errors import DigestError
from core.services import Services

log = logging.getLogger(__name__)
# A stop waits this long for requests under way (aiohttp's default is 60 s): the site's answers are small files
# and one-click unsubscribes, and a service manager's stop timeout (systemd: 90 s) must cover the whole stop.
SHUTDOWN_SECONDS = 5.0

_TYPES = {".xml": "application/atom+xml; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml"}


def site_dir(services: Services) -> Path:
    """Where `serve` keeps the site it serves: DIGEST_DIR/site."""
    return services.settings.digest_dir / "site"


def build_app(root: Path, mounts: Mapping[str, web.Application] | None = None) -> web.Application:
    """An aiohttp app serving `root`: `/` is index.html; any other path a file under it, else 404.

    `mounts` are sub-apps by path prefix (e.g. /unsubscribe), matched before the site's files.
    """
    root = root.resolve()

    async def serve_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("path", "") or "index.html"
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise web.HTTPNotFound()
        headers = {"Content-Type": _TYPES.get(path.suffix, "application/octet-stream"),
                   "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return web.FileResponse(path, headers=headers)

    app = web.Application()
    for prefix, sub in (mounts or {}).items():
        app.add_subapp(prefix, sub)
    app.router.add_get("/", serve_file)
    app.router.add_get("/{path:.+}", serve_file)
    return app


class SiteServer:
    """The site folder served on WEB_HOST:WEB_PORT; `rebuild()` rewrites it from the store."""

    def __init__(
        self, services: Services, *, root: Path | None = None, mounts: Mapping[str, web.Application] | None = None,
    ) -> None:
        self.services = services
        self.root = root or site_dir(services)
        self.mounts = dict(mounts or {})
        self._runner: web.AppRunner | None = None
        self.port = 0  # the bound port once started (WEB_PORT, or the one the OS chose for 0 in tests)

    async def rebuild(self) -> None:
        """Rewrite the site from the store; a failure is logged and the old files stay served."""
        try:
            summary = await build_site(self.services, self.root, lang=self.services.settings.digest_language)
        except (DigestError, OSError) as exc:
            log.error("site rebuild failed: %s", exc)
            return
        log.info("%s", summary)

    async def start(self, port: int | None = None) -> None:
        await self.rebuild()
        settings = self.services.settings
        self._runner = web.AppRunner(build_app(self.root, self.mounts), access_log=None,
                                     shutdown_timeout=SHUTDOWN_SECONDS)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.web_host, settings.web_port if port is None else port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else settings.web_port
        log.info("serving the site from %s on http://%s:%d/", self.root, settings.web_host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            log.info("the site server has stopped")
