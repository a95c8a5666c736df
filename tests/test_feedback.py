"""👍/👎 change that chat's next digests only, and /why explains a paper's score for one chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.commands import Caller, Commands, Reply
from core.config import PROJECT_ROOT, Settings
from core.fetch.jsonl import load_papers
from core.models import ChatRef, Note, Subscription
from core.prepare.day import load_day
from core.score.feedback import MAX_DELTA, Feedback, adjustments
from core.services import Services
from core.views import digest_for_subscription
from tests.samples import scored_sample

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)
A, B = ChatRef("telegram", "1"), ChatRef("telegram", "2")
LIKED, SIMILAR = "2512.17257", "2512.17453"  # EV charging load forecasting; spatial-temporal GNN forecasting


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    # No per-field cap: a lifted paper shows wherever its score puts it, not only within a field's top 10.
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en",
                                  "DIGEST_MAX_PER_FIELD": "1000"})
    async with scored_sample(settings, NOW) as svc:
        yield svc


def shown(digest: object) -> dict[str, float]:
    return {p.arxiv_id: s.value or 0.0 for sec in digest.sections for p, s in sec.items}  # type: ignore[attr-defined]


def text_of(reply: Reply) -> str:
    return "\n".join(b.text for b in reply.blocks if isinstance(b, Note))


async def digests(services: Services, **settings: object) -> tuple[dict[str, float], dict[str, float]]:
    out = []
    for chat in (A, B):
        digest = await digest_for_subscription(services, Subscription(chat, lang="en", **settings),  # type: ignore[arg-type]
                                                        now=NOW)
        assert digest is not None
        out.append(shown(digest))
    return out[0], out[1]


async def test_a_thumbs_down_hides_the_paper_from_that_chats_next_digest_only(services: Services) -> None:
    before_a, before_b = await digests(services, min_score=5)
    assert before_a == before_b and before_a
    disliked = next(iter(before_a))
    result = await Commands(services).handle_action("vote", f"-1:{disliked}", Caller(chat=A, now=NOW))
    assert result.toast
    after_a, after_b = await digests(services, min_score=5)
    assert disliked not in after_a and after_b == before_b


async def test_a_thumbs_up_lifts_similar_papers_for_that_chat_only(services: Services) -> None:
    scored = {p.arxiv_id: s for p, s in (await load_day(services, DAY)).scored}  # type: ignore[union-attr]
    base = scored[SIMILAR]
    assert base.value is not None and base.field_slug is not None
    settings = {"min_score": base.value + 0.2, "fields": (base.field_slug,)}
    before_a, before_b = await digests(services, **settings)
    assert SIMILAR not in before_a and SIMILAR not in before_b
    await services.store.save_vote(A, LIKED, 1, NOW)
    after_a, after_b = await digests(services, **settings)
    assert after_a[SIMILAR] > base.value and SIMILAR not in after_b
    assert after_a.get(LIKED, 0.0) in (0.0, min(10.0, (scored[LIKED].value or 0) + MAX_DELTA))


def test_votes_move_scores_by_similarity_within_bounds() -> None:
    papers = load_papers(SAMPLE)
    by_id = {p.arxiv_id: p for p in papers}
    moved = adjustments(papers, Feedback(((by_id[LIKED], 1),)))
    assert moved[LIKED].own_vote == 1 and moved[LIKED].delta == MAX_DELTA
    assert 0 < moved[SIMILAR].delta <= MAX_DELTA and moved[SIMILAR].liked_id == LIKED
    assert len(moved) < len(papers) / 4, "unrelated papers are left alone"
    down = adjustments(papers, Feedback(((by_id[LIKED], -1),)))
    assert -MAX_DELTA <= down[SIMILAR].delta < 0 and down[SIMILAR].disliked_id == LIKED  # only 👎: similarity rule
    assert adjustments(papers, Feedback()) == {}


async def test_why_explains_fields_interests_watch_terms_and_votes(services: Services) -> None:
    commands = Commands(services)
    caller = Caller(chat=A, now=NOW)
    await commands.handle("/interests time series forecasting, graph neural networks, cs.LG", caller)
    await commands.handle("/lang en", caller)
    await commands.handle_action("vote", f"+1:{LIKED}", caller)
    reply = await commands.handle(f"/why https://arxiv.org/abs/{SIMILAR}v2", caller)
    text = text_of(reply)
    assert reply.kind == "info" and reply.blocks[0].arxiv_id == SIMILAR  # type: ignore[union-attr]
    assert "Scores per field (offline):" in text and "(best field):" in text
    assert "My interests: " in text and "offline scorer, no LLM configured" in text
    assert "Keyword matches: cs.LG" in text
    assert "Votes: like \"Electric Vehicle Charging Load Forecasting" in text and "adjustment +" in text
    assert "digest for 2025-12-22" in text
    own = text_of(await commands.handle(f"/why {LIKED}", caller))
    assert "you liked this paper" in own
    other = text_of(await commands.handle(f"/why {SIMILAR}", Caller(chat=B, now=NOW)))
    assert "no vote-based adjustment" in other and "none set" in other


async def test_why_refuses_unknown_and_malformed_ids_clearly(services: Services) -> None:
    commands = Commands(services)
    caller = Caller(chat=A, now=NOW, language_hint="en")
    unknown = await commands.handle("/why 2601.99999", caller)
    assert unknown.kind == "error" and "no stored paper 2601.99999" in text_of(unknown)
    assert "/paper 2601.99999" in text_of(unknown)
    bad = await commands.handle("/why hello", caller)
    assert bad.kind == "error" and "not an arXiv id" in text_of(bad)
    usage = await commands.handle("/why", caller)
    assert usage.kind == "error" and "/why 2601.08151" in text_of(usage)
