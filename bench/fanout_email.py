"""Benchmark (not a test): one `arxiv-digest deliver` process fanning the sample day out to email subscribers.

Subscribers have varied thresholds, languages and fields. The real EmailSender (aiosmtplib, its pool
of 4 reused connections) talks to the aiosmtpd server of tests/fakes/smtp.py, which runs in this process;
the pass runs as `python -m bot deliver --force` in a child process, so its CPU time and peak memory are
the service's alone. Reports messages a second, CPU per message, peak RSS, and that every address got
exactly one message. bench/fanout.py measures Telegram and Slack; the two passes share nothing but the
store, so a mixed day costs about the sum.

Run: `.venv/bin/python bench/fanout_email.py [--subscribers N]` (1,000 take about half a minute).
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
from tests.fakes.smtp import FakeSMTP  # noqa: E402
from tests.samples import scored_sample  # noqa: E402

NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
THRESHOLDS = (4.0, 5.0, 5.5, 6.0, 6.5)


async def bench(n: int, seed: int) -> None:
    rng = random.Random(seed)
    server = await FakeSMTP().start()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_PATH": str(Path(tmp) / "db.sqlite"), "LOG_LEVEL": "WARNING", **server.settings()}
        async with scored_sample(Settings.from_env(env), NOW) as services:
            slugs = [f.slug for f in services.fields]
            for i in range(n):
                fields = tuple(sorted(rng.sample(slugs, rng.randint(2, len(slugs))))) if rng.random() < 0.3 else ()
                sub = Subscription(ChatRef("email", f"reader{i:05d}@example.org"), min_score=rng.choice(THRESHOLDS),
                                   lang=rng.choice(("zh", "en")), fields=fields)
                await services.store.save_subscription(sub, NOW)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "deliver", "--force", cwd=tmp,
            env={"PATH": os.environ.get("PATH", ""), "ARXIV_DIGEST_DOTENV": "", "NO_PROXY": "127.0.0.1", **env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await proc.communicate()
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    await server.close()
    if proc.returncode != 0:
        raise SystemExit(f"deliver failed: {err.decode()[-2000:]}")
    got = Counter(r.rcpt_to[0] for r in server.received)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(out.decode().strip())
    print(f"email fan-out: {n} subscribers, {len(server.received)} messages in {seconds:.1f} s "
          f"({len(server.received) / seconds:.0f}/s) over {server.connections} SMTP connections")
    print(f"  deliver process: {1000 * cpu / max(1, len(server.received)):.1f} ms CPU per message "
          f"(start-up included), peak RSS {after.ru_maxrss / 1024:.0f} MB")
    everyone = {f"reader{i:05d}@example.org" for i in range(n)}
    print(f"  every address one message: {set(got) == everyone and max(got.values()) == 1}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    asyncio.run(bench(args.subscribers, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
