"""The daily cycle with the LLM scorer, through the real openai client and a fake endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from bot.cli import main
from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.fields import load_fields
from core.models import ChatRef, Subscription
from core.runs import summarise_runs
from core.score.cache import OfflineRanker
from core.score.llm import select_candidates
from core.score.offline import OfflineScorer
from core.score.ranker import select
from core.services import Services
from core.store import Store
from core.views import digest_for_subscription
from tests.fakes.openai_server import FakeOpenAI, fake_openai, find_papers  # noqa: F401

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
NOW = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)


def llm_env(tmp_path: Path, fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    return {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
            "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{fake.url}/v1", "LLM_MODEL": "test-model",
            "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT": "5", **extra}


@pytest.fixture
async def services(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Services]:
    settings = Settings.from_env(llm_env(tmp_path, fake_openai))
    llm = AsyncOpenAI(api_key="sk-test", base_url=f"{fake_openai.url}/v1", max_retries=0)
    async with Store.open(settings.database_path) as store:
        yield Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
    await llm.close()


async def test_the_llm_reads_the_cheap_stages_share_and_the_header_counts_its_tokens(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
    prompt_tokens, completion_tokens = fake_openai.usage_totals()
    assert result.tokens_in == prompt_tokens and result.tokens_out == completion_tokens > 0
    summary = summarise_runs(result.day, await services.store.runs_of_day(result.day))  # type: ignore[arg-type]
    scores = await services.store.scored_papers(result.day, summary.scorer_key)  # type: ignore[arg-type,union-attr]
    stages = {s.stage for _, s in scores}
    assert stages == {"llm", "offline"}
    llm_read = sum(1 for _, s in scores if s.stage == "llm")
    assert llm_read == pytest.approx(116 * services.settings.llm_pass_rate, abs=2)
    # The learned ranker chose them: its top share of the day, by the logit of each paper's best field.
    papers = await services.store.papers_for_day(result.day)  # type: ignore[arg-type]
    chosen = select(OfflineRanker(services.fields).rank_many(papers, "zh"), services.settings.llm_pass_rate)
    assert {s.arxiv_id for _, s in scores if s.stage == "llm"} == set(chosen)
    hand_weighted = select_candidates(OfflineScorer(services.fields).score_many(papers, "zh"),
                                      services.settings.llm_pass_rate)
    assert set(chosen) != set(hand_weighted), "the ranker, not the hand-weighted scorer, chose the papers"
    # The papers the LLM did not read keep the ranker's score, with its reason in the readers' language.
    kept = [s for _, s in scores if s.stage == "offline"]
    assert kept and all(set(s.reasons) == {"zh"} and s.reason == s.reasons["zh"] for s in kept)
    assert f"使用模型：test-model | 消耗 Tokens：{prompt_tokens + completion_tokens:,}" in result.markdown
    [run] = await services.store.list_runs()
    assert (run.tokens_in, run.tokens_out, run.model) == (prompt_tokens, completion_tokens, "test-model")


async def test_rerunning_a_day_spends_no_tokens_and_returns_identical_scores(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    first = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
    calls = len(fake_openai.calls())
    again = await run_day(services, now=NOW.replace(hour=5), input_path=SAMPLE, write_markdown=False)
    assert len(fake_openai.calls()) == calls and again.tokens_in == again.tokens_out == 0
    assert again.markdown == first.markdown


async def test_a_new_subscriber_whose_fields_are_scored_spends_no_tokens(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
    calls = len(fake_openai.calls())
    sub = Subscription(ChatRef("slack", "C1"), fields=("efficient-llm", "safety-alignment"), min_score=5)
    digest = await digest_for_subscription(services, sub, now=NOW)
    assert digest is not None and len(fake_openai.calls()) == calls


async def test_a_spent_budget_falls_back_to_offline_and_the_digest_says_so(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = Settings.from_env(llm_env(tmp_path, fake_openai, LLM_DAILY_TOKEN_BUDGET="3000", LLM_CONCURRENCY="1"))
    llm = AsyncOpenAI(api_key="sk-test", base_url=f"{fake_openai.url}/v1", max_retries=0)
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
        result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
    await llm.close()
    assert "已达到每日 Token 预算" in result.markdown
    assert result.tokens_in + result.tokens_out < 3000 + 3000, "at most the requests in flight overshoot"


async def test_a_failing_endpoint_loses_no_paper(services: Services, fake_openai: FakeOpenAI) -> None:
    for _ in range(40):
        fake_openai.push("status", status=500)
    result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
    summary = summarise_runs(result.day, await services.store.runs_of_day(result.day))  # type: ignore[arg-type]
    scored = await services.store.scored_papers(result.day, summary.scorer_key)  # type: ignore[arg-type,union-attr]
    assert len(scored) == 116 and all(s.value is not None for _, s in scored)
    assert any(s.stage == "offline-fallback" for _, s in scored)
    assert "LLM 评分失败" in result.markdown


def test_cli_stats_shows_tokens_per_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "d")}
    assert main(["run", "--offline", "--input", str(SAMPLE), "--quiet"], env=env) == 0
    capsys.readouterr()
    assert main(["stats"], env=env) == 0
    out = capsys.readouterr().out
    assert "tokens in" in out and "2025-12-22" in out and "offline" in out


async def test_an_embedding_model_picks_what_the_llm_reads(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    from core.score.embed import score_by_embedding

    settings = Settings.from_env(llm_env(tmp_path, fake_openai, EMBEDDING_MODEL="embed-small"))
    llm = AsyncOpenAI(api_key="sk-test", base_url=f"{fake_openai.url}/v1", max_retries=0)
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
        result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
        embed_calls = fake_openai.calls("embeddings")
        assert embed_calls and all(c.body["model"] == "embed-small" for c in embed_calls)
        assert sum(len(c.body["input"]) for c in embed_calls) == len(services.fields) + 116
        sent = {p["id"] for c in fake_openai.calls() for p in find_papers(c.prompt)}
        papers = await store.papers_for_day(result.day)  # type: ignore[arg-type]
        ranked = await score_by_embedding(llm, papers, services.fields, model="embed-small")
        assert sent == set(select_candidates(ranked.scores, settings.llm_pass_rate))
        offline = set(select(OfflineRanker(services.fields).rank_many(papers, "zh"), settings.llm_pass_rate))
        assert sent != offline, "the embedding stage, not the offline scorer, chose the papers"
        # Every token counts, the embeddings' too; the offline score stays on papers the LLM did not read.
        embed_tokens = sum(c.usage["prompt_tokens"] for c in embed_calls if c.usage)
        assert result.tokens_in == fake_openai.usage_totals()[0] + embed_tokens
        summary = summarise_runs(result.day, await store.runs_of_day(result.day))  # type: ignore[arg-type]
        assert summary is not None and summary.scorer_key.endswith("|embed:embed-small")
        stages = {s.stage for _, s in await store.scored_papers(result.day, summary.scorer_key)}  # type: ignore[arg-type]
        assert stages == {"llm", "offline"}
    await llm.close()


async def test_a_failing_embeddings_endpoint_falls_back_to_the_offline_ranking(
    tmp_path: Path, fake_openai: FakeOpenAI,
) -> None:
    settings = Settings.from_env(llm_env(tmp_path, fake_openai, EMBEDDING_MODEL="embed-small"))
    llm = AsyncOpenAI(api_key="sk-test", base_url=f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.push("status", route="embeddings", status=500)
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
        result = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
        papers = await store.papers_for_day(result.day)  # type: ignore[arg-type]
        offline = select(OfflineRanker(services.fields).rank_many(papers, "zh"), settings.llm_pass_rate)
        assert {p["id"] for c in fake_openai.calls() for p in find_papers(c.prompt)} == set(offline)
    await llm.close()


async def test_the_run_is_stamped_by_the_clock_it_is_given(services: Services) -> None:
    from datetime import timedelta

    end = NOW + timedelta(seconds=42)
    await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False, clock=lambda: end)
    [run] = await services.store.list_runs()
    assert run.started_at == NOW and run.finished_at == end
