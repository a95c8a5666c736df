"""One reader's digest of a scored day, built from prepared data (pure).

Owns what a reader's digest is made of: their fields (or all), their interests section, their watch
list's keyword matches with the summaries prepared for them (else the abstract's first sentences), their
votes' adjustments, their threshold and the day's run header. `keyword_papers_shown` tells the prepare
step which keyword matches the digest shows, so it fetches exactly those summaries before the one build.
No IO, no LLM, no store, no clock: core/prepare/reader.py gathers everything first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.build.digest import KEYWORDS_SLUG, build_digest, select_sections
from core.models import Adjustment, Digest, Field, KeywordMatch, Paper, Score, Subscription, Summary
from core.prepare.day import DayContext
from core.score.feedback import Feedback, adjustments
from core.score.profile import parse_interests, watch_matches
from core.score.summaries import excerpt


@dataclass(frozen=True, slots=True)
class Reader:
    """The settings a digest depends on: language, threshold, chosen fields (empty: all), interests text."""

    lang: str
    min_score: float
    field_slugs: tuple[str, ...] = ()
    interests: str = ""

    @classmethod
    def of(cls, sub: Subscription) -> Reader:
        return cls(sub.lang, sub.min_score, tuple(sub.fields), sub.interests)


@dataclass(frozen=True, slots=True)
class PreparedReader:
    """Everything one reader's digest of a day needs, gathered by the prepare step (frozen)."""

    day: DayContext
    reader: Reader
    fields: tuple[Field, ...]  # every configured field, in order
    max_per_field: int
    interest_scores: tuple[tuple[Paper, Score], ...] = ()  # the reader's interests, judged or offline
    feedback: Feedback | None = None  # the chat's votes; None when they do not shape this digest
    summaries: Mapping[tuple[str, str], Summary] = field(default_factory=dict)  # (arxiv_id, lang) -> summary
    notes: tuple[str, ...] = ()  # extra notes to show


def _selection_inputs(prepared: PreparedReader) -> tuple[
    list[Field], list[tuple[Paper, Score]], list[tuple[Paper, tuple[str, ...]]], dict[str, Adjustment] | None,
]:
    """What the digest's selection reads: the reader's fields, the scored papers, watch matches, vote adjustments."""
    ctx, reader = prepared.day, prepared.reader
    profile = parse_interests(reader.interests)
    # Fields removed from the fields file since the reader chose them are dropped; none left: all fields.
    fields = [f for f in prepared.fields if f.slug in reader.field_slugs] or list(prepared.fields)
    if profile.has_interests and prepared.interest_scores:
        fields.insert(0, profile.field())
    day_papers = [p for p, _ in ctx.scored]
    feedback = prepared.feedback
    moved = None
    if feedback or profile.avoid:
        moved = adjustments([*day_papers, *(p for p, _ in prepared.interest_scores)], feedback, avoid=profile.avoid)
    return fields, [*prepared.interest_scores, *ctx.scored], watch_matches(profile, day_papers), moved


def build_reader_digest(prepared: PreparedReader) -> Digest:
    """Build one reader's digest of a prepared day (pure)."""
    ctx, lang = prepared.day, prepared.reader.lang
    fields, scored, matched, moved = _selection_inputs(prepared)
    known = prepared.summaries
    matches = [KeywordMatch(p, terms, known.get((p.arxiv_id, lang)) or excerpt(p, lang)) for p, terms in matched]
    summary = ctx.summary
    notes: Sequence[str] = prepared.notes  # the run's own note holds facts (ctx.llm words them), not text
    return build_digest(
        ctx.day, fields, scored, lang=lang, min_score=prepared.reader.min_score,
        max_per_field=prepared.max_per_field, papers_read=summary.papers_read if ctx.announced else 0,
        model=summary.model, tokens=summary.tokens if ctx.announced else 0,
        updated_at=summary.finished_at if ctx.announced else None, announced=ctx.announced, notes=notes,
        keyword_matches=matches, adjustments=moved, llm=ctx.llm if ctx.announced else None,
    )


def keyword_papers_shown(prepared: PreparedReader) -> list[Paper]:
    """The watch-list matches this reader's digest shows, in order (pure).

    Which matches are shown depends on the reader's fields, threshold, interests, votes and watch list,
    never on the summaries: this runs the digest's own selection (`select_sections`, which build_digest
    uses) on the same inputs, so the prepare step fetches summaries for exactly these papers before the
    one build.
    """
    fields, scored, matched, moved = _selection_inputs(prepared)
    if not matched:
        return []
    sections, _ = select_sections(fields, scored, lang=prepared.reader.lang, min_score=prepared.reader.min_score,
                                  max_per_field=prepared.max_per_field, watch_matches=matched, adjustments=moved)
    return [p for f, items in sections if f.slug == KEYWORDS_SLUG for p, _ in items]
