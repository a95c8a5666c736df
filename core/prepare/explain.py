"""Why a paper scored what it did for one chat (`/why`): gathers, never words.

Collects a stored paper's field scores and reasons, its score for the chat's interests, the chat's
watch-list terms it matches, the chat's vote adjustment, and where the chat's digest of that day puts
it. bot/commands.py turns an Explanation into text. Reads the store; spends tokens only as the chat's
own digest would (an interests profile not yet judged for that day is judged, once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.build.reader import PreparedReader, Reader, build_reader_digest
from core.errors import SourceError
from core.fetch.ids import normalize_arxiv_id
from core.listing import LOOKUP
from core.models import Adjustment, Paper, Score, Subscription
from core.prepare.day import load_day
from core.prepare.reader import load_feedback, score_interests
from core.score.feedback import adjustments
from core.score.profile import WatchList, parse_interests
from core.services import Services


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything `/why` says about one paper for one chat."""

    paper: Paper
    day: date | None  # its listing day; None for a paper only ever looked up
    field_score: Score | None  # the day's field score (else the latest stored one)
    interest_score: Score | None  # None: no interests set, or no listing day to score against
    watch_terms: tuple[str, ...]
    adjustment: Adjustment | None
    section: str | None  # slug of the chat's digest section that shows it, None when not shown
    shown_value: float | None


async def explain_paper(
    services: Services, sub: Subscription, id_or_url: str, *, now: datetime,
) -> Explanation:
    """Explain one stored paper's score for `sub`'s chat; raise SourceError for a bad or unknown id."""
    arxiv_id = normalize_arxiv_id(id_or_url)
    if arxiv_id is None:
        raise SourceError(f"not an arXiv id or URL: {id_or_url!r}")
    paper = await services.store.get_paper(arxiv_id)
    if paper is None:
        raise SourceError(f"no stored paper {arxiv_id}; /paper {arxiv_id} fetches and scores it")
    day = paper.published if paper.announce_type != LOOKUP else None
    ctx = await load_day(services, day) if day is not None else None
    field_score = next((s for p, s in ctx.scored if p.arxiv_id == arxiv_id), None) if ctx else None
    if field_score is None:
        stored = await services.store.scores_for_paper(arxiv_id)
        field_score = next(iter(stored.values()), None)
    profile = parse_interests(sub.interests)
    mine: list[tuple[Paper, Score]] = []
    if ctx is not None and day is not None and sub.interests.strip():
        mine = await score_interests(services, sub.interests, day, now=now, ctx=ctx)  # as its digest does
    interest_score = next((s for p, s in mine if p.arxiv_id == arxiv_id), None)
    feedback = await load_feedback(services, sub.chat)
    papers = [p for p, _ in ctx.scored] if ctx else [paper]
    adjustment = None
    if feedback or profile.avoid:
        adjustment = adjustments([paper, *papers], feedback, avoid=profile.avoid).get(arxiv_id)
    section, shown = None, None
    if ctx is not None:
        # The section does not depend on summaries: the digest built from what is at hand places it.
        digest = build_reader_digest(PreparedReader(ctx, Reader.of(sub), services.fields,
                                                    services.settings.digest_max_per_field, tuple(mine), feedback))
        for part in digest.sections:
            hit = next((s for p, s in part.items if p.arxiv_id == arxiv_id), None)
            if hit is not None:
                section, shown = part.field.slug, hit.value
                break
    watch = WatchList.of(profile).match(paper) if profile.watch else ()
    return Explanation(paper, day, field_score, interest_score, watch, adjustment, section, shown)
