"""A `deliver` process killed with SIGKILL during a delivery to 100 email addresses, twice, then run again:
no address is left without its digest, and the only duplicates are messages the SMTP server accepted
while the ledger had not yet recorded them (counted from the server and the ledger at each kill)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.config import Settings
from core.models import ChatRef, Subscription
from core.store import Store
from tests.fakes.smtp import FakeSMTP, fake_smtp  # noqa: F401
from tests.samples import scored_sample

DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
ADDRESSES = [f"reader{i:03d}@example.org" for i in range(100)]


async def sent_in_ledger(db: Path) -> set[str]:
    async with Store.open(db) as store:
        return {chat.chat_id for chat, row in (await store.deliveries_for_day(DAY)).items() if row.state == "sent"}


async def settle(fake: FakeSMTP) -> None:
    """Wait until the server has answered every DATA it got (a dead client's included)."""
    deadline = time.monotonic() + 5
    await asyncio.sleep(0.05)
    while fake.in_flight:
        assert time.monotonic() < deadline, "the server never settled"
        await asyncio.sleep(0.01)


async def test_a_deliver_to_100_addresses_killed_twice_and_rerun_leaves_no_address_without_its_digest(
    tmp_path: Path, fake_smtp: FakeSMTP,
) -> None:
    db = tmp_path / "db.sqlite"
    env = {"DATABASE_PATH": str(db), **fake_smtp.settings()}
    async with scored_sample(Settings.from_env(env), NOW) as services:
        for i, address in enumerate(ADDRESSES):
            sub = Subscription(ChatRef("email", address), min_score=(4.0, 5.0, 6.0)[i % 3], lang=("zh", "en")[i % 2])
            await services.store.save_subscription(sub, NOW)
    process_env = {"PATH": os.environ.get("PATH", ""), "ARXIV_DIGEST_DOTENV": "", "NO_PROXY": "127.0.0.1,localhost",
                   "no_proxy": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING", **env}
    fake_smtp.delay = 0.01  # slow enough that a kill lands mid-run
    unrecorded: Counter[str] = Counter()  # address -> copies the server accepted and the ledger did not record
    for kill_at in (30, 65, None):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "deliver", "--force", cwd=tmp_path, env=process_env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if kill_at is None:
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0 and b"sent" in out, err.decode()[-2000:]
            break
        deadline = time.monotonic() + 30
        while len(fake_smtp.received) < kill_at:
            if proc.returncode is not None:
                pytest.fail(f"deliver exited {proc.returncode} before the kill: {(await proc.communicate())[1]!r}")
            assert time.monotonic() < deadline, "the delivery never got going"
            await asyncio.sleep(0.002)
        await asyncio.sleep(random.uniform(0, 0.015))  # anywhere in a message's cycle
        proc.send_signal(signal.SIGKILL)
        await proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        await settle(fake_smtp)
        recorded = await sent_in_ledger(db)
        got = Counter(r.rcpt_to[0] for r in fake_smtp.received)
        # Each address is one message: a copy the server has and the ledger does not was accepted but not
        # recorded when the process died (every copy so far, if an earlier kill's copy was not recorded either).
        unrecorded.update({a: n - unrecorded[a] for a, n in got.items() if a not in recorded})
    got = Counter(r.rcpt_to[0] for r in fake_smtp.received)
    assert set(got) == set(ADDRESSES), "every address got its digest"
    repeats = Counter({a: n - 1 for a, n in got.items() if n > 1})
    assert repeats == unrecorded, "duplicates only for messages accepted but not recorded at a kill"
    ids = {r.message["Message-ID"] for r in fake_smtp.received}
    assert len(ids) == len(ADDRESSES), "a resent digest carries the Message-ID of the first copy"
    assert await sent_in_ledger(db) == set(ADDRESSES)
    print(f"\nSIGKILL twice over {len(ADDRESSES)} addresses: {sum(unrecorded.values())} accepted but unrecorded")
