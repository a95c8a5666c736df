"""Which day is "today", `run --input FOLDER`, and two runs of one database at once.

"Today" is the newest announced listing day with a finished run (at or before the newest listing arXiv
has announced at `now`), never simply the last day run: a back-fill must not reach subscribers.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import EXIT_BUSY, dispatch, main, parse_args
from bot.schedule import Scheduler
from core.config import PROJECT_ROOT, Settings
from core.daily import input_days, run_day
from core.deliver.delivery import deliver_due
from core.fields import load_fields
from core.models import ChatRef, Subscription
from core.prepare.day import latest_digest_day
from core.runlock import RunInProgress, run_lock
from core.services import Services
from core.store import Store
from core.views import digest_for_subscription
from tests.test_delivery import RecordingSender

ARXIV = PROJECT_ROOT / "data" / "arxiv"
MONDAY = date(2025, 12, 22)
OLD = date(2025, 12, 10)
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)  # Sunday 21:00 in New York: Monday's listing is out
CHAT = ChatRef("telegram", "1")


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests")}


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.from_env(env_for(tmp_path))
    async with Store.open(settings.database_path) as store:
        yield Services(settings, store, tuple(load_fields(settings.fields_path)))


async def run(services: Services, day: date, now: datetime) -> None:
    result = await run_day(services, now=now, input_path=ARXIV / f"{day}.jsonl", offline=True, write_markdown=False)
    assert result.day == day and result.status == "done"


async def ids_of(services: Services, day: date) -> set[str]:
    return {p.arxiv_id for p in await services.store.papers_for_day(day)}


# -- which day is "today" ------------------------------------------------------------------------------


async def test_backfilling_an_older_day_never_reaches_subscribers_nor_becomes_today(services: Services) -> None:
    await run(services, MONDAY, NOW)
    await services.store.save_subscription(Subscription(CHAT), NOW)
    sender = RecordingSender()
    first = await deliver_due(services, {"telegram": sender}, now=NOW, force=True)
    assert first.day == MONDAY and first.sent == 1

    await run(services, OLD, NOW + timedelta(hours=1))  # back-fill: `run --input` of an old file
    later = NOW + timedelta(hours=2)
    assert await latest_digest_day(services, later) == MONDAY
    report = await deliver_due(services, {"telegram": sender}, now=later, force=True)
    assert report.day == MONDAY and report.sent == 0 and report.already == 1
    scheduler = Scheduler(services, {"telegram": sender}, clock=lambda: later)
    await scheduler.deliver_job()  # the scheduler's delivery tick
    assert {part for _, part in sender.sent} <= await ids_of(services, MONDAY), "nothing of the old day was sent"
    digest = await digest_for_subscription(services, Subscription(CHAT), now=later)  # /today
    assert digest is not None and digest.day == MONDAY


async def test_a_backfill_alone_is_not_pushed_but_deliver_date_sends_it(services: Services) -> None:
    await run(services, OLD, NOW)  # a fresh install back-fills an old day first
    await services.store.save_subscription(Subscription(CHAT), NOW)
    sender = RecordingSender()

    report = await deliver_due(services, {"telegram": sender}, now=NOW, force=True)
    assert report.sent == 0 and sender.sent == [] and "back-fill" in report.note and f"--date {OLD}" in report.note
    report = await deliver_due(services, {"telegram": sender}, now=NOW, day=OLD, force=True)
    assert report.sent == 1 and {part for _, part in sender.sent} <= await ids_of(services, OLD)


async def test_a_day_run_before_arxiv_announced_it_is_not_today_yet(services: Services) -> None:
    await run(services, MONDAY, NOW)
    saturday = datetime(2025, 12, 20, 12, 0, tzinfo=UTC)  # Friday's listing is the newest at this instant
    assert await latest_digest_day(services, saturday) is None
    assert await latest_digest_day(services, NOW) == MONDAY


async def test_a_day_without_an_announcement_is_never_today(services: Services, tmp_path: Path) -> None:
    await run(services, MONDAY, NOW)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    tuesday_evening = datetime(2025, 12, 24, 2, 0, tzinfo=UTC)  # Tuesday 21:00 ET: Wednesday's listing is due
    result = await run_day(services, now=tuesday_evening, day=date(2025, 12, 24), input_path=empty, offline=True)
    assert result.status == "no-announcement"
    assert await latest_digest_day(services, tuesday_evening) == MONDAY
    assert json.loads((await services.store.runs_of_day(date(2025, 12, 24)))[0].note) == {"why": "empty-listing"}


async def test_status_and_deliver_default_to_the_newest_announced_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings.from_env(env_for(tmp_path))
    for day, at in ((MONDAY, NOW), (OLD, NOW + timedelta(hours=1))):
        args = parse_args(["run", "--offline", "--quiet", "--input", str(ARXIV / f"{day}.jsonl")])
        assert await dispatch(args, settings, lambda at=at: at) == 0
    capsys.readouterr()
    later = NOW + timedelta(hours=2)
    assert await dispatch(parse_args(["status"]), settings, lambda: later) == 0
    assert capsys.readouterr().out.startswith(f"day:        {MONDAY} (done)\n")
    tuesday = datetime(2025, 12, 23, 12, 0, tzinfo=UTC)  # Tuesday's listing is out, not scored
    assert await dispatch(parse_args(["status"]), settings, lambda: tuesday) == 0
    assert f"arXiv's newest listing, {MONDAY + timedelta(days=1)}, is not scored yet" in capsys.readouterr().out


async def test_the_catch_up_is_not_fooled_by_a_backfill(services: Services) -> None:
    await run(services, OLD, datetime(2025, 12, 22, 1, 0, tzinfo=UTC))  # after the 20:30 ET scoring time
    scheduler = Scheduler(services, {}, clock=lambda: NOW)
    ran: list[bool] = []

    async def score_job() -> None:
        ran.append(True)

    scheduler.score_job = score_job  # type: ignore[method-assign]
    await scheduler.catch_up_job()
    assert ran == [True], "a back-fill is no scheduled run: the missed scoring runs"


# -- run --input FOLDER --------------------------------------------------------------------------------


def test_input_folder_runs_every_day_oldest_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = env_for(tmp_path)
    assert main(["run", "--offline", "--quiet", "--input", str(ARXIV)], env=env) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    days = [date(2025, 12, 8), OLD, date(2025, 12, 11), MONDAY]
    assert [line.split(":")[0] for line in lines] == [str(d) for d in days], lines
    assert all("papers" in line and "scored" in line for line in lines)
    assert sorted(p.name for p in (tmp_path / "digests").iterdir()) == [f"{d}.md" for d in days]
    assert main(["stats"], env=env) == 0
    out = capsys.readouterr().out
    assert all(str(d) in out for d in days)


def test_a_file_with_several_days_runs_each_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    both = tmp_path / "two-days.jsonl"
    both.write_text((ARXIV / f"{MONDAY}.jsonl").read_text() + (ARXIV / f"{OLD}.jsonl").read_text())
    assert input_days(both) == [OLD, MONDAY]
    assert main(["run", "--offline", "--quiet", "--input", str(both)], env=env_for(tmp_path)) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [str(OLD), str(MONDAY)]


def test_input_with_date_runs_that_day_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--offline", "--quiet", "--input", str(ARXIV), "--date", str(OLD)]
    assert main(argv, env=env_for(tmp_path)) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().err.strip().splitlines()] == [str(OLD)]


# -- two runs at once ------------------------------------------------------------------------------------


async def test_two_concurrent_runs_on_one_database_take_turns(tmp_path: Path) -> None:
    settings = Settings.from_env(env_for(tmp_path))
    fields = tuple(load_fields(settings.fields_path))
    async with Store.open(settings.database_path) as one, Store.open(settings.database_path) as two:
        results = await asyncio.gather(*(
            run_day(Services(settings, store, fields), now=NOW, input_path=ARXIV / f"{MONDAY}.jsonl", offline=True,
                    write_markdown=False)
            for store in (one, two)
        ))
        assert [r.status for r in results] == ["done", "done"]
        assert sorted(r.new_papers for r in results) == [0, 116], "the second ran after the first, not beside it"
        assert len(await one.runs_of_day(MONDAY)) == 2


async def test_a_run_that_cannot_wait_says_who_holds_the_database(services: Services) -> None:
    async with run_lock(services.store, wait=0, what="run of 2025-12-22"):
        with pytest.raises(RunInProgress, match=r"another run is using .*run of 2025-12-22, pid \d+"):
            await run_day(services, now=NOW, input_path=ARXIV / f"{MONDAY}.jsonl", offline=True, lock_wait=0)
    await run(services, MONDAY, NOW)  # the lock went with its holder


async def bot_run(tmp_path: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--offline", "--quiet", "--input", str(ARXIV), *extra,
        cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin", **env_for(tmp_path), "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_two_run_processes_at_once_both_finish_without_a_traceback(tmp_path: Path) -> None:
    procs = [await bot_run(tmp_path) for _ in range(2)]
    outcomes = [(await p.communicate())[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outcomes
    assert not any("Traceback" in err or "IntegrityError" in err or "locked" in err for err in outcomes), outcomes
    async with Store.open(tmp_path / "db.sqlite") as store:
        runs = await store.list_runs(limit=100)
        assert len(runs) == 8 and all(r.status == "done" for r in runs)
        assert len(await store.papers_for_day(MONDAY)) == 116


async def test_a_run_process_that_cannot_wait_exits_4_with_a_clear_message(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "db.sqlite") as store, run_lock(store, wait=0, what="run of the test"):
        proc = await bot_run(tmp_path, "--wait", "0")
        _, err = await proc.communicate()
    text = err.decode()
    assert proc.returncode == EXIT_BUSY == 4, text
    assert "another run is using" in text and "run of the test" in text and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1, text  # one line for cron's mail
