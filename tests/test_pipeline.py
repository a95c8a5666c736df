"""The daily cycle against a fake arXiv, and the CLI end to end on the shipped sample day."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main
from core.build.digest import INTERESTS_SLUG, digest_blocks
from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.errors import SourceError
from core.fetch.jsonl import load_papers
from core.fields import load_fields
from core.lookup import lookup_paper
from core.models import ChatRef, Subscription
from core.score.profile import interest_field
from core.services import Services
from core.store import Store
from core.views import build_day_digest, digest_for_subscription
from tests.fakes.arxiv import FakeArxiv, fake_arxiv  # noqa: F401

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
SAMPLE_DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
            "ARXIV_REQUEST_DELAY": "0", **extra}


@pytest.fixture
async def services(tmp_path: Path, fake_arxiv: FakeArxiv) -> AsyncIterator[Services]:  # noqa: F811
    settings = Settings.from_env(env_for(tmp_path, **fake_arxiv.settings_env(), ARXIV_MAX_TRIES="2"))
    async with Store.open(settings.database_path) as store, aiohttp.ClientSession() as http:
        yield Services(settings, store, tuple(load_fields(settings.fields_path)), http=http,
                        monotonic=time.monotonic, sleep=asyncio.sleep)


async def test_a_listing_is_fetched_stored_scored_and_written(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    papers = load_papers(SAMPLE)
    fake_arxiv.set_listing(SAMPLE_DAY, new=papers[:40], cross=papers[40:50], replace=papers[50:60])
    result = await run_day(services, now=NOW)
    assert result.status == "done" and result.day == SAMPLE_DAY
    assert result.papers_read == 50 and result.new_papers == 50 and result.scored == 50
    stored = {p.arxiv_id for p in await services.store.papers_for_day(SAMPLE_DAY)}
    assert stored == {p.arxiv_id for p in papers[:50]}, "replacements are skipped"
    assert result.markdown_path is not None
    text = result.markdown_path.read_text(encoding="utf-8")
    assert text.startswith("# ArXiv 每日推荐 - 2025-12-22\n")
    assert "已自动阅读了 50 篇最新的论文。" in text
    [rss] = fake_arxiv.calls("rss")
    assert rss.path == "/rss/cs.AI+cs.CL+cs.CV+cs.LG"


async def test_the_listings_comments_are_read_from_the_api_and_show_their_code_links(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    # The RSS listing has no comments; the export API has them ("Code: ..."), read by id for the listing.
    papers = load_papers(SAMPLE)[:30]
    commented = replace(papers[0], comment="12 pages. Code: https://github.com/example/kv-cache")
    fake_arxiv.set_listing(SAMPLE_DAY, new=papers)
    fake_arxiv.add_papers([commented, *papers[1:]])
    result = await run_day(services, now=NOW)
    assert result.status == "done" and result.papers_read == 30
    [api] = fake_arxiv.calls("api")
    assert sorted(api.query["id_list"].split(",")) == sorted(p.arxiv_id for p in papers)
    stored = {p.arxiv_id: p for p in await services.store.papers_for_day(SAMPLE_DAY)}
    assert stored[commented.arxiv_id].comment == commented.comment
    assert all(not p.comment for i, p in stored.items() if i != commented.arxiv_id)
    digest = await build_day_digest(services, SAMPLE_DAY, lang="en", min_score=0.0, field_slugs=())
    assert digest is not None
    blocks = [b for b in digest_blocks(digest) if getattr(b, "arxiv_id", "") == commented.arxiv_id]
    assert [b.code_url for b in blocks] == ["https://github.com/example/kv-cache"]  # type: ignore[attr-defined]


async def test_a_failing_api_leaves_the_listing_without_comments_and_the_day_runs(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    papers = load_papers(SAMPLE)[:20]
    fake_arxiv.set_listing(SAMPLE_DAY, new=papers)
    fake_arxiv.add_papers([replace(papers[0], comment="Code: https://github.com/example/x")])
    fake_arxiv.fail_next("api", 503, times=2)  # ARXIV_MAX_TRIES is 2 here
    result = await run_day(services, now=NOW)
    assert result.status == "done" and result.papers_read == 20 and result.scored == 20
    assert all(not p.comment for p in await services.store.papers_for_day(SAMPLE_DAY))


async def test_a_second_run_scores_nothing_and_writes_the_same_digest(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    fake_arxiv.set_listing(SAMPLE_DAY, new=load_papers(SAMPLE))
    first = await run_day(services, now=NOW)
    again = await run_day(services, now=NOW.replace(hour=9))
    assert again.scored == 0 and again.new_papers == 0
    assert again.markdown == first.markdown
    runs = await services.store.list_runs()
    assert [r.scored for r in runs] == [0, 116]


async def test_an_empty_feed_is_no_announcement_and_stores_nothing(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    fake_arxiv.serve_empty(date(2025, 12, 20))
    result = await run_day(services, now=NOW)
    assert result.status == "no-announcement"
    assert "no announcement today" in result.message
    assert result.markdown_path is None and await services.store.count_papers() == 0
    digest = await build_day_digest(services, date(2025, 12, 20), lang="en", min_score=7)
    assert digest is not None and not digest.announced


async def test_a_stale_feed_never_rescores_an_earlier_day(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    papers = load_papers(SAMPLE)
    fake_arxiv.set_listing(SAMPLE_DAY, new=papers)
    await run_day(services, now=NOW)
    next_day = date(2025, 12, 23)
    fake_arxiv.set_listing(next_day, new=[replace(p, published=next_day) for p in papers])
    result = await run_day(services, now=NOW.replace(day=23))
    assert result.status == "no-announcement" and "stale" in result.message
    assert await services.store.count_papers(next_day) == 0
    assert await services.store.count_papers(SAMPLE_DAY) == 116
    assert sum(r.scored for r in await services.store.list_runs()) == 116


async def test_a_malformed_feed_raises_an_error_naming_the_url_and_stores_nothing(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    fake_arxiv.serve_malformed("rss")
    with pytest.raises(SourceError) as err:
        await run_day(services, now=NOW)
    assert fake_arxiv.rss_url in str(err.value)
    assert await services.store.count_papers() == 0
    assert await services.store.list_runs() == []
    assert await services.store.field_slugs() == []


async def test_a_paper_not_stored_is_fetched_scored_and_kept_out_of_listings(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    paper = load_papers(SAMPLE)[3]
    fake_arxiv.add_papers([paper])
    view = await lookup_paper(services, f"https://arxiv.org/abs/{paper.arxiv_id}v2", now=NOW, lang="en")
    assert view.fetched and view.paper.title == paper.title
    assert view.score.value is not None and 1 <= view.score.value <= 10
    assert set(view.score.field_scores) == {f.slug for f in services.fields}
    assert await services.store.count_papers() == 0, "a lookup belongs to no listing day"
    again = await lookup_paper(services, paper.arxiv_id, now=NOW, lang="en")
    assert not again.fetched and again.score == view.score
    [api] = fake_arxiv.calls("api")
    assert paper.arxiv_id in api.query.get("id_list", "")
    with pytest.raises(SourceError, match="not an arXiv id"):
        await lookup_paper(services, "hello world", now=NOW)


async def test_a_subscriber_digest_has_its_fields_threshold_and_interests(
    services: Services, fake_arxiv: FakeArxiv  # noqa: F811
) -> None:
    fake_arxiv.set_listing(SAMPLE_DAY, new=load_papers(SAMPLE))
    await run_day(services, now=NOW)
    sub = Subscription(ChatRef("telegram", "1"), fields=("efficient-llm",), min_score=5, lang="en",
                       interests="mixture of experts, low-rank compensation, not medical imaging")
    digest = await digest_for_subscription(services, sub, now=NOW)
    assert digest is not None
    slugs = [s.field.slug for s in digest.sections]
    assert slugs[0] == INTERESTS_SLUG and set(slugs) <= {INTERESTS_SLUG, "efficient-llm"}
    shown = [p.arxiv_id for s in digest.sections for p, _ in s.items]
    assert len(shown) == len(set(shown)), "a paper appears once"
    assert all(score.value is not None and score.value >= 5 for s in digest.sections for _, score in s.items)


def test_interests_become_a_field_with_low_priority_areas() -> None:
    field = interest_field("diffusion LLMs, KV-cache compression; not medical imaging，不要遥感")
    assert field.keywords == ("diffusion LLMs", "KV-cache compression")
    assert field.ignore == ("medical imaging", "遥感")


def test_make_run_prints_and_writes_the_sample_digest_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = env_for(tmp_path, OPENAI_API_KEY="sk-unused")
    assert main(["run", "--offline", "--input", str(SAMPLE)], env=env) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# ArXiv 每日推荐 - 2025-12-22")
    assert "### [Score: " in out and "离线评分" in out
    written = tmp_path / "digests" / "2025-12-22.md"
    assert written.read_text(encoding="utf-8") == out.rstrip("\n") + "\n"
    assert "116 papers (116 new), 116 scored" in err
    assert main(["run", "--offline", "--input", str(SAMPLE), "--quiet"], env=env) == 0
    out2, err2 = capsys.readouterr()
    assert out2 == "" and "116 papers (0 new), 0 scored" in err2
    assert written.read_text(encoding="utf-8") == out.rstrip("\n") + "\n"


def test_cli_score_prints_one_json_line_per_paper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(SAMPLE), "--offline"], env=env_for(tmp_path)) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 116
    assert set(lines[0]) == {"id", "field", "score", "reason", "stage"}
    assert all(1 <= row["score"] <= 10 and row["stage"] == "offline" for row in lines)


def test_cli_paper_search_and_stats_read_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = env_for(tmp_path)
    main(["run", "--offline", "--input", str(SAMPLE), "--quiet"], env=env)
    capsys.readouterr()
    paper = load_papers(SAMPLE)[0]
    assert main(["paper", paper.arxiv_id, "--offline"], env=env) == 0
    out = capsys.readouterr().out
    assert paper.title in out and paper.url in out
    assert main(["search", "mixture", "of", "experts"], env=env) == 0
    assert "2025-12-22" in capsys.readouterr().out
    assert main(["search", "zzzyzx-nothing"], env=env) == 1
    assert "no stored paper matches" in capsys.readouterr().err
    assert main(["search", "the", "of"], env=env) == 1
    assert "only common words" in capsys.readouterr().err
    assert main(["stats"], env=env) == 0
    assert "offline" in capsys.readouterr().out


def test_cli_rejects_bad_arguments_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--min-score", "11"], env=env_for(tmp_path))
    assert "between 1 and 10" in capsys.readouterr().err
    assert main(["run", "--input", str(tmp_path / "missing.jsonl")], env=env_for(tmp_path)) == 1
    assert main(["stats"], env={"MIN_SCORE": "eleven"}) == 2
    assert "MIN_SCORE" in capsys.readouterr().err
