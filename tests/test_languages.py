"""The reader's language everywhere: a score keeps its reason per language, the LLM gives every wanted
language in one reply, and each reader view picks the reader's language."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from bot.commands import Caller, Commands
from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.deliver.delivery import deliver_due
from core.fields import load_fields
from core.models import Block, ChatRef, Paper, PaperItem, Score, Subscription
from core.score.llm import reply_reasons
from core.score.offline import OfflineScorer
from core.score.replies import parse_score_reply
from core.services import Services
from core.store import Store, migrate
from core.store.legacy import MIGRATIONS, SCORE_REASONS
from core.views import digest_for_subscription
from tests.fakes.openai_server import FakeOpenAI, fake_openai  # noqa: F401

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
CJK = re.compile(r"[\u3400-\u9fff]")
ZH_CHAT = ChatRef("telegram", "1")
EN_CHAT = ChatRef("telegram", "2")


def english(text: str) -> bool:
    return bool(text) and not CJK.search(text)


def chinese(text: str) -> bool:
    return bool(CJK.search(text))


def env(tmp_path: Path, fake: FakeOpenAI | None = None) -> dict[str, str]:
    values = {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests")}
    if fake is not None:
        values.update({"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{fake.url}/v1", "LLM_MODEL": "test-model",
                       "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT": "5"})
    return values


@pytest.fixture
async def llm_services(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Services]:
    settings = Settings.from_env(env(tmp_path, fake_openai))  # DIGEST_LANGUAGE: zh, the default
    llm = AsyncOpenAI(api_key="sk-test", base_url=f"{fake_openai.url}/v1", max_retries=0)
    async with Store.open(settings.database_path) as store:
        yield Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
    await llm.close()


@pytest.fixture
async def offline_services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.from_env(env(tmp_path))
    async with Store.open(settings.database_path) as store:
        yield Services(settings, store, tuple(load_fields(settings.fields_path)))


async def subscribe(services: Services, chat: ChatRef, lang: str, min_score: float = 5.0) -> Subscription:
    sub = Subscription(chat, lang=lang, min_score=min_score)
    await services.store.save_subscription(sub, NOW)
    return sub


def reason_keys(call: object) -> list[str]:
    body = call.body  # type: ignore[attr-defined]
    props = body["response_format"]["json_schema"]["schema"]["properties"]["scores"]["items"]["properties"]
    return [k for k in props if k.startswith("reason")]


def scoring_calls(fake: FakeOpenAI) -> list[object]:
    return [c for c in fake.calls() if not FakeOpenAI.is_summary_request(c.body, c.prompt)]


async def day_scores(services: Services) -> dict[str, Score]:
    [run] = (await services.store.list_runs(limit=1))
    return {s.arxiv_id: s for _, s in await services.store.scored_papers(run.day, run.scorer_key)}


def whys(blocks: Sequence[Block]) -> list[str]:
    return [b.why for b in blocks if isinstance(b, PaperItem)]


# -- the model and the store ----------------------------------------------------------------------


def test_a_score_gives_the_readers_language_and_falls_back_only_when_it_is_missing() -> None:
    both = Score("a", "f", 7.0, "中文理由", "llm", reasons={"zh": "中文理由", "en": "English reason"})
    assert both.reason_in("en") == "English reason" and both.reason_in("zh") == "中文理由"
    only_zh = Score("a", "f", 7.0, "中文理由", "llm", reasons={"zh": "中文理由"})
    assert only_zh.reason_in("en") == "中文理由"
    stored_before = Score("a", "f", 7.0, "old reason", "llm")  # a row from before reasons were per language
    assert stored_before.reason_in("zh") == stored_before.reason_in("en") == "old reason"
    no_plain = Score("a", "f", 7.0, "", "llm", reasons={"en": "English reason"})
    assert no_plain.reason_in("zh") == "English reason"


def test_the_offline_scorer_words_its_reason_in_every_language() -> None:
    fields = load_fields(PROJECT_ROOT / "data" / "fields")
    paper = Paper("2601.00001", "Mixture of experts for efficient LLM inference with KV cache quantization",
                  "We quantize the KV cache of large language models.", ("A",), ("cs.LG",), "cs.LG",
                  NOW.date())
    score = OfflineScorer(fields).score(paper, "zh")
    assert set(score.reasons) == {"zh", "en"}
    assert chinese(score.reasons["zh"]) and score.reason == score.reasons["zh"]
    assert english(score.reasons["en"]) and score.reasons["en"].startswith(("Matched", "Weak match"))


async def test_the_store_keeps_a_reason_per_language(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "db.sqlite") as store:
        paper = Paper("2601.00001", "T", "A.", ("A",), ("cs.LG",), "cs.LG", NOW.date())
        await store.save_papers([paper], NOW)
        score = Score("2601.00001", "f", 8.0, "理由", "llm", {"f": 8.0}, {"zh": "理由", "en": "a reason"})
        await store.save_scores("k", [score], NOW)
        assert (await store.get_scores("k", ["2601.00001"]))["2601.00001"] == score
        [(_, read)] = await store.scored_papers(NOW.date(), "k")
        assert read.reasons == {"zh": "理由", "en": "a reason"}


async def test_scores_stored_before_the_migration_keep_their_one_reason(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    version = MIGRATIONS.index(SCORE_REASONS)  # the version just before reasons per language
    for script in MIGRATIONS[:version]:
        con.executescript(script)
    con.execute(f"PRAGMA user_version = {version}")
    con.execute("INSERT INTO papers (arxiv_id, title, abstract, authors, categories, primary_category, published,"
                " first_seen) VALUES ('2601.00001', 'T', 'A.', '[]', '[]', 'cs.LG', '2025-12-22', '2025-12-22')")
    con.execute("INSERT INTO scores (arxiv_id, scorer_key, field_slug, value, reason, stage, field_scores, created_at)"
                " VALUES ('2601.00001', 'k', 'f', 8, '旧理由', 'llm', '{}', '2025-12-22')")
    con.commit()
    con.close()
    await migrate(path)  # a file from before Alembic: `arxiv-digest migrate`
    async with Store.open(path) as store:
        old = (await store.get_scores("k", ["2601.00001"]))["2601.00001"]
    assert old.reasons == {} and old.reason_in("en") == "旧理由"


# -- replies --------------------------------------------------------------------------------------


def test_a_reply_gives_a_reason_per_language_and_a_lone_reason_is_filed_by_its_language() -> None:
    reply = json.dumps({"scores": [
        {"id": "a", "field": "f", "score": 8, "reason_zh": "高效推理", "reason_en": "Reason: Efficient inference"},
        {"id": "b", "field": "f", "score": 3, "reason": "Unrelated robotics work"},
        {"id": "c", "field": "f", "score": 3, "reason": "与领域无关"},
    ]}, ensure_ascii=False)
    entries = parse_score_reply(reply, ["a", "b", "c"], ["f"])
    assert entries["a"].reasons == {"zh": "高效推理", "en": "Efficient inference"}  # labels peeled as before
    assert reply_reasons(entries["a"], ("zh", "en")) == {"zh": "高效推理", "en": "Efficient inference"}
    assert reply_reasons(entries["a"], ("en",)) == {"en": "Efficient inference"}
    assert reply_reasons(entries["b"], ("zh", "en")) == {"en": "Unrelated robotics work"}
    assert reply_reasons(entries["c"], ("zh", "en")) == {"zh": "与领域无关"}
    assert reply_reasons(entries["b"], ("en",)) == {"en": "Unrelated robotics work"}


# -- the LLM: one reply for every language wanted ------------------------------------------------


async def test_the_llm_is_asked_for_both_languages_in_one_reply_when_both_are_subscribed(
    llm_services: Services, fake_openai: FakeOpenAI
) -> None:
    await subscribe(llm_services, ZH_CHAT, "zh")
    await subscribe(llm_services, EN_CHAT, "en")
    await run_day(llm_services, now=NOW, input_path=SAMPLE, write_markdown=False)
    calls = scoring_calls(fake_openai)
    assert calls and all(reason_keys(c) == ["reason_zh", "reason_en"] for c in calls)
    assert all('"reason_zh":"<text>","reason_en":"<text>"' in c.prompt for c in calls)  # type: ignore[attr-defined]
    llm_scores = [s for s in (await day_scores(llm_services)).values() if s.stage == "llm"]
    assert llm_scores
    for s in llm_scores:
        assert chinese(s.reasons["zh"]) and english(s.reasons["en"]) and s.reason == s.reasons["zh"]


async def test_only_the_digest_language_is_asked_when_no_reader_wants_another(
    llm_services: Services, fake_openai: FakeOpenAI
) -> None:
    await subscribe(llm_services, ZH_CHAT, "zh")
    await run_day(llm_services, now=NOW, input_path=SAMPLE, write_markdown=False)
    calls = scoring_calls(fake_openai)
    assert calls and all(reason_keys(c) == ["reason"] for c in calls)
    assert all("reason_en" not in c.prompt for c in calls)  # type: ignore[attr-defined]


async def test_adding_a_language_keeps_every_score_and_asks_only_for_the_missing_reasons(
    llm_services: Services, fake_openai: FakeOpenAI
) -> None:
    await subscribe(llm_services, ZH_CHAT, "zh")
    first = await run_day(llm_services, now=NOW, input_path=SAMPLE, write_markdown=False)
    before = await day_scores(llm_services)
    asked = len(scoring_calls(fake_openai))
    await subscribe(llm_services, EN_CHAT, "en")
    again = await run_day(llm_services, now=NOW.replace(hour=5), input_path=SAMPLE, write_markdown=False)
    new_calls = scoring_calls(fake_openai)[asked:]
    assert again.scored == 0  # no paper judged anew
    assert len(new_calls) == asked  # one request per batch of stored LLM scores, for their reasons
    for call in new_calls:
        assert reason_keys(call) == ["reason"]
        assert "reason: one line in English" in call.prompt and "简体中文" not in call.prompt  # type: ignore[attr-defined]
    after = await day_scores(llm_services)
    runs = await llm_services.store.list_runs(limit=2)
    assert {r.scorer_key for r in runs} == {runs[0].scorer_key}  # the same key: nothing re-scored
    for arxiv_id, old in before.items():
        new = after[arxiv_id]
        assert (new.value, new.field_slug, new.stage, new.reason) == (old.value, old.field_slug, old.stage, old.reason)
        assert new.reasons["zh"] == old.reasons["zh"] and english(new.reasons["en"])
    assert again.tokens_in > 0 and first.tokens_in > again.tokens_in // 2
    third = len(fake_openai.calls())
    await run_day(llm_services, now=NOW.replace(hour=6), input_path=SAMPLE, write_markdown=False)
    assert len(fake_openai.calls()) == third  # every reason is there now


# -- every reader view in the reader's language -------------------------------------------------


async def test_the_digest_and_delivery_give_each_reader_reasons_in_their_language(
    llm_services: Services, fake_openai: FakeOpenAI
) -> None:
    zh = await subscribe(llm_services, ZH_CHAT, "zh")
    en = await subscribe(llm_services, EN_CHAT, "en")
    await run_day(llm_services, now=NOW, input_path=SAMPLE, write_markdown=False)
    for sub, check in ((zh, chinese), (en, english)):
        digest = await digest_for_subscription(llm_services, sub, now=NOW)
        assert digest is not None
        reasons = [s.reason for section in digest.sections for _, s in section.items]
        assert reasons and all(check(r) for r in reasons), (sub.lang, reasons)
    commands = Commands(llm_services)
    for chat, check in ((ZH_CHAT, chinese), (EN_CHAT, english)):
        paper = await commands.handle("/paper 2512.17073", Caller(chat=chat, now=NOW))
        [why] = whys(paper.blocks)
        summary = [b.text for b in paper.blocks if getattr(b, "text", "").startswith(("摘要", "Summary"))]
        assert check(why) and summary and check(summary[0].split(" ", 1)[1]), (chat, why, summary)
    sender = WhySender()
    report = await deliver_due(llm_services, {"telegram": sender}, now=NOW, force=True)
    assert report.sent == 2
    assert sender.whys[ZH_CHAT.chat_id] and all(chinese(w) for w in sender.whys[ZH_CHAT.chat_id])
    assert sender.whys[EN_CHAT.chat_id] and all(english(w) for w in sender.whys[EN_CHAT.chat_id])


@dataclass
class WhySender:
    """A Sender that keeps each chat's item reasons."""

    platform: str = "telegram"
    whys: dict[str, list[str]] = field(default_factory=dict)

    def render(self, blocks: Sequence[Block], lang: str) -> Sequence[object]:
        return [whys(blocks)]

    async def send_part(self, chat: ChatRef, part: object) -> None:
        self.whys.setdefault(chat.chat_id, []).extend(part)  # type: ignore[call-overload]


