"""Make tests/data/v9.sqlite: a database at the last pre-Alembic schema (PRAGMA user_version 9).

Run once with the release that still had the aiosqlite store (main before the SQLAlchemy port):

    .venv/bin/python tests/data/make_v9_db.py tests/data/v9.sqlite

It scores the sample day 2025-12-22 offline (papers, fields, scores, a run) and adds one row or more to
every other table (subscriptions, votes, deliveries, summaries, LLM usage, judgements, JSON modes,
follows, a webhook secret, the weekly digest), all through the store's public methods.
tests/test_migrations.py migrates a copy and checks that every row is still there.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.config import Settings  # noqa: E402
from core.daily import run_day  # noqa: E402
from core.fields import load_fields  # noqa: E402
from core.models import ChatRef, Score, Subscription, Summary  # noqa: E402
from core.services import Services  # noqa: E402
from core.store import Store  # noqa: E402

NOW = datetime(2025, 12, 22, 3, 0, tzinfo=UTC)
DAY = date(2025, 12, 22)


async def main(path: Path) -> None:
    settings = Settings.from_env({"DATABASE_PATH": str(path), "ARXIV_DIGEST_DOTENV": ""})
    async with Store.open(path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)))
        await run_day(services, now=NOW, input_path=ROOT / "data" / "arxiv" / "2025-12-22.jsonl", offline=True,
                      write_markdown=False)
        papers = await store.papers_for_day(DAY)
        ids = [p.arxiv_id for p in papers]
        chats = [ChatRef("telegram", "42"), ChatRef("slack", "C01"), ChatRef("feishu", "hook-1"),
                 ChatRef("email", "a@example.org")]
        for n, chat in enumerate(chats):
            await store.save_subscription(
                Subscription(chat, fields=("efficient-llm",) if n % 2 else (), min_score=6.5 + n, lang="en" if n % 2
                             else "zh", interests="KV cache compression" if n == 0 else ""), NOW)
            await store.save_vote(chat, ids[n], 1 if n % 2 else -1, NOW)
            await store.mark_part_sent(chat, DAY, 1, NOW, done=n != 1)
        await store.finish_delivery(chats[3], DAY, "failed", NOW, error="550 mailbox unavailable")
        await store.save_subscription(Subscription(ChatRef("telegram", "-100"), active=False), NOW)
        await store.save_summaries("sum-key", [Summary(i, "zh", f"摘要 {i}", "llm") for i in ids[:5]], NOW)
        await store.add_usage(DAY, "summaries", tokens_in=500, tokens_out=80, requests=2, now=NOW)
        await store.add_usage(DAY, "interests", tokens_in=300, tokens_out=40, requests=1, now=NOW)
        await store.save_judgements("profile0123456789", "judge-key", [
            Score(i, "efficient-llm", 8.0, "fits", "llm", {"efficient-llm": 8.0}, {"en": "fits", "zh": "相关"})
            for i in ids[:3]], NOW)
        await store.save_json_mode("http://127.0.0.1:8000/v1", "local", "json_object_schema", NOW)
        await store.save_json_modes("llm-key", {i: "json_schema" for i in ids[:4]}, NOW)
        await store.save_follow(chats[0], "Sören Auer", "auer soren", NOW)
        await store.save_webhook_secret(chats[2], "feishu-signing-secret", NOW)
        await store.set_weekly(chats[0], True, NOW)
        await store.mark_weekly(chats[0], "2025-W52", "sent", NOW)


if __name__ == "__main__":
    Path(sys.argv[1]).unlink(missing_ok=True)
    asyncio.run(main(Path(sys.argv[1])))
