"""Honest degradation: when the LLM scored fewer papers than it was asked about, every reader's header says
so in the reader's language with the count, `run`'s last line and `status` too, and `run` exits 3 when
more than half fell back. The run stores facts (counts by stage), never a sentence in one language."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from bot.cli import EXIT_DEGRADED, dispatch, parse_args
from core.build.digest import digest_blocks, header_lines
from core.config import Settings
from core.daily import run_day
from core.fields import load_fields
from core.models import ChatRef, LLMShare, Note, Subscription
from core.services import Services
from core.store import Store
from core.views import digest_for_subscription
from tests.fakes.openai_server import FakeOpenAI, default_score, fake_openai  # noqa: F401
from tests.test_pipeline_llm import NOW, SAMPLE, llm_env

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def env(tmp_path: Path, fake: FakeOpenAI) -> dict[str, str]:
    return llm_env(tmp_path, fake)


def refuse_a_few(fake: FakeOpenAI) -> None:
    """Answer every paper whose id ends in 1 with a field that does not exist, re-asked or not: those fall back."""
    def scorer(paper: dict[str, Any], slugs: list[str]) -> tuple[str, int]:
        return ("not-a-field", 8) if str(paper["id"]).endswith("1") else default_score(paper, slugs)

    fake.scorer = scorer


@pytest.fixture
async def services(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Services]:
    settings = Settings.from_env(env(tmp_path, fake_openai))
    llm = AsyncOpenAI(api_key="sk-test", base_url=f"{fake_openai.url}/v1", max_retries=0)
    async with Store.open(settings.database_path) as store:
        yield Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
    await llm.close()


def refuse_everything(fake: FakeOpenAI, n: int = 400) -> None:
    for _ in range(n):
        fake.push("status", status=400)


async def test_when_every_paper_fell_back_each_reader_is_told_in_their_language_and_no_model_is_named(
    services: Services, fake_openai: FakeOpenAI,
) -> None:
    refuse_everything(fake_openai)
    result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)

    share = result.llm
    assert share is not None and share.asked > 0 and share.failed == share.asked and result.degraded
    n = share.asked
    # The day's own digest (DIGEST_LANGUAGE zh): the count, and the offline scorer named as what stood in.
    assert f"LLM 评分失败：{n}/{n} 篇使用离线评分" in result.markdown
    assert "test-model" not in result.markdown
    assert "使用模型：离线评分（LLM 未能评分任何论文，由离线评分代替）" in result.markdown
    # The run's last line says the same, for the operator.
    assert f"LLM scoring failed: {n}/{n} papers use the offline score" in result.message
    assert "offline scorer stood in" in result.message
    # The run stores facts, not a sentence in one language.
    [run] = await services.store.list_runs()
    assert json.loads(run.note) == {"llm": {"asked": n, "failed": n, "budget": 0}}
    # A chat that reads English gets it in English, though the install's language is zh.
    sub = Subscription(ChatRef("slack", "C1"), lang="en")
    digest = await digest_for_subscription(services, sub, now=NOW)
    assert digest is not None and digest.llm == LLMShare(n, n, 0)
    header = header_lines(digest, "UTC")
    assert f"LLM scoring failed: {n}/{n} papers use the offline score" in header
    assert "Model: offline scorer (stood in: the LLM scored no paper) | Tokens: 0" in header
    notes = [b.text for b in digest_blocks(digest, "UTC") if isinstance(b, Note)]
    assert not any(CHINESE.search(line) for line in notes), notes


async def test_a_few_papers_falling_back_are_counted_and_the_model_still_named(
    services: Services, fake_openai: FakeOpenAI,
) -> None:
    refuse_a_few(fake_openai)
    result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)

    share = result.llm
    assert share is not None and 0 < share.failed < share.asked / 2 and not result.degraded
    assert f"LLM 评分失败：{share.failed}/{share.asked} 篇使用离线评分" in result.markdown
    assert "使用模型：test-model" in result.markdown


async def test_a_clean_run_has_no_fallback_line(services: Services) -> None:
    result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)

    assert result.llm is not None and result.llm.fell_back == 0 and not result.degraded
    assert "LLM 评分失败" not in result.markdown and "LLM scoring failed" not in result.message


async def run_cli(argv: list[str], settings: Settings) -> int:
    return await dispatch(parse_args(argv), settings, lambda: NOW)


async def test_run_exits_3_when_most_papers_fell_back_and_status_says_why(
    tmp_path: Path, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings.from_env(env(tmp_path, fake_openai))
    refuse_everything(fake_openai)

    assert await run_cli(["run", "--input", str(SAMPLE), "--quiet"], settings) == EXIT_DEGRADED == 3
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.search(r"LLM scoring failed: (\d+)/\1 papers use the offline score", last), last
    assert "stood in" in last

    assert await run_cli(["status"], settings) == 0
    out = capsys.readouterr().out
    assert re.search(r"llm: +LLM scoring failed: (\d+)/\1 papers use the offline score", out), out
    assert "scorer:     offline scorer stood in: LLM test-model scored no paper" in out
    assert "note:" not in out, "the run's facts are worded, never printed raw"


async def test_run_exits_0_when_only_a_few_papers_fell_back(
    tmp_path: Path, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings.from_env(env(tmp_path, fake_openai))
    refuse_a_few(fake_openai)

    assert await run_cli(["run", "--input", str(SAMPLE), "--quiet"], settings) == 0
    assert "LLM scoring failed: " in capsys.readouterr().err


async def test_a_spent_budget_is_counted_in_the_readers_language(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = Settings.from_env(llm_env(tmp_path, fake_openai, LLM_DAILY_TOKEN_BUDGET="3000", LLM_CONCURRENCY="1"))
    llm = AsyncOpenAI(api_key="sk-test", base_url=f"{fake_openai.url}/v1", max_retries=0)
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
        result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
        share = result.llm
        assert share is not None and share.budget > 0 and share.failed == 0
        assert f"已达到每日 Token 预算：{share.budget}/{share.asked} 篇使用离线评分" in result.markdown
        digest = await digest_for_subscription(services, Subscription(ChatRef("slack", "C1"), lang="en"), now=NOW)
        assert digest is not None
        line = f"Daily token budget reached: {share.budget}/{share.asked} papers use the offline score"
        assert line in header_lines(digest, "UTC")
    await llm.close()