async def test_today_paper_search_and_why_answer_an_english_chat_in_english_on_a_chinese_install(
    offline_services: Services,
) -> None:
    commands = Commands(offline_services)
    await subscribe(offline_services, EN_CHAT, "en", min_score=4.0)
    await subscribe(offline_services, ZH_CHAT, "zh", min_score=4.0)
    await run_day(offline_services, now=NOW, input_path=SAMPLE, offline=True, write_markdown=False)
    for chat, check in ((EN_CHAT, english), (ZH_CHAT, chinese)):
        caller = Caller(chat=chat, now=NOW)
        today = await commands.handle("/today", caller)
        assert whys(today.blocks) and all(check(w) for w in whys(today.blocks)), chat
        paper = await commands.handle("/paper 2512.17073", caller)
        [why] = whys(paper.blocks)
        assert check(why), why
        hits = await commands.handle("/search mixture of experts", caller)
        assert whys(hits.blocks) and all(check(w) for w in whys(hits.blocks)), chat
        explained = await commands.handle("/why 2512.17073", caller)
        text = "\n".join(getattr(b, "text", "") for b in explained.blocks)
        reason = next(ln for ln in text.splitlines() if "): " in ln).split("): ", 1)[1]
        assert check(reason), reason


MOE = "mixture of experts, low-rank compensation, KV cache"


