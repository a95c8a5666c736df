"""`serve` with email alone: it starts (no chat platform needed), serves the unsubscribe page on WEB_PORT, and a
one-click POST there unsubscribes the reader; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bot.unsubscribe import unsubscribe_url
from core.models import ChatRef, Subscription
from core.store import Store
from tests.fakes.smtp import FakeSMTP, fake_smtp  # noqa: F401

READER = ChatRef("email", "reader@example.org")


async def test_serve_with_only_email_serves_the_unsubscribe_page_on_web_port(
    tmp_path: Path, fake_smtp: FakeSMTP, unused_tcp_port: int,
) -> None:
    db = tmp_path / "db.sqlite"
    async with Store.open(db) as store:
        await store.save_subscription(Subscription(READER, lang="en"), datetime(2025, 12, 22, tzinfo=UTC))
    smtp = fake_smtp.settings()
    env = {"PATH": os.environ.get("PATH", ""), "ARXIV_DIGEST_DOTENV": "", "NO_PROXY": "127.0.0.1",
           "DATABASE_PATH": str(db), "DIGEST_DIR": str(tmp_path / "digests"), "LOG_LEVEL": "WARNING",
           # a missed scoring run at start-up must stay on this machine: nothing listens there
           "ARXIV_RSS_URL": "http://127.0.0.1:9/rss", "ARXIV_API_URL": "http://127.0.0.1:9/api/query",
           "ARXIV_REQUEST_DELAY": "0", "ARXIV_MAX_TRIES": "1", "WEB_PORT": str(unused_tcp_port), **smtp}
    url = unsubscribe_url(f"http://127.0.0.1:{unused_tcp_port}", smtp["UNSUBSCRIBE_SECRET"], READER)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=env,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                assert proc.returncode is None, (await proc.communicate())[1].decode()[-2000:]
                assert time.monotonic() < deadline, "serve never listened on WEB_PORT"
                try:
                    async with http.get(url) as resp:
                        assert resp.status == 200 and "Unsubscribe reader@example.org" in await resp.text()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with http.post(url, data={"List-Unsubscribe": "One-Click"}) as resp:
                assert resp.status == 200
        async with Store.open(db) as store:
            sub = await store.get_subscription(READER)
        assert sub is not None and not sub.active and sub.lang == "en"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
