"""LLM_JSON_MODE=auto against servers that refuse some JSON modes, with the real openai client and the fake.

The fake refuses the way llama-cpp-python's server does (a 500 naming `response_format`) or the way
OpenAI does for a model without structured output (a 400); see tests/fakes/openai_server.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.errors import ConfigError
from core.fields import load_fields
from core.models import Field, Paper
from core.prompts import load_prompt
from core.runs import summarise_runs
from core.score.jsonmode import JsonModes, json_modes_for, refuses_mode
from core.score.judge import score_summaries
from core.score.llm import LLMConfig, LLMResult, score_papers
from core.score.requests import json_response_format
from core.score.summaries import summarize
from core.services import Services
from core.store import Store
from tests.fakes.openai_server import FakeOpenAI, fake_openai, json_mode_of  # noqa: F401
from tests.test_llm_scoring import (
    FIELDS,
    llm,  # noqa: F401  (the fixture: an AsyncOpenAI on the fake)
    make_paper,
    offline,
)

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
NOW = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)


def config(**changes: Any) -> LLMConfig:
    base: dict[str, Any] = {"model": "test-model", "json_mode": "auto", "batch_size": 2, "concurrency": 4,
                            "timeout": 5.0, "max_retries": 0, "lang": "en"}
    return LLMConfig(**{**base, **changes})


async def score(llm: AsyncOpenAI, papers: Sequence[Paper], modes: JsonModes | None = None,
                **changes: Any) -> LLMResult:
    return await score_papers(llm, papers, FIELDS, prompt=load_prompt("score_papers"), config=config(**changes),
                              fallback=offline(papers), modes=modes)


def modes_sent(fake: FakeOpenAI) -> list[str]:
    return [json_mode_of(c.body) for c in fake.calls()]


# -- the ladder ---------------------------------------------------------------------------------------


async def test_auto_finds_json_object_with_the_schema_on_a_llama_cpp_server_and_refusal_costs_one_request(
    llm: AsyncOpenAI, fake_openai: FakeOpenAI,
) -> None:
    fake_openai.llama_cpp()
    papers = [make_paper(n) for n in range(10)]  # 5 batches, 4 in flight
    # The client retries a 500 by itself; a probe must not, or one refusal would cost four requests.
    result = await score(llm, papers, max_retries=3)
    assert {s.stage for s in result.scores} == {"llm"}
    assert fake_openai.refused == 1
    assert modes_sent(fake_openai) == ["json_schema"] + ["json_object_schema"] * 5
    assert result.requests == 6
    assert dict(result.json_modes) == {p.arxiv_id: "json_object_schema" for p in papers}
    schema = fake_openai.calls()[1].body["response_format"]["schema"]
    assert schema["properties"]["scores"]["items"]["properties"]["field"]["enum"] == [f.slug for f in FIELDS]


async def test_a_400_refusal_moves_down_the_ladder_too(llm: AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.json_modes = {"json_object", "none"}
    fake_openai.refusal_status = 400
    result = await score(llm, [make_paper(n) for n in range(4)])
    assert modes_sent(fake_openai) == ["json_schema", "json_object_schema", "json_object", "json_object"]
    assert set(result.json_modes.values()) == {"json_object"} and result.fallbacks == 0


async def test_a_server_that_takes_no_response_format_gets_the_prompt_alone(
    llm: AsyncOpenAI, fake_openai: FakeOpenAI,
) -> None:
    fake_openai.json_modes = {"none"}
    result = await score(llm, [make_paper(n) for n in range(4)])
    assert modes_sent(fake_openai) == ["json_schema", "json_object_schema", "json_object", "none", "none"]
    assert "response_format" not in fake_openai.calls()[-1].body
    assert set(result.json_modes.values()) == {"none"} and result.fallbacks == 0


async def test_a_plain_server_error_is_not_a_refusal(llm: AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.push("status", status=500)  # "fake 500": says nothing about response_format
    result = await score(llm, [make_paper(1)])
    assert modes_sent(fake_openai) == ["json_schema", "json_schema"]  # the failure, then the re-ask
    assert result.json_modes == {"2601.00001": "json_schema"}


async def test_a_request_refused_in_every_mode_teaches_nothing(llm: AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    # A 400 that the prompt alone gets too (say, a request over the context) is about the request, not its format.
    for _ in range(4):
        fake_openai.push("status", status=400)
    modes = JsonModes("auto")
    result = await score(llm, [make_paper(1)], modes=modes)
    assert modes_sent(fake_openai) == ["json_schema", "json_object_schema", "json_object", "none", "json_schema"]
    assert modes.accepted == "json_schema" and result.fallbacks == 0


async def test_an_explicit_mode_is_used_as_given(llm: AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.llama_cpp()
    result = await score(llm, [make_paper(n) for n in range(4)], json_mode="json_schema")
    assert set(modes_sent(fake_openai)) == {"json_schema"}
    assert result.fallbacks == 4 and result.json_modes == {}
    fake_openai.json_modes = None
    result = await score(llm, [make_paper(1)], json_mode="json_object_schema")
    assert modes_sent(fake_openai)[-1] == "json_object_schema" and result.fallbacks == 0


def test_each_mode_has_its_response_format() -> None:
    schema = {"type": "object"}
    assert json_response_format("json_schema", "n", schema) == {
        "type": "json_schema", "json_schema": {"name": "n", "schema": schema, "strict": True}}
    assert json_response_format("json_object_schema", "n", schema) == {"type": "json_object", "schema": schema}
    assert json_response_format("json_object", "n", schema) == {"type": "json_object"}
    assert json_response_format("none", "n", schema) is None


# -- judging and summaries use the negotiated mode ------------------------------------------------------


async def test_judging_and_summaries_share_the_negotiation(llm: AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.llama_cpp()
    modes = JsonModes("auto")
    items = [{"id": f"2601.{n:05d}", "title": f"Paper {n}", "abstract": "We study attention."} for n in range(4)]
    written = await summarize(llm, items, "en", prompt=load_prompt("summarize_papers"), config=config(),
                              translate=False, modes=modes)
    assert len(written.summaries) == 4 and written.requests == 3
    assert modes_sent(fake_openai) == ["json_schema"] + ["json_object_schema"] * 2
    assert "summaries" in fake_openai.calls()[-1].body["response_format"]["schema"]["properties"]
    papers = [make_paper(n) for n in range(4)]
    profile = Field("me", "我", "Me", "", "attention", (), ())
    judged = await score_summaries(llm, papers, profile, {p.arxiv_id: p.title for p in papers},
                                   prompt=load_prompt("judge_interests"), config=config(), fallback=offline(papers),
                                   modes=modes)
    assert {s.stage for s in judged.scores} == {"llm"}
    assert modes_sent(fake_openai)[3:] == ["json_object_schema"] * 2  # nothing probed again
    entry = fake_openai.calls()[-1].body["response_format"]["schema"]["properties"]["scores"]["items"]
    assert "field" not in entry["properties"]


# -- remembered per base URL and model --------------------------------------------------------------------


def llm_settings(tmp_path: Path, fake: FakeOpenAI, **extra: str) -> Settings:
    return Settings.from_env({
        "DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
        "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{fake.url}/v1", "LLM_MODEL": "test-model",
        "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT": "5", **extra})


async def test_the_accepted_mode_is_remembered_and_a_restart_does_not_probe(
    tmp_path: Path, fake_openai: FakeOpenAI, llm: AsyncOpenAI,
) -> None:
    fake_openai.llama_cpp()
    settings = llm_settings(tmp_path, fake_openai)
    fields = tuple(load_fields(settings.fields_path))
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, fields, llm=llm)
        assert settings.llm_json_mode == "auto"
        first = await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
        assert fake_openai.refused == 1
        assert await store.get_json_mode(str(llm.base_url), "test-model") == "json_object_schema"
        summary = summarise_runs(first.day, await store.runs_of_day(first.day))  # type: ignore[arg-type]
        ids = [p.arxiv_id for p in await store.papers_for_day(first.day)]  # type: ignore[arg-type]
        scored = await store.scored_papers(first.day, summary.scorer_key)  # type: ignore[arg-type,union-attr]
        llm_scored = {s.arxiv_id for _, s in scored if s.stage == "llm"}
        counts = await store.json_mode_counts(summary.scorer_key, ids)  # type: ignore[union-attr]
        assert counts == {"json_object_schema": len(llm_scored)} and llm_scored
    # A restart: a new process, the same database.
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, fields, llm=llm)
        modes = await json_modes_for(services, NOW)
        assert modes.accepted == "json_object_schema"
        before = len(fake_openai.calls())
        await score(llm, [make_paper(n) for n in range(4)], modes=modes)
        assert modes_sent(fake_openai)[before:] == ["json_object_schema"] * 2
        assert fake_openai.refused == 1


async def test_a_remembered_mode_that_fails_later_is_probed_again(
    tmp_path: Path, fake_openai: FakeOpenAI, llm: AsyncOpenAI, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = llm_settings(tmp_path, fake_openai)
    async with Store.open(settings.database_path) as store:
        base_url = str(llm.base_url)
        await store.save_json_mode(base_url, "test-model", "json_schema", NOW)
        await store.save_json_mode(base_url, "other-model", "none", NOW)
        services = Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
        fake_openai.json_modes = {"json_object"}  # the server was replaced
        fake_openai.refusal_status = 400
        modes = await json_modes_for(services, NOW)
        with caplog.at_level(logging.WARNING, logger="core.score.jsonmode"):
            result = await score(llm, [make_paper(n) for n in range(6)], modes=modes, concurrency=1)
        assert result.fallbacks == 0 and set(result.json_modes.values()) == {"json_object"}
        assert modes_sent(fake_openai) == ["json_schema", "json_schema", "json_object_schema",
                                           "json_object", "json_object", "json_object"]
        assert "now refuses JSON mode json_schema" in caplog.text
        assert await store.get_json_mode(base_url, "test-model") == "json_object"
        assert await store.get_json_mode(base_url, "other-model") == "none"


async def test_an_explicit_mode_is_neither_probed_nor_remembered(
    tmp_path: Path, fake_openai: FakeOpenAI, llm: AsyncOpenAI,
) -> None:
    settings = llm_settings(tmp_path, fake_openai, LLM_JSON_MODE="json_object")
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
        await run_day(services, now=NOW, input_path=SAMPLE, write_markdown=False)
        assert set(modes_sent(fake_openai)) == {"json_object"}
        assert await store.get_json_mode(str(llm.base_url), "test-model") is None


def test_the_setting_takes_auto_and_every_mode() -> None:
    for mode in ("auto", "json_schema", "json_object_schema", "json_object", "none"):
        assert Settings.from_env({"LLM_JSON_MODE": mode}).llm_json_mode == mode
    with pytest.raises(ConfigError, match="one of auto, json_schema"):
        Settings.from_env({"LLM_JSON_MODE": "xml"})


def test_which_answers_count_as_refusing_a_json_mode() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")

    def error(status: int, message: str) -> openai.APIStatusError:
        response = httpx.Response(status, json={"error": {"message": message}}, request=request)
        return openai.APIStatusError(message, response=response, body={"message": message})

    llama = "1 validation error: ('body', 'response_format', 'type') Input should be 'text' or 'json_object'"
    assert refuses_mode(error(500, llama), "json_schema")
    assert not refuses_mode(error(500, "out of memory"), "json_schema")  # a plain server error
    assert refuses_mode(error(400, "Invalid parameter"), "json_object") and refuses_mode(error(422, ""), "json_schema")
    for status in (401, 403, 404, 408, 409, 413, 429):
        assert not refuses_mode(error(status, "response_format"), "json_schema"), status
    assert not refuses_mode(error(400, "response_format"), "none")  # no response_format was sent
    assert not refuses_mode(openai.APIConnectionError(request=request), "json_schema")
