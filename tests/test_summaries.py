"""Per-language summaries: read once in English, translated from that reading, cached; excerpts offline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from bot.commands import Caller, Commands
from core.config import PROJECT_ROOT, Settings
from core.fetch.jsonl import load_papers
from core.fields import load_fields
from core.lookup import lookup_paper
from core.models import ChatRef, Note
from core.score.summaries import excerpt, first_sentence, first_sentences, get_summaries, parse_summary_reply
from core.services import Services
from core.store import Store
from tests.fakes.openai_server import ZH_SUMMARY, FakeOpenAI, fake_openai, find_papers  # noqa: F401

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)


@pytest.fixture
async def services(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Services]:
    settings = Settings.from_env({
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": f"{fake_openai.url}/v1", "LLM_MODEL": "test-model", "LLM_MAX_RETRIES": "0",
        "LLM_TIMEOUT": "5",
    })
    llm = AsyncOpenAI(api_key="test", base_url=f"{fake_openai.url}/v1", max_retries=0)
    async with Store.open(settings.database_path) as store:
        svc = Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
        await store.save_papers(load_papers(SAMPLE), NOW)
        yield svc
    await llm.close()


def summary_calls(fake: FakeOpenAI) -> list[Any]:
    return [c for c in fake.calls() if "paper_summaries" in str(c.body.get("response_format"))]


async def test_a_paper_is_read_once_and_each_language_translates_that_reading(
    services: Services, fake_openai: FakeOpenAI,
) -> None:
    papers = load_papers(SAMPLE)[:20]  # one batch
    english = await get_summaries(services, papers, "en", now=NOW, day=DAY, use_llm=True)
    chinese = await get_summaries(services, papers, "zh", now=NOW, day=DAY, use_llm=True)
    again = await get_summaries(services, papers[:10], "zh", now=NOW, day=DAY, use_llm=True)
    [read, translated] = summary_calls(fake_openai)
    assert {s.source for s in english.values()} == {"llm"} and chinese[papers[0].arxiv_id].text == ZH_SUMMARY
    assert again == {k: v for k, v in chinese.items() if k in again}
    assert papers[0].abstract[:120] in read.prompt and papers[0].abstract[:120] not in translated.prompt
    assert english[papers[0].arxiv_id].text in translated.prompt
    assert first_sentence(english[papers[0].arxiv_id].text).startswith(papers[0].title.rstrip("."))
    usage = await services.store.usage_for_day(DAY)
    assert usage["summaries"][2] == 2 and await services.store.tokens_spent(DAY) == sum(usage["summaries"][:2])


async def test_paper_summaries_come_in_the_chats_language(services: Services, fake_openai: FakeOpenAI) -> None:
    paper = load_papers(SAMPLE)[3]
    commands = Commands(services)
    zh = await commands.handle(f"/paper {paper.arxiv_id}", Caller(chat=ChatRef("telegram", "1"), now=NOW))
    assert f"摘要： {ZH_SUMMARY}" in "\n".join(b.text for b in zh.blocks if isinstance(b, Note))
    calls = len(summary_calls(fake_openai))
    en = await commands.handle(f"/paper {paper.arxiv_id}", Caller(chat=ChatRef("slack", "C1"), now=NOW,
                                                                  language_hint="en"))
    text = "\n".join(b.text for b in en.blocks if isinstance(b, Note))
    assert f"Summary: {paper.title.rstrip('.')}:" in text
    assert len(summary_calls(fake_openai)) == calls, "the English reading was already there"


async def test_without_an_llm_summaries_are_excerpts_marked_when_not_translated(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)))
        paper = load_papers(SAMPLE)[3]
        await store.save_papers([paper], NOW)
        view = await lookup_paper(services, paper.arxiv_id, now=NOW, lang="zh")
        assert view.summary == f"{first_sentences(paper.abstract)} （摘要原文，未翻译）"
        view = await lookup_paper(services, paper.arxiv_id, now=NOW, lang="en")
        assert view.summary == first_sentences(paper.abstract)


async def test_a_failing_llm_falls_back_to_excerpts_and_tries_again_later(
    services: Services, fake_openai: FakeOpenAI,
) -> None:
    papers = load_papers(SAMPLE)[:5]
    fake_openai.push("status", status=500)
    found = await get_summaries(services, papers, "zh", now=NOW, day=DAY, use_llm=True)
    assert found[papers[0].arxiv_id] == excerpt(papers[0], "zh")
    found = await get_summaries(services, papers, "zh", now=NOW, day=DAY, use_llm=True)
    assert {s.source for s in found.values()} == {"llm"}


def test_summary_replies_are_read_by_id_and_unknown_ids_ignored() -> None:
    reply = '```json\n{"summaries": [{"id": "1", "summary": "  One.  Two. "}, {"id": "9", "summary": "x"},' \
            ' {"id": "2", "summary": ""}]}\n```'
    assert parse_summary_reply(reply, ["1", "2"]) == {"1": "One. Two."}
    assert parse_summary_reply('{"1": "keyed"}', ["1"]) == {"1": "keyed"}
    assert parse_summary_reply("no json here", ["1"]) == {}
    sent = [{"id": p["id"]} for p in find_papers('<papers>\n[{"id":"1"}]\n</papers>')]
    assert sent == [{"id": "1"}]
