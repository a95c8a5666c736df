"""The real pipeline against llama-cpp-python's server and SmolLM2-135M, through the real openai client.

One session runs, once, what a deployment runs on a small day: the daily run (scoring, interest judging
and the summaries it reads), then `/paper` in another language. Every request the client sends is
recorded with its JSON mode and the server's answer. The tests assert protocol facts (the JSON mode
negotiated and remembered, one request per refused shape, one score per paper, tokens counted as the
server reported them), never the model's taste; the last one prints what the issue asks to report.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from core.config import PROJECT_ROOT, Settings
from core.daily import RunResult, run_day
from core.fetch.jsonl import load_papers
from core.fields import load_fields
from core.lookup import PaperView, lookup_paper
from core.models import ChatRef, Score, Subscription
from core.prompts import load_prompt
from core.runs import summarise_runs
from core.score.glossary import CJK
from core.score.interests import judge_key
from core.score.jsonmode import JsonModes, json_modes_for
from core.score.llm import LLMConfig, score_papers
from core.score.profile import parse_interests
from core.score.readings import ReadingResult, read_phrases
from core.score.readings import _cache as readings_cache
from core.score.summaries import summary_key
from core.services import Services
from core.store import Store
from tests.real_llm.conftest import LlamaServer

pytestmark = [pytest.mark.real_llm, pytest.mark.timeout(1200)]

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
NOW = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)
PAPERS = 4  # a handful: a 135M model on two cores answers a two-paper request in a few seconds
INTERESTS = 'Muon optimizer, imbalanced dataset classification, prosthetic arm control, "Muon"'


@dataclass
class Sent:
    """One chat request as the client sent it, and the server's answer."""

    mode: str
    status: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    content: str = ""


@dataclass
class Session:
    """What the session's run left behind, as plain values (the store is reopened by tests that need it)."""

    settings: Settings
    base_url: str
    run: RunResult
    view: PaperView
    sent: list[Sent]
    ids: list[str]
    scores: list[Score]
    remembered: str | None
    modes: Counter[str]
    judgements: dict[str, Score]
    usage: dict[str, tuple[int, int, int]]
    summaries: int


def json_mode_of(body: dict[str, Any]) -> str:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return "none"
    if fmt.get("type") == "json_object":
        return "json_object_schema" if "schema" in fmt else "json_object"
    return str(fmt.get("type"))


def recording_client(server: LlamaServer, sent: list[Sent]) -> AsyncOpenAI:
    """The real openai client, with hooks that note each chat request's JSON mode and the server's answer."""
    by_request: dict[int, Sent] = {}

    async def on_request(request: Any) -> None:
        if request.url.path.endswith("/chat/completions"):
            entry = Sent(json_mode_of(json.loads(request.content)))
            sent.append(entry)
            by_request[id(request)] = entry

    async def on_response(response: Any) -> None:
        entry = by_request.pop(id(response.request), None)
        if entry is None:
            return
        await response.aread()
        entry.status = response.status_code
        if response.status_code == 200:
            body = response.json()
            entry.usage = body.get("usage") or {}
            entry.content = (body.get("choices") or [{}])[0].get("message", {}).get("content") or ""

    http = openai.DefaultAsyncHttpxClient(event_hooks={"request": [on_request], "response": [on_response]})
    return AsyncOpenAI(base_url=server.base_url, api_key="local", http_client=http, max_retries=1, timeout=300)


def settings_for(server: LlamaServer, folder: Path) -> Settings:
    return Settings.from_env({
        "DATABASE_PATH": str(folder / "db.sqlite"), "DIGEST_DIR": str(folder / "digests"),
        "OPENAI_API_KEY": "local", "OPENAI_BASE_URL": server.base_url, "LLM_MODEL": server.model,
        "LLM_BATCH_SIZE": "2", "LLM_CONCURRENCY": "2", "LLM_TIMEOUT": "300", "LLM_MAX_RETRIES": "1",
    })


async def run_session(server: LlamaServer, folder: Path) -> Session:
    day_file = folder / "day.jsonl"
    with SAMPLE.open(encoding="utf-8") as src:
        day_file.write_text("".join(next(src) for _ in range(PAPERS)), encoding="utf-8")
    settings = settings_for(server, folder)
    sent: list[Sent] = []
    llm = recording_client(server, sent)
    try:
        async with Store.open(settings.database_path) as store:
            services = Services(settings, store, tuple(load_fields(settings.fields_path)), llm=llm)
            await store.save_subscription(Subscription(ChatRef("telegram", "1"), interests=INTERESTS), NOW)
            run = await run_day(services, now=NOW, input_path=day_file)
            assert run.day is not None
            ids = [p.arxiv_id for p in load_papers(day_file)]
            # /paper in the other language: a new scorer key, so the LLM scores and summarises it again.
            view = await lookup_paper(services, ids[0], now=NOW, lang="en")
            summary = summarise_runs(run.day, await store.runs_of_day(run.day))
            assert summary is not None
            scores = [s for _, s in await store.scored_papers(run.day, summary.scorer_key)]
            profile_rows = await store.list_subscriptions()
            judged = await judgements_of(store, profile_rows[0].interests, settings, ids)
            return Session(
                settings=settings, base_url=str(llm.base_url), run=run, view=view, sent=sent, ids=ids,
                scores=scores, remembered=await store.get_json_mode(str(llm.base_url), server.model),
                modes=await store.json_mode_counts(summary.scorer_key, ids), judgements=judged,
                usage=await store.usage_for_day(run.day),
                summaries=len(await store.get_summaries(
                    summary_key(server.model, load_prompt("summarize_papers")), "en", ids)),
            )
    finally:
        await llm.close()