async def test_interest_judgements_give_each_reader_reasons_in_their_language_from_one_judgement(
    llm_services: Services, fake_openai: FakeOpenAI
) -> None:
    zh = Subscription(ZH_CHAT, lang="zh", min_score=5.0, interests=MOE)
    en = Subscription(EN_CHAT, lang="en", min_score=5.0, interests=MOE)
    for sub in (zh, en):
        await llm_services.store.save_subscription(sub, NOW)
    await run_day(llm_services, now=NOW, input_path=SAMPLE, write_markdown=False)
    judging = [c for c in fake_openai.calls()
               if (c.body.get("response_format") or {}).get("json_schema", {}).get("name") == "interest_scores"]
    assert len(judging) == 1 and reason_keys(judging[0]) == ["reason_zh", "reason_en"]
    calls = len(fake_openai.calls())
    for sub, check in ((zh, chinese), (en, english)):
        digest = await digest_for_subscription(llm_services, sub, now=NOW)
        assert digest is not None
        [mine] = [s for s in digest.sections if s.field.slug == "interests"]
        judged = [s.reason for _, s in mine.items if s.stage == "llm" and s.reason]  # "" below 7, as asked
        assert judged and all(check(r) for r in judged), (sub.lang, judged)
    assert len(fake_openai.calls()) == calls  # both digests share the one judgement


