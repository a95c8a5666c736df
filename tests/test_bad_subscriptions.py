"""One bad subscription never stops the others: rows written by older versions or by hand, fields removed
from the fields file, and a chat whose delivery breaks in a way nobody planned for."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands import Caller, Commands
from bot.parsing import parse_timezone
from core.config import Settings
from core.deliver.delivery import deliver_due, digest_parts
from core.errors import DeliveryError
from core.fields import load_fields
from core.models import Block, ChatRef, Heading, Note, PaperItem, Subscription
from core.services import Services
from core.stale import check_subscription
from tests.samples import scored_sample

DAY_NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: 09:00 subscribers there are due
DAY = DAY_NOW.date()
GONE = "quantum-gravity"  # a slug the fields file no longer has (never had, here: the same to a reader)


@dataclass
class NoteSender:
    """A Sender whose parts are its blocks spelled plainly: 'title:', 'note:' or an arXiv id."""

    platform: str = "telegram"
    sent: list[tuple[str, str]] = field(default_factory=list)
    broken_lang: str | None = None  # render raises for digests in this language (a formatter bug)

    def render(self, blocks: Sequence[Block], lang: str) -> Sequence[object]:
        if lang == self.broken_lang:
            raise KeyError("formatter bug")
        spelled = []
        for b in blocks:
            if isinstance(b, Heading) and b.level == 1:
                spelled.append(f"title:{b.text}")
            elif isinstance(b, Note):
                spelled.append(f"note:{b.text}")
            elif isinstance(b, PaperItem):
                spelled.append(b.arxiv_id)
        return spelled

    async def send_part(self, chat: ChatRef, part: object) -> None:
        self.sent.append((chat.chat_id, str(part)))

    def to(self, chat_id: str) -> list[str]:
        return [part for chat, part in self.sent if chat == chat_id]

    def papers_to(self, chat_id: str) -> list[str]:
        return [p for p in self.to(chat_id) if not p.startswith(("title:", "note:"))]


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), **env})


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with scored_sample(settings_for(tmp_path), DAY_NOW) as svc:
        yield svc


async def subscribe(services: Services, chat_id: str, **kw: object) -> None:
    sub = Subscription(ChatRef("telegram", chat_id), min_score=6.0, **kw)  # type: ignore[arg-type]
    await services.store.save_subscription(sub, DAY_NOW)


def write_raw(services: Services, chat_id: str, **values: object) -> None:
    """Write values straight into the subscriptions row, as an older version or a hand edit would."""
    with sqlite3.connect(services.settings.database_path) as db:
        sets = ", ".join(f"{column} = ?" for column in values)
        db.execute(f"UPDATE subscriptions SET {sets} WHERE chat_id = ?", (*values.values(), chat_id))


def stored(services: Services, chat_id: str) -> dict[str, object]:
    with sqlite3.connect(services.settings.database_path) as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM subscriptions WHERE chat_id = ?", (chat_id,)).fetchone())


# -- 1. stored values that no longer read --------------------------------------------------------------


@pytest.mark.parametrize("zone", ["US/Pacific-New", "America/Argentina", "Mars/Olympus_Mons", "", "../etc/passwd"])
async def test_a_time_zone_that_no_longer_loads_is_delivered_in_the_default_and_the_others_get_theirs(
    services: Services, zone: str, caplog: pytest.LogCaptureFixture,
) -> None:
    for chat_id in ("1", "2", "3"):
        await subscribe(services, chat_id)
    write_raw(services, "2", timezone=zone)  # removed from tzdata, a folder, never a zone, empty, a path
    sender = NoteSender()
    with caplog.at_level(logging.WARNING):
        report = await deliver_due(services, {"telegram": sender}, now=DAY_NOW)
    assert report.sent == 3 and report.failed == 0
    assert sender.papers_to("2") == sender.papers_to("1") != []
    title, note, *_ = sender.to("2")
    assert title.startswith("title:") and note.startswith("note:⚠️") and "/timezone" in note
    assert "Asia/Shanghai" in note and "09:00" in note and (not zone or zone in note)
    assert not any(p.startswith("note:⚠️") for p in sender.to("1"))
    assert "chat=telegram:2" in caplog.text and "timezone=" in caplog.text
    assert stored(services, "2")["timezone"] == zone, "kept: it may load again once the host's tzdata does"


async def test_an_unloadable_time_zone_is_due_at_its_time_in_digest_timezone(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, DIGEST_TIMEZONE="Europe/Berlin")
    async with scored_sample(settings, DAY_NOW) as services:
        await subscribe(services, "1", timezone="Asia/Shanghai")
        await subscribe(services, "2", timezone="Asia/Shanghai")
        write_raw(services, "2", timezone="Europe/Atlantis")
        sender = NoteSender()
        early = await deliver_due(services, {"telegram": sender}, now=DAY_NOW)  # 03:00 in Berlin
        assert early.sent == 1 and early.not_due == 1 and sender.to("2") == []
        later = await deliver_due(services, {"telegram": sender}, now=datetime(2025, 12, 22, 8, 0, tzinfo=UTC))
        assert later.sent == 1 and "Europe/Berlin" in sender.to("2")[1]
    sub = Subscription(ChatRef("t", "1"), timezone="Nowhere/Land")
    no_default = Settings.from_env({"DIGEST_TIMEZONE": "UTC"})
    assert check_subscription(sub, (), no_default).sub.timezone == "UTC"


async def test_rows_whose_time_language_fields_or_threshold_do_not_read_never_sink_the_pass(
    services: Services, caplog: pytest.LogCaptureFixture,
) -> None:
    for chat_id in ("1", "2", "3", "4", "5", "6"):
        await subscribe(services, chat_id)
    write_raw(services, "2", digest_time="25:99")
    write_raw(services, "3", lang="fr")
    write_raw(services, "4", fields="efficient-llm, not json")
    write_raw(services, "5", min_score="high")
    write_raw(services, "6", fields='"efficient-llm"', interests=b"\xff")  # a JSON string, not a list; a blob
    sender = NoteSender()
    with caplog.at_level(logging.WARNING):
        report = await deliver_due(services, {"telegram": sender}, now=DAY_NOW)
    assert report.sent == 6 and report.failed == 0
    assert sender.papers_to("2") == sender.papers_to("3") == sender.papers_to("1") == sender.papers_to("6") != []
    assert "25:99" in sender.to("2")[1] and "/time" in sender.to("2")[1]
    assert "fr" in sender.to("3")[1] and "/lang" in sender.to("3")[1]
    assert sender.papers_to("4") and sender.papers_to("5"), "an unreadable value reads as the default"
    assert all(f"chat=telegram:{n}" in caplog.text for n in (4, 5, 6))
    # Told once: a time or language that can never read is stored as served once the digest went out.
    assert stored(services, "2")["digest_time"] == "09:00" and stored(services, "3")["lang"] == "zh"
    [again] = (await digest_parts(services, NoteSender(), [await services.store.get_subscription(
        ChatRef("telegram", "2"))], now=DAY_NOW)).values()
    assert not any(str(p).startswith("note:⚠️") for p in again)


# -- 2. fields removed from the fields file ----------------------------------------------------------


async def test_a_removed_field_is_told_once_in_the_chats_language_and_its_remaining_fields_are_delivered(
    services: Services, caplog: pytest.LogCaptureFixture,
) -> None:
    await subscribe(services, "1", fields=("efficient-llm",))
    await subscribe(services, "2", fields=("efficient-llm", GONE))
    await subscribe(services, "3", fields=(GONE,), lang="en")
    await subscribe(services, "4")  # all fields
    sender = NoteSender()
    with caplog.at_level(logging.WARNING):
        report = await deliver_due(services, {"telegram": sender}, now=DAY_NOW)
    assert report.sent == 4
    # Its remaining fields; none remaining: all fields, not an empty digest.
    assert sender.papers_to("2") == sender.papers_to("1") != []
    assert sender.papers_to("3") and set(sender.papers_to("3")) == set(sender.papers_to("4"))
    title, note, *_ = sender.to("2")
    assert title.startswith("title:") and GONE in note and "已从本服务移除" in note and "/field" in note
    assert "ArXiv Daily Digest" in sender.to("3")[0]
    assert GONE in sender.to("3")[1] and "was removed" in sender.to("3")[1] and "all fields" in sender.to("3")[1]
    assert not any(GONE in p for p in sender.to("1") + sender.to("4"))
    assert f"removed_fields={GONE}" in caplog.text and "chat=telegram:2" in caplog.text
    # Once: the stored fields are now the remaining ones, so the next digest says nothing.
    assert stored(services, "2")["fields"] == '["efficient-llm"]' and stored(services, "3")["fields"] == "[]"
    subs = [s for s in await services.store.list_subscriptions() if s.chat.chat_id in ("2", "3")]
    later = await digest_parts(services, NoteSender(), subs, now=DAY_NOW)
    assert all(not any(GONE in str(p) for p in parts) and parts for parts in later.values())


async def test_a_removed_field_is_told_again_until_a_digest_telling_it_went_out(services: Services) -> None:
    await subscribe(services, "1", fields=("efficient-llm", GONE))
    sender = NoteSender()

    async def down(chat: ChatRef, part: object) -> None:
        raise DeliveryError("Telegram is down")

    sender.send_part = down  # type: ignore[method-assign]
    assert (await deliver_due(services, {"telegram": sender}, now=DAY_NOW)).failed == 1
    assert GONE in str(stored(services, "1")["fields"]), "not told yet, so not rewritten"
    del sender.send_part
    assert (await deliver_due(services, {"telegram": sender}, now=DAY_NOW)).sent == 1
    assert GONE in sender.to("1")[1] and stored(services, "1")["fields"] == '["efficient-llm"]'


async def test_a_chat_that_changed_its_fields_meanwhile_keeps_its_choice(services: Services) -> None:
    await subscribe(services, "1", fields=("efficient-llm", GONE))
    stale = await services.store.get_subscription(ChatRef("telegram", "1"))
    assert stale is not None
    await subscribe(services, "1", fields=("dl-theory",))  # /field, between the pass reading and repairing
    served = check_subscription(stale, services.fields, services.settings)
    assert not await services.store.repair_subscription(stale, served.repaired(), DAY_NOW)
    assert stored(services, "1")["fields"] == '["dl-theory"]'


async def test_settings_field_why_and_today_read_a_stale_row(services: Services) -> None:
    await subscribe(services, "1", fields=("efficient-llm", GONE), lang="en")
    write_raw(services, "1", timezone="US/Pacific-New")
    commands = Commands(services)
    caller = Caller(ChatRef("telegram", "1"), DAY_NOW)

    settings = await commands.handle("/settings", caller)
    removed, zone, table = (b.text for b in settings.blocks if isinstance(b, Note))
    assert GONE in removed and "US/Pacific-New" in zone and "Asia/Shanghai" in zone
    assert "Fields: Efficient LLM training and inference\n" in table and GONE not in table
    assert "(Asia/Shanghai)" in table, "settings show the zone the digest really comes in"

    menu = await commands.handle("/field", caller)
    ticked = [b.label for row in menu.buttons for b in row if b.label.startswith("✅")]
    assert len(ticked) == 1, "the menu ticks the remaining field, not nothing"

    today = await commands.handle("/today", caller)
    assert today.kind == "digest" and any(isinstance(b, PaperItem) for b in today.blocks)
    assert isinstance(today.blocks[0], Heading) and GONE in today.blocks[1].text  # type: ignore[attr-defined]

    paper = next(b for b in today.blocks if isinstance(b, PaperItem))
    why = await commands.handle(f"/why {paper.arxiv_id}", caller)
    assert why.kind != "error" and any(isinstance(b, PaperItem) for b in why.blocks)

    # A settings change stores the served fields, keeps the stored zone (it may load again), and tells.
    changed = await commands.handle("/min_score 6.5", caller)
    assert GONE in "\n".join(b.text for b in changed.blocks if isinstance(b, Note))
    row = stored(services, "1")
    assert row["fields"] == '["efficient-llm"]' and row["timezone"] == "US/Pacific-New" and row["min_score"] == 6.5
    fixed = await commands.handle("/timezone Europe/Berlin", caller)
    assert "US/Pacific-New" not in "\n".join(b.text for b in fixed.blocks if isinstance(b, Note))
    assert stored(services, "1")["timezone"] == "Europe/Berlin"


def test_a_time_zone_folder_is_refused_not_raised() -> None:
    assert parse_timezone("America/Argentina") is None
    assert parse_timezone("America/Argentina/Buenos_Aires") == "America/Argentina/Buenos_Aires"


# -- 3. an unexpected failure for one chat ------------------------------------------------------------


async def test_a_formatter_bug_on_one_digest_is_logged_with_its_chat_recorded_and_the_others_delivered(
    services: Services, caplog: pytest.LogCaptureFixture,
) -> None:
    await subscribe(services, "1")
    await subscribe(services, "2", lang="en")
    await subscribe(services, "3")
    sender = NoteSender(broken_lang="en")
    with caplog.at_level(logging.ERROR):
        report = await deliver_due(services, {"telegram": sender}, now=DAY_NOW)
    assert report.sent == 2 and report.failed == 1 and sender.to("2") == []
    assert "chat=telegram:2" in caplog.text and "KeyError" in caplog.text
    row = await services.store.get_delivery(ChatRef("telegram", "2"), DAY)
    assert row is not None and row.state == "failed" and "KeyError" in row.last_error and row.attempts == 1


async def test_a_failure_while_recording_a_failure_stays_with_its_chat(
    services: Services, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for chat_id in ("1", "2", "3"):
        await subscribe(services, chat_id)
    sender = NoteSender()
    sent = sender.send_part

    async def flaky(chat: ChatRef, part: object) -> None:
        if chat.chat_id == "2":
            raise DeliveryError("Telegram answered 502")
        await sent(chat, part)

    finish = services.store.finish_delivery

    async def locked(chat: ChatRef, *args: object, **kw: object) -> None:
        if chat.chat_id == "2":
            raise sqlite3.OperationalError("database is locked")
        await finish(chat, *args, **kw)  # type: ignore[arg-type]

    sender.send_part = flaky  # type: ignore[method-assign]
    monkeypatch.setattr(services.store, "finish_delivery", locked)
    with caplog.at_level(logging.ERROR):
        report = await deliver_due(services, {"telegram": sender}, now=DAY_NOW)
    assert report.sent == 2 and report.failed == 1 and sender.papers_to("1") and sender.papers_to("3")
    assert "chat=telegram:2" in caplog.text and "database is locked" in caplog.text


# -- what core/stale.py reads (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(("value", "reads"), [
    ("09:00", True), ("9:05", True), ("23:59", True), ("24:00", False), ("09:60", False), ("9", False),
    ("09:00:00", False), ("９:00", False), ("", False), ("ab:cd", False),
])
def test_a_delivery_time_reads_only_as_hh_mm(value: str, reads: bool) -> None:
    sub = Subscription(ChatRef("t", "1"), digest_time=value)
    checked = check_subscription(sub, (), Settings.from_env({"DIGEST_TIME": "07:30"}))
    assert (checked.bad_time is None) is reads
    assert checked.sub.digest_time == (value if reads else "07:30")


def test_every_stale_value_is_told_in_the_served_language_and_only_the_zone_is_kept() -> None:
    settings = Settings.from_env({"DIGEST_LANGUAGE": "en", "DIGEST_TIMEZONE": "Europe/Paris"})
    fields = tuple(load_fields(settings.fields_path))
    sub = Subscription(ChatRef("t", "1"), fields=("dl-theory", GONE, "gone-too"), lang="xx",
                       digest_time="7h", timezone="Europe/Atlantis")
    checked = check_subscription(sub, fields, settings)
    assert checked.sub.fields == ("dl-theory",) and checked.removed_fields == (GONE, "gone-too")
    assert (checked.sub.lang, checked.sub.digest_time, checked.sub.timezone) == ("en", "09:00", "Europe/Paris")
    removed, lang, time, zone = checked.notes(fields)
    assert "fields “quantum-gravity”, “gone-too” you followed were removed" in removed
    assert "“xx”" in lang and "“7h”" in time and "at 09:00 Europe/Paris" in zone
    repaired = checked.repaired()
    assert (repaired.fields, repaired.lang, repaired.digest_time, repaired.timezone) == (
        ("dl-theory",), "en", "09:00", "Europe/Atlantis")
    fine = Subscription(ChatRef("t", "2"), fields=("dl-theory",))
    assert check_subscription(fine, fields, settings).notes(fields) == ()