async def judgements_of(store: Store, interests: str, settings: Settings, ids: list[str]) -> dict[str, Score]:
    profile = parse_interests(interests)
    key = judge_key(settings.llm_model, load_prompt("judge_interests").version,
                    summary_key(settings.llm_model, load_prompt("summarize_papers")), settings.digest_language)
    return await store.get_judgements(profile.key, key, ids)


@pytest.fixture(scope="session")
def session(llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Session:
    return asyncio.run(run_session(llama_server, tmp_path_factory.mktemp("pipeline")))


# -- the JSON mode --------------------------------------------------------------------------------------


def test_the_server_refuses_json_schema_once_and_auto_settles_on_json_object_with_the_schema(
    session: Session,
) -> None:
    first, *rest = session.sent
    assert (first.mode, first.status) == ("json_schema", 500)  # llama.cpp: "Input should be 'text' or 'json_object'"
    assert rest and {s.mode for s in rest} == {"json_object_schema"}
    assert all(s.status == 200 for s in rest)
    assert session.remembered == "json_object_schema"


def test_every_paper_has_exactly_one_score_and_the_header_counts_the_servers_tokens(session: Session) -> None:
    assert sorted(s.arxiv_id for s in session.scores) == sorted(session.ids)
    assert {s.stage for s in session.scores} <= {"llm", "offline-fallback"}
    assert all(s.value is not None and 1 <= s.value <= 10 for s in session.scores)
    # Each LLM score came through the negotiated mode, recorded per paper.
    assert set(session.modes) <= {"json_object_schema"}
    assert sum(session.modes.values()) == sum(1 for s in session.scores if s.stage == "llm")
    run = session.run
    scoring_tokens = run.tokens_in + run.tokens_out
    answered = sum(s.usage.get("total_tokens", 0) for s in session.sent)
    other = sum(t_in + t_out for t_in, t_out, _ in session.usage.values())
    assert scoring_tokens > 0 and scoring_tokens + other <= answered
    header = run.markdown.splitlines()[:4]
    assert any(session.settings.llm_model in line and f"{scoring_tokens:,}" in line for line in header), header


def test_interests_are_judged_on_summaries_through_the_same_mode(session: Session) -> None:
    assert session.judgements, "the subscriber's interests routed some papers to the judge"
    assert {s.stage for s in session.judgements.values()} <= {"llm", "offline-fallback"}
    assert session.usage["interests"][2] >= 1 and session.usage["summaries"][2] >= 1
    assert session.summaries >= 1 or all(s.stage == "offline-fallback" for s in session.judgements.values())


def test_paper_lookup_scores_and_summarises_in_the_readers_language(session: Session) -> None:
    view = session.view
    assert view.paper.arxiv_id == session.ids[0] and not view.fetched
    assert view.score.stage in {"llm", "offline-fallback"} and view.score.value is not None
    assert view.summary.strip()


def test_a_restart_remembers_the_mode_and_sends_no_refused_shape(
    session: Session, llama_server: LlamaServer, tmp_path: Path,
) -> None:
    async def restart() -> list[Sent]:
        sent: list[Sent] = []
        llm = recording_client(llama_server, sent)
        try:
            async with Store.open(session.settings.database_path) as store:
                services = Services(session.settings, store, tuple(load_fields(session.settings.fields_path)), llm=llm)
                modes = await json_modes_for(services, NOW)
                assert modes.accepted == "json_object_schema"
                papers = load_papers(SAMPLE)[PAPERS : PAPERS + 1]
                result = await score_papers(
                    llm, papers, services.fields, prompt=load_prompt("score_papers"),
                    config=LLMConfig.from_settings(session.settings), fallback={}, modes=modes)
                assert len(result.scores) == 1
        finally:
            await llm.close()
        return sent

    sent = asyncio.run(restart())
    assert sent and {s.mode for s in sent} == {"json_object_schema"}


def test_report_the_figures(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    llm_scored = sum(session.modes.values())
    share = {mode: f"{n}/{len(session.scores)}" for mode, n in session.modes.items()}
    offline = sum(1 for s in session.scores if s.stage != "llm")
    lines = [
        f"requests: {len(session.sent)} ({Counter(f'{s.mode}:{s.status}' for s in session.sent)})",
        f"papers scored through each JSON mode: {share or '{}'}; offline fallback: {offline}/{len(session.scores)}"
        f" (LLM-scored {llm_scored})",
        "digest header:",
        *session.run.markdown.splitlines()[:4],
        "replies:",
        *(repr(s.content[:300]) for s in session.sent if s.content),
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def test_a_chinese_phrase_is_read_into_english_through_the_real_server(
    session: Session, llama_server: LlamaServer,
) -> None:
    """A small model's answer is whatever it is: what reaches the router is Latin text for a phrase sent, or
    nothing (the glossary's reading stays); the request goes in the server's accepted mode."""
    async def read() -> tuple[ReadingResult, list[Sent]]:
        sent: list[Sent] = []
        llm = recording_client(llama_server, sent)
        readings_cache.clear()
        try:
            modes = JsonModes("auto", remembered=session.remembered)
            result = await read_phrases(llm, ["否定词理解", "强化学习"], prompt=load_prompt("read_interests"),
                                        config=LLMConfig.from_settings(session.settings), modes=modes)
        finally:
            await llm.close()
        return result, sent

    result, sent = asyncio.run(read())
    assert [s.mode for s in sent] == ["json_object_schema"] and sent[0].status == 200, "one request: 强化学习 is known"
    assert set(result.english) <= {"否定词理解"} and result.requests == 1
    assert all(english.strip() and not CJK.search(english) for english in result.english.values()), result.english
