"""The learned ranker wired in: the offline scorer, the `score` CLI and /paper score with it, its model read from
the package data, and its model file's hash in the offline scorer's cache key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from core.config import PROJECT_ROOT, Settings
from core.fetch.jsonl import load_papers
from core.fields import load_fields
from core.lookup import lookup_paper
from core.score.cache import OfflineRanker, offline_scorer_key, score_with_cache
from core.score.offline import OfflineScorer
from core.score.ranker import Ranker, load_model
from core.score.ranker_model import shipped_model
from core.services import Services
from core.store import Store

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
NOW = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)
FIELDS = tuple(load_fields(None))


def test_the_offline_scorer_is_the_ranker_with_its_reason_in_every_language() -> None:
    papers = load_papers(SAMPLE)[:20]
    ranker = Ranker(FIELDS)
    for lang, other in (("zh", "en"), ("en", "zh")):
        ours = OfflineRanker(FIELDS).score_many(papers, lang)
        for paper, score in zip(papers, ours, strict=True):
            mine, theirs = ranker.score(paper, lang), ranker.score(paper, other)
            assert (score.value, score.field_slug, dict(score.field_scores)) == (
                mine.value, mine.field_slug, dict(mine.field_scores))
            assert score.reason == score.reasons[lang] == mine.reason
            assert score.reasons[other] == theirs.reason and score.reason_in(other) == theirs.reason
    hand_weighted = OfflineScorer(FIELDS).score_many(papers, "zh")
    assert [s.value for s in ours] != [s.value for s in hand_weighted]


async def test_a_new_readers_language_is_worded_without_scoring_again(tmp_path: Path) -> None:
    papers = load_papers(SAMPLE)[:12]
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, FIELDS)
        await store.save_papers(papers, NOW)
        first = await score_with_cache(services, papers, offline=True, now=NOW, budget_day=None)
        assert all(set(s.reasons) == {"zh"} for s in first.scores)  # only the language asked for is worded
        both = await score_with_cache(services, papers, offline=True, now=NOW, budget_day=None, langs=("en",))
        assert both.scored == 0, "no paper is scored again for a new language"
        assert [(s.value, s.field_slug, s.reason) for s in both.scores] == [
            (s.value, s.field_slug, s.reason) for s in first.scores]
        ranker = Ranker(FIELDS)
        assert [s.reasons["en"] for s in both.scores] == [ranker.score(p, "en").reason for p in papers]
        stored = await store.get_scores(both.scorer_key, [p.arxiv_id for p in papers])
        assert all(set(s.reasons) == {"zh", "en"} for s in stored.values())
        again = await score_with_cache(services, papers, offline=True, now=NOW, budget_day=None)
        assert again.scores == both.scores and again.scored == 0


def test_the_model_is_read_from_the_package_data_as_the_checkout_holds_it() -> None:
    model, digest = shipped_model()
    assert model == load_model()
    assert len(digest) == 64 and shipped_model() is shipped_model()  # read once per process


def test_a_new_ranker_model_is_a_new_offline_scorer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = offline_scorer_key(FIELDS)
    model, digest = shipped_model()
    monkeypatch.setattr("core.score.cache.shipped_model", lambda: (model, "0" * 64))
    assert offline_scorer_key(FIELDS) != key
    monkeypatch.setattr("core.score.cache.shipped_model", lambda: (model, digest))
    assert offline_scorer_key(FIELDS) == key
    assert offline_scorer_key(FIELDS[:3]) != key


def test_another_release_of_the_embeddings_is_a_new_offline_scorer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.score.ranker_embed import embedding_version

    key = offline_scorer_key(FIELDS)
    assert embedding_version().startswith("wordllama-0.4.") and embedding_version().endswith(":l2_supercat:256")
    monkeypatch.setattr("core.score.cache.embedding_version", lambda: "wordllama-0.4.99:l2_supercat:256")
    assert offline_scorer_key(FIELDS) != key


async def test_scores_of_another_model_are_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    papers = load_papers(SAMPLE)[:12]
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    async with Store.open(settings.database_path) as store:
        services = Services(settings, store, FIELDS)
        await store.save_papers(papers, NOW)
        first = await score_with_cache(services, papers, offline=True, now=NOW, budget_day=None)
        again = await score_with_cache(services, papers, offline=True, now=NOW, budget_day=None)
        assert first.scored == len(papers) and again.scored == 0 and again.scores == first.scores
        model, _ = shipped_model()
        monkeypatch.setattr("core.score.cache.shipped_model", lambda: (model, "f" * 64))
        retrained = await score_with_cache(services, papers, offline=True, now=NOW, budget_day=None)
        assert retrained.scored == len(papers) and retrained.scorer_key != first.scorer_key


def test_the_score_command_prints_the_rankers_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en"}
    assert main(["score", str(SAMPLE), "--offline"], env=env) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    papers = load_papers(SAMPLE)
    assert [p["id"] for p in printed] == [p.arxiv_id for p in papers]
    expected = Ranker(FIELDS).score_many(papers, "en")
    assert [(p["field"], p["score"], p["reason"]) for p in printed] == [
        (s.field_slug, s.value, s.reason) for s in expected]


async def test_paper_lookup_scores_with_the_ranker(tmp_path: Path) -> None:
    paper = load_papers(SAMPLE)[0]
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite")})
    async with Store.open(settings.database_path) as store:
        await store.save_papers([paper], NOW)
        view = await lookup_paper(Services(settings, store, FIELDS), paper.arxiv_id, offline=True, now=NOW)
    expected = Ranker(FIELDS).score(paper, "zh")
    assert (view.score.value, view.score.field_slug, view.score.reason) == (
        expected.value, expected.field_slug, expected.reason)


def test_the_default_pass_rate_keeps_the_strong_papers() -> None:
    # 0.53: the ranker's cross-validated share that still passes 97% of the papers a strong LLM scores 8 or more
    assert Settings.from_env({}).llm_pass_rate == 0.53
