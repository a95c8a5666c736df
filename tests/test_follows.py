"""/follow: followed authors are matched whatever the spelling, boosted, marked ⭐ and always shown, per chat;
avoided /interests topics push papers down; the per-chat model learned from votes."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.commands import COMMANDS, Caller, Commands, Reply
from bot.slack.format import command_line
from core.build.digest import AVOID_PENALTY, FOLLOW_BOOST, FOLLOWED_SLUG, INTERESTS_SLUG, digest_blocks, short_authors
from core.build.reader import Reader, build_reader_digest
from core.config import PROJECT_ROOT, Settings
from core.fetch.jsonl import load_papers
from core.models import ChatRef, Digest, Note, PaperItem, Subscription
from core.prepare.day import load_day
from core.prepare.reader import prepare_reader
from core.score.authors import AuthorName, FollowList, follow_key
from core.score.feedback import MAX_DELTA, Feedback, adjustments, learned_moves
from core.services import Services
from core.views import digest_for_subscription
from tests.samples import scored_sample

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 1, 30, tzinfo=UTC)
A, B = ChatRef("telegram", "1"), ChatRef("telegram", "2")
LIKED, SIMILAR = "2512.17257", "2512.17453"  # EV charging load forecasting; spatial-temporal GNN forecasting
GUEHNER = "2512.17028"  # by Marcel Gühner


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en"})
    async with scored_sample(settings, NOW) as svc:
        yield svc


def notes(reply: Reply) -> str:
    return "\n".join(b.text for b in reply.blocks if isinstance(b, Note))


def items(digest: Digest) -> dict[str, tuple[str, float, str]]:
    """arxiv_id -> (section slug, score, authors as shown) of every paper item."""
    out: dict[str, tuple[str, float, str]] = {}
    slug = ""
    for block in digest_blocks(digest):
        if isinstance(block, PaperItem):
            out.setdefault(block.arxiv_id, (block.field_slug, block.score, block.authors + " | " + block.why))
            slug = block.field_slug
    assert slug or not out
    return out


# -- matching names --------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ['S\\"oren Auer', 'S{\\"o}ren Auer', "Sören Auer", "Soren Auer", "SÖREN AUER",
                                      "Auer, Sören", "Auer, S.", "S. Auer", "Sören A. Auer", "Sören-A. Auer"])
def test_a_followed_name_matches_every_spelling_of_the_author(spelling: str) -> None:
    assert AuthorName.parse("Sören Auer").matches(AuthorName.parse(spelling))
    assert AuthorName.parse(spelling).matches(AuthorName.parse("Sören Auer"))


def test_spellings_of_one_name_share_one_key_and_other_people_do_not_match() -> None:
    assert follow_key('S\\"oren Auer') == follow_key("Auer, Soren") == follow_key("Sören  Auer") == "soren auer"
    assert follow_key("Laurens van der Maaten") == follow_key("van der Maaten, Laurens")
    assert follow_key("Fran\\c{c}ois Chollet") == follow_key("François Chollet")
    followed = AuthorName.parse("Sören Auer")
    for other in ("Peter Auer", "Sören Bauer", "P. Auer", "Sören Auerbach"):
        assert not followed.matches(AuthorName.parse(other)), other
    assert not AuthorName.parse("Sören B. Auer").matches(AuthorName.parse("Sören C. Auer"))
    assert AuthorName.parse("Auer").matches(AuthorName.parse("Peter Auer"))  # a surname alone follows every Auer


def test_a_follow_list_names_the_authors_as_the_paper_spells_them() -> None:
    paper = next(p for p in load_papers(SAMPLE) if p.arxiv_id == GUEHNER)
    assert FollowList.of(["Guhner, Marcel"]).match(paper) == ("Marcel Gühner",)
    assert FollowList.of(['M. G\\"uhner']).match(paper) == ("Marcel Gühner",)
    assert FollowList.of(["Marcel Gunther"]).match(paper) == ()


# -- the commands ------------------------------------------------------------------------------------


async def test_follow_adds_lists_and_removes_authors_per_chat(services: Services) -> None:
    commands = Commands(services)
    a, b = Caller(chat=A, now=NOW), Caller(chat=B, now=NOW)
    assert "no authors" in notes(await commands.handle("/follow", a))
    assert "Following: Sören Auer, Yann LeCun" in notes(await commands.handle("/follow Sören Auer; Yann LeCun", a))
    assert "Already following" in notes(await commands.handle('/follow S\\"oren Auer', a))
    listed = notes(await commands.handle("/follow", a))
    assert "2 authors" in listed and "Sören Auer" in listed and "Yann LeCun" in listed  # the first spelling stays
    assert "no authors" in notes(await commands.handle("/follow", b))  # another chat's follows never show
    assert "Followed authors: Sören Auer, Yann LeCun" in notes(await commands.handle("/settings", a))
    assert "Followed authors: none" in notes(await commands.handle("/settings", b))
    assert "Stopped following: Yann LeCun" in notes(await commands.handle("/follow -Y. LeCun", a))
    assert "Stopped following" in notes(await commands.handle("/unfollow Auer, Soren", a))
    assert "Not following: Nobody" in notes(await commands.handle("/unfollow Nobody", a))
    assert await services.store.get_follows(A) == []
    assert "not an author" in notes(await commands.handle("/follow ...", a))


async def test_slack_arxiv_follow_reaches_the_same_command(services: Services) -> None:
    commands = Commands(services)
    caller = Caller(chat=ChatRef("slack", "C1"), now=NOW)
    await commands.handle(command_line("follow Marcel Gühner"), caller)
    assert [n for _, n in await services.store.get_follows(caller.chat)] == ["Marcel Gühner"]
    assert "follow" in {name for name, _, _ in COMMANDS} and "unfollow" in {name for name, _, _ in COMMANDS}


# -- the digest --------------------------------------------------------------------------------------


async def test_a_followed_authors_paper_is_boosted_marked_and_shown_under_the_threshold(services: Services) -> None:
    scored = {p.arxiv_id: s for p, s in (await load_day(services, DAY)).scored}  # type: ignore[union-attr]
    base = scored[GUEHNER]
    assert base.value is not None and base.field_slug
    sub_a = Subscription(A, lang="en", min_score=10.0, fields=(base.field_slug,))
    before = await digest_for_subscription(services, sub_a, now=NOW)
    assert before is not None and GUEHNER not in items(before)
    await Commands(services).handle("/follow Guhner, Marcel", Caller(chat=A, now=NOW))
    after = await digest_for_subscription(services, sub_a, now=NOW)
    other = await digest_for_subscription(services, Subscription(B, lang="en", min_score=10.0), now=NOW)
    assert after is not None and other is not None
    slug, score, shown = items(after)[GUEHNER]
    assert slug == base.field_slug and score == min(10.0, round(base.value + FOLLOW_BOOST, 1))
    assert "⭐ Marcel Gühner" in shown and "followed author: Marcel Gühner" in shown
    assert GUEHNER not in items(other)  # chat B follows nobody
    # Outside the chat's fields it still shows, under "⭐ Followed authors".
    elsewhere = next(f.slug for f in services.fields if f.slug != base.field_slug)
    digest = await digest_for_subscription(services, Subscription(A, lang="en", fields=(elsewhere,)), now=NOW)
    assert digest is not None and items(digest)[GUEHNER][0] == FOLLOWED_SLUG


async def test_an_avoided_topic_never_shows_under_my_interests_and_pushes_field_papers_down(services: Services) -> None:
    scored = {p.arxiv_id: s for p, s in (await load_day(services, DAY)).scored}  # type: ignore[union-attr]
    base = scored[LIKED]
    assert base.value is not None
    digest = await digest_for_subscription(
        services, Subscription(A, lang="en", min_score=1.0, interests="load forecasting, time series"), now=NOW)
    assert digest is not None
    assert any(p.arxiv_id == LIKED for s in digest.sections if s.field.slug == INTERESTS_SLUG for p, _ in s.items)
    sub = Subscription(A, lang="en", min_score=1.0, interests="load forecasting, time series, not electric vehicles")
    ctx = await load_day(services, DAY)
    assert ctx is not None
    prepared = await prepare_reader(services, Reader.of(sub), ctx, now=NOW)
    digest = build_reader_digest(dataclasses.replace(prepared, max_per_field=1000))  # no section is cut short
    mine = [p.arxiv_id for s in digest.sections if s.field.slug == INTERESTS_SLUG for p, _ in s.items]
    assert mine and LIKED not in mine
    slug, score, shown = items(digest)[LIKED]
    assert slug == base.field_slug and score == max(1.0, round(base.value - AVOID_PENALTY, 1))
    assert "exclude: electric vehicles" in shown


# -- the learned model -----------------------------------------------------------------------------


def test_the_learned_model_ranks_like_the_likes_deterministically_within_bounds() -> None:
    papers = load_papers(SAMPLE)
    by_id = {p.arxiv_id: p for p in papers}
    disliked = next(p for p in papers if "language model" in p.title.lower())
    votes = [(by_id[LIKED], 1), (disliked, -1)]
    moves = learned_moves(papers, votes)
    assert moves and moves == learned_moves(papers, votes)
    assert all(-MAX_DELTA <= m <= MAX_DELTA for m in moves.values())
    assert moves[SIMILAR] > 0.3 and moves[SIMILAR] == max(m for i, m in moves.items() if i not in (LIKED,))
    assert learned_moves(papers, [(disliked, -1)]) == {}  # nothing liked: the similarity rule stands in
    moved = adjustments(papers, Feedback(tuple(votes)))
    assert moved[SIMILAR].delta == round(moves[SIMILAR], 1) and moved[SIMILAR].liked_id == LIKED


async def test_why_names_the_followed_author_and_the_avoided_topic(services: Services) -> None:
    commands = Commands(services)
    caller = Caller(chat=A, now=NOW)
    await commands.handle("/follow Marcel Guhner", caller)
    assert "Followed author: Marcel Gühner" in notes(await commands.handle(f"/why {GUEHNER}", caller))
    await commands.handle("/interests load forecasting, not electric vehicles", caller)
    why = notes(await commands.handle(f"/why {LIKED}", caller))
    assert "Your interests exclude: electric vehicles" in why and "no vote-based adjustment" in why



async def test_every_formatter_shows_the_followed_author_mark(services: Services) -> None:
    import json

    from bot.slack.format import to_slack_messages
    from bot.telegram.format import to_telegram_html
    from core.build.markdown import to_markdown

    await Commands(services).handle("/follow Marcel Gühner", Caller(chat=A, now=NOW))
    digest = await digest_for_subscription(services, Subscription(A, lang="en", min_score=10.0), now=NOW)
    assert digest is not None
    blocks = digest_blocks(digest)
    html = "".join(part.html for part in to_telegram_html(blocks, "en"))
    slack = json.dumps([m["blocks"] for m in to_slack_messages(blocks, "en")], ensure_ascii=False)
    for spelled in (html, slack, to_markdown(blocks)):
        assert "⭐ Marcel Gühner" in spelled and "followed author: Marcel Gühner" in spelled


def test_a_followed_author_is_never_cut_from_a_long_author_list() -> None:
    authors = [f"Author {i}" for i in range(10)] + ["⭐ Marcel Gühner"]
    shown = short_authors(authors, "en")
    assert shown.startswith("Author 0, ") and "⭐ Marcel Gühner" in shown and "Author 7" not in shown
