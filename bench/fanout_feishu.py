"""Benchmark (not a test): one `arxiv-digest deliver` process fanning the sample day out to Feishu groups.

Each subscriber is its own custom bot webhook on the fake of tests/fakes/feishu.py (run in this process),
half of them with signature verification on, with varied thresholds, languages and fields. The real
FeishuSender (aiohttp, signed requests, 4 cards a second and 90 a minute per webhook) posts the cards;
the pass runs as `python -m bot deliver --force` in a child process, so its CPU time and peak memory are
the service's alone. Reports cards a second, CPU per card, peak RSS, the fake's refusals (rate limit,
signature, card checks: target 0), and that every group got each of its cards exactly once.
bench/fanout.py measures Telegram and Slack; the passes share nothing but the store.

Run: `.venv/bin/python bench/fanout_feishu.py [--subscribers N]` (1,000 take about half a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import Settings  # noqa: E402
from core.models import ChatRef, Subscription  # noqa: E402
from core.store import Store  # noqa: E402
from tests.fakes.feishu import FakeFeishu  # noqa: E402
from tests.samples import scored_sample  # noqa: E402

NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
THRESHOLDS = (4.0, 5.0, 5.5, 6.0, 6.5)


async def bench(n: int, seed: int) -> None:
    rng = random.Random(seed)
    fake = await FakeFeishu().start()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_PATH": str(Path(tmp) / "db.sqlite"), "LOG_LEVEL": "WARNING"}
        async with scored_sample(Settings.from_env(env), NOW) as services:
            slugs = [f.slug for f in services.fields]
            for i in range(n):
                secret = f"secret-{i:05d}" if i % 2 else None
                chat = ChatRef("feishu", fake.add_hook(secret))
                fields = tuple(sorted(rng.sample(slugs, rng.randint(2, len(slugs))))) if rng.random() < 0.3 else ()
                await services.store.save_subscription(
                    Subscription(chat, min_score=rng.choice(THRESHOLDS), lang=rng.choice(("zh", "en")), fields=fields),
                    NOW)
                await services.store.save_webhook_secret(chat, secret, NOW)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "deliver", "--force", cwd=tmp,
            env={"PATH": os.environ.get("PATH", ""), "ARXIV_DIGEST_DOTENV": "", "NO_PROXY": "127.0.0.1", **env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await proc.communicate()
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        async with Store.open(env["DATABASE_PATH"]) as store:
            ledger = await store.deliveries_for_day(NOW.date())
    await fake.close()
    if proc.returncode != 0:
        raise SystemExit(f"deliver failed: {err.decode()[-2000:]}")
    calls = fake.calls()
    accepted = [c for c in calls if c.code == 0]
    refused = Counter(c.code for c in calls if c.code != 0)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    per_hook = Counter(c.token for c in accepted)
    parts = {chat.chat_id.rsplit("/", 1)[1]: row.parts_sent for chat, row in ledger.items() if row.state == "sent"}
    print(out.decode().strip())
    print(f"feishu fan-out: {n} webhooks, {len(accepted)} cards in {seconds:.1f} s ({len(accepted) / seconds:.0f}/s), "
          f"{len(accepted) / max(1, len(per_hook)):.1f} cards per digest, largest body "
          f"{max((c.size for c in accepted), default=0):,} bytes")
    print(f"  deliver process: {1000 * cpu / max(1, len(accepted)):.1f} ms CPU per card "
          f"(start-up included), peak RSS {after.ru_maxrss / 1024:.0f} MB")
    print(f"  refused by the fake: {dict(refused) or 'none'}")
    print(f"  every group each card once: {per_hook == Counter(parts) and len(parts) == len(ledger)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    asyncio.run(bench(args.subscribers, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