async def test_a_reason_asked_for_and_not_given_is_asked_once_and_falls_back_to_the_other_language(
    llm_services: Services, fake_openai: FakeOpenAI
) -> None:
    await subscribe(llm_services, ZH_CHAT, "zh")
    await run_day(llm_services, now=NOW, input_path=SAMPLE, write_markdown=False)
    before = {i: s for i, s in (await day_scores(llm_services)).items() if s.stage == "llm"}
    slugs = [f.slug for f in llm_services.fields]

    def elsewhere(paper: dict[str, object], offered: list[str]) -> tuple[str, int]:  # judged under another field
        stored = before[str(paper["id"])].field_slug
        return next(s for s in slugs if s != stored), 8

    fake_openai.scorer = elsewhere
    await subscribe(llm_services, EN_CHAT, "en")
    await run_day(llm_services, now=NOW.replace(hour=5), input_path=SAMPLE, write_markdown=False)
    after = await day_scores(llm_services)
    for arxiv_id, old in before.items():
        new = after[arxiv_id]
        assert (new.field_slug, new.value) == (old.field_slug, old.value)  # the reply's other field is not taken
        assert new.reasons["en"] == "" and new.reason_in("en") == old.reasons["zh"]
    calls = len(fake_openai.calls())
    await run_day(llm_services, now=NOW.replace(hour=6), input_path=SAMPLE, write_markdown=False)
    assert len(fake_openai.calls()) == calls  # asked once: no request on every later run
