"""Prepare a reader's view of a scored day: every LLM step that reader needs, in one async step.

Owns, for one reader (a Subscription, or a delivery settings group) and a loaded day: judging their
interests (core/score/interests.py, identical profiles share one cached judgement), summaries of the
keyword matches their digest shows and their translations (core/score/summaries.py), and loading the
chat's votes and followed authors. It returns a frozen PreparedReader that core/build/reader.py turns into a
digest without any IO. It must not lay anything out or read the clock: `now` is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from core.build.reader import PreparedReader, Reader, keyword_papers_shown
from core.models import ChatRef
from core.prepare.day import DayContext, load_day
from core.score import interests as interests_
from core.score.feedback import VOTE_LIMIT, Feedback
from core.score.interests import InterestScores
from core.score.summaries import get_summaries
from core.services import Services, uses_llm


async def load_feedback(services: Services, chat: ChatRef) -> Feedback:
    """A chat's recent votes and the authors it follows, for its digests."""
    votes = await services.store.voted_papers(chat, limit=VOTE_LIMIT)
    follows = await services.store.get_follows(chat)
    return Feedback(tuple(votes), tuple(name for _, name in follows))


async def score_profiles(
    services: Services, texts: Sequence[str], day: date, *, now: datetime, offline: bool = False,
    lang: str | None = None, ctx: DayContext | None = None,
) -> dict[str, InterestScores]:
    """Score `day`'s papers against many interests texts at once: one shared reading pass, one judgement
    per distinct profile. Run it after the day's run so delivery finds every profile cached.

    `lang` is the reasons' and summaries' language (default: the languages of the chats with each text,
    reasons in DIGEST_LANGUAGE); `ctx` is the loaded day, when the caller has it.
    """
    ctx = ctx or await load_day(services, day)
    return await interests_.score_profiles(
        services, texts, day, now=now, use_llm=uses_llm(services, offline), lang=lang,
        summary_langs=(lang,) if lang else None, field_best=ctx.field_best() if ctx else {},
    )


async def score_interests(
    services: Services, interests: str, day: date, *, now: datetime, offline: bool = False, lang: str | None = None,
    ctx: DayContext | None = None,
) -> InterestScores:
    """Score `day`'s papers against one interests text; identical profiles share cached judgements.

    Returns (paper, score) per paper of the day (none when the text is only a watch list), carrying the
    watch-list matches' summaries.
    """
    found = await score_profiles(services, [interests], day, now=now, offline=offline, lang=lang, ctx=ctx)
    return found[interests]


async def score_subscriber_interests(services: Services, day: date, *, now: datetime) -> int:
    """Score `day` for the interests of every active subscription at once; return the distinct texts."""
    texts = sorted({s.interests for s in await services.store.list_subscriptions() if s.interests.strip()})
    if texts:
        await score_profiles(services, texts, day, now=now)
    return len(texts)


async def prepare_reader(
    services: Services,
    reader: Reader,
    ctx: DayContext,
    *,
    now: datetime,
    feedback: Feedback | None = None,
    interest_scores: InterestScores | None = None,
    notes: Sequence[str] = (),
) -> PreparedReader:
    """Gather everything `reader`'s digest of `ctx` needs, spending tokens only where it must.

    Interests are judged unless `interest_scores` (already judged for this text) is given: one judgement
    with reasons in every subscribed language, as the daily run has it, so it is shared, not redone per
    language; the digest picks the reader's.
    Then the keyword matches the digest will show get summaries in the reader's language.
    """
    mine = interest_scores
    if mine is None:
        mine = InterestScores()
        if reader.interests.strip():
            mine = await score_interests(services, reader.interests, ctx.day, now=now, ctx=ctx)
    known = dict(mine.summaries)
    prepared = PreparedReader(ctx, reader, services.fields, services.settings.digest_max_per_field,
                              tuple(mine), feedback, known, tuple(notes))
    missing = [p for p in keyword_papers_shown(prepared) if (p.arxiv_id, reader.lang) not in known]
    if missing and uses_llm(services, False):
        found = await get_summaries(services, missing, reader.lang, now=now, day=ctx.day, use_llm=True)
        known.update({(i, reader.lang): s for i, s in found.items()})
        prepared = replace(prepared, summaries=known)
    return prepared
