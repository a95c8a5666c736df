"""One paper on demand (`/paper`, the CLI's `paper`) and full-text search over stored papers (`/search`).

Owns finding a paper in the store or on arXiv, scoring it with the configured scorer (cached), and
what search shows beside each hit: its field score only. Interest judgements belong to a chat's
profile and live in their own table, so no search or lookup can show one chat's interests to another.
It must not word replies (bot/commands.py) and never reads the clock: `now` is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from core.build.digest import summary_text
from core.calendar import listing_day_of
from core.daily import store_papers
from core.errors import ConfigError, SourceError
from core.fetch.client import ArxivClient
from core.fetch.ids import normalize_arxiv_id
from core.listing import LOOKUP
from core.models import Paper, Score
from core.score.cache import score_with_cache
from core.score.summaries import get_summaries
from core.services import Services, uses_llm


@dataclass(frozen=True, slots=True)
class PaperView:
    paper: Paper
    score: Score
    summary: str  # as shown: the LLM's summary in the reader's language, or marked excerpt (digest.summary_text)
    fetched: bool  # True when the paper was not stored and came from arXiv just now


async def lookup_paper(
    services: Services, id_or_url: str, *, now: datetime, offline: bool = False, lang: str | None = None,
) -> PaperView:
    """Find one paper in the store or on arXiv, and score it (from the cache when it was scored before)."""
    arxiv_id = normalize_arxiv_id(id_or_url)
    if arxiv_id is None:
        raise SourceError(f"not an arXiv id or URL: {id_or_url!r}")
    store = services.store
    paper = await store.get_paper(arxiv_id)
    fetched = False
    if paper is None:
        if services.http is None:
            raise ConfigError("no HTTP session to reach arXiv with")
        client = ArxivClient.from_settings(services.http, services.settings,
                                           clock=services.monotonic, sleep=services.sleep)
        found = await client.fetch_papers([arxiv_id])
        if not found:
            raise SourceError(f"arXiv has no paper {arxiv_id}")
        paper = replace(found[0], announce_type=LOOKUP)
        await store_papers(services, [paper], now)
        fetched = True
    scored = await score_with_cache(services, [paper], offline=offline, now=now, budget_day=listing_day_of(now),
                                    langs=(lang,) if lang else ())
    lang = lang or services.settings.digest_language
    summaries = await get_summaries(services, [paper], lang, now=now, day=listing_day_of(now),
                                    use_llm=uses_llm(services, offline), excerpt_sentences=3)
    return PaperView(paper, scored.scores[0], summary_text(summaries[paper.arxiv_id], lang), fetched)


async def search_papers(services: Services, words: str, *, limit: int = 10) -> list[tuple[Paper, Score | None]]:
    """Full-text search over stored papers, best first, each with its latest stored field score."""
    papers = await services.store.search(words, limit=limit)
    out: list[tuple[Paper, Score | None]] = []
    for paper in papers:
        scores = await services.store.scores_for_paper(paper.arxiv_id)
        out.append((paper, next(iter(scores.values()), None)))
    return out
