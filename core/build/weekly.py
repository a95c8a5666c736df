"""Build a chat's weekly digest from a week of scored days, and lay it out as neutral blocks (pure).

Everything the weekly reader sees is decided here: the past week's best papers per field of the chat
(its fields and threshold; at most WEEKLY_PER_FIELD a field, a paper once), led by the week's best for its
/interests when it has them, and moved by its own signals as its daily digests are (votes: a 👎 paper
hidden; followed authors marked and always shown; avoided topics lowered), how many papers each field had
each day (what the chart draws: the field's week, not the reader's), and the week's rising terms, in zh or
en. The chart (core/build/chart.py) only draws `WeeklyDigest`; adapters only spell the blocks. The same
selection as the daily digest's (core/build/digest.py `select_sections`) chooses the papers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from core.build.digest import format_score, paper_item, select_sections
from core.models import Block, DigestSection, Field, Heading, Note, Paper, Score
from core.score.feedback import Feedback, adjustments

WEEKLY_PER_FIELD = 5
RISING_TERMS = 8
MIN_TERM_COUNT = 2  # a term must appear in at least this many of the week's papers to rise

TEXT = {
    "zh": {
        "title": "ArXiv 每周精选 · {start} – {end}",
        "read": "本周：{days} 个发布日共 {n} 篇论文，{hits} 篇达到 {score} 分阈值。",
        "per_field": "各方向达到阈值的论文：{counts}",
        "rising": "本周上升的词：{terms}",
        "rising_new": "本周的高频词（没有更早一周可比较）：{terms}",
        "none": "本周没有达到 {score} 分阈值的论文。",
        "interests_none": "本周没有达到 {score} 分、符合你兴趣的论文。",
        "empty": "本周还没有评分过的发布日。",
        "chart": "本周图表：各方向每日论文数与上升的词。",
    },
    "en": {
        "title": "ArXiv Weekly Digest · {start} – {end}",
        "read": "This week: {n} papers on {days} listing day(s), {hits} of them at or above the threshold of {score}.",
        "per_field": "Papers over the threshold per field: {counts}",
        "rising": "Rising terms this week: {terms}",
        "rising_new": "Frequent terms this week (no earlier week to compare): {terms}",
        "none": "No paper reached the threshold of {score} this week.",
        "interests_none": "Nothing matched your interests at {score} or above this week.",
        "empty": "No listing day of this week has been scored yet.",
        "chart": "This week's chart: papers per field per day, and the rising terms.",
    },
}

# Words that say nothing about a paper's topic: English function words and arXiv title filler.
STOPWORDS = frozenset("""
a an and are as at be by can for from how in into is it its of on or our over that the their this through to
towards toward under using via we what when which with without beyond based new more via vs versus do does
study approach approaches method methods model models paper results analysis framework learning data task
tasks toward large via can not all one two non show use used language languages neural network networks
deep efficient training generation evaluation adaptive llm llms towards improving improved systems system
benchmark benchmarks scalable effective robust novel efficient general understanding
""".split())
_WORD = re.compile(r"[a-z][a-z0-9\-]+")


def text(lang: str, key: str, **values: object) -> str:
    """One weekly UI string in `lang` (zh or en), filled in."""
    return TEXT.get(lang, TEXT["en"])[key].format(**values)


@dataclass(frozen=True, slots=True)
class RisingTerm:
    """A term of the week's titles, in how many of this week's and the week before's papers."""

    term: str
    this_week: int
    week_before: int


@dataclass(frozen=True, slots=True)
class WeeklyDigest:
    """One chat's weekly digest: what the text and the chart both show."""

    start: date
    end: date
    lang: str
    min_score: float
    fields: tuple[Field, ...]  # the chat's fields, in order (what `counts` and the chart are about)
    days: tuple[date, ...]  # the week's scored listing days, oldest first
    counts: tuple[tuple[int, ...], ...]  # counts[i][j]: papers of fields[j] over the threshold on days[i]
    sections: tuple[DigestSection, ...]  # "My interests" first when the chat has them, even empty
    rising: tuple[RisingTerm, ...]
    compared: bool  # False: no earlier week was stored, so `rising` is the week's most frequent terms
    papers_read: int

    @property
    def hits(self) -> int:
        return sum(sum(row) for row in self.counts)


def title_terms(title: str) -> set[str]:
    """The topic words and two-word phrases of a title, lower case (pure)."""
    words = [w.strip("-") for w in _WORD.findall(title.lower())]
    topical = [len(w) > 2 and w not in STOPWORDS for w in words]
    # a phrase is two topic words side by side in the title, never bridged over a dropped word
    pairs = {f"{a} {b}" for i, (a, b) in enumerate(zip(words, words[1:], strict=False))
             if topical[i] and topical[i + 1]}
    return {w for w, keep in zip(words, topical, strict=True) if keep} | pairs


def rising_terms(
    week: Sequence[Paper], before: Sequence[Paper], limit: int = RISING_TERMS,
) -> tuple[tuple[RisingTerm, ...], bool]:
    """The terms of `week`'s titles that rose most against `before` (scaled to the same number of papers),
    and whether there was a `before` to compare with; without one, the most frequent terms."""
    now = Counter(t for p in week for t in title_terms(p.title))
    then = Counter(t for p in before for t in title_terms(p.title))
    scale = len(week) / len(before) if before else 0.0

    def rise(term: str) -> float:
        if before:
            return (now[term] + 1) / (then[term] * scale + 1)
        return now[term] * (2.0 if " " in term else 1.0)  # nothing to compare: a phrase says more than a word

    candidates = [t for t, n in now.items() if n >= MIN_TERM_COUNT and (not before or rise(t) > 1.0)]
    # a word seen only inside a rising phrase says less than the phrase: keep the phrase
    candidates = [t for t in candidates
                  if " " in t or not any(now[p] == now[t] for p in candidates if " " in p and t in p.split())]
    ranked = sorted(candidates, key=lambda t: (-rise(t), -now[t], " " not in t, t))[:limit]  # phrases first on ties
    return tuple(RisingTerm(t, now[t], then[t]) for t in ranked), bool(before)


def build_weekly(
    start: date,
    end: date,
    days: Sequence[tuple[date, Sequence[tuple[Paper, Score]]]],
    before: Sequence[tuple[Paper, Score]],
    fields: Sequence[Field],
    *,
    lang: str,
    min_score: float,
    per_field: int = WEEKLY_PER_FIELD,
    interests: Field | None = None,
    interest_scores: Sequence[tuple[Paper, Score]] = (),
    feedback: Feedback | None = None,
    avoid: Sequence[str] = (),
) -> WeeklyDigest:
    """A chat's weekly digest of `days` (each listing day with its scored papers) in its `fields`; with
    `interests` (the chat's profile as a field) and the week's `interest_scores` a "My interests" section
    leads; the chat's `feedback` (votes, follows) and avoided topics move the week's papers as they move a
    day's (core/score/feedback.py `adjustments`)."""
    scored = [ps for _, day_scored in days for ps in day_scored]
    moved = adjustments([p for p, _ in [*scored, *interest_scores]], feedback, avoid=avoid)
    chosen, _ = select_sections([interests, *fields] if interests is not None else fields,
                                [*interest_scores, *scored], lang=lang, min_score=min_score, max_per_field=per_field,
                                adjustments=moved)
    sections = [DigestSection(f, items) for f, items in chosen]
    if interests is not None and not any(f.slug == interests.slug for f, _ in chosen):
        sections.insert(0, DigestSection(interests, ()))  # it says that nothing matched
    counts = []
    for _, day_scored in days:
        row = Counter(s.field_slug for _, s in day_scored if s.value is not None and s.value >= min_score)
        counts.append(tuple(row[f.slug] for f in fields))
    slugs = {f.slug for f in fields}
    mine = [p for p, s in scored if s.field_slug in slugs]
    rising, compared = rising_terms(mine, [p for p, s in before if s.field_slug in slugs])
    return WeeklyDigest(
        start=start, end=end, lang=lang, min_score=min_score, fields=tuple(fields), days=tuple(d for d, _ in days),
        counts=tuple(counts), sections=tuple(sections), rising=rising,
        compared=compared, papers_read=len(scored),
    )


def chart_caption(weekly: WeeklyDigest) -> str:
    """The chart image's caption: the title and what the chart shows (short; a platform may cut more)."""
    lang = weekly.lang
    return text(lang, "title", start=weekly.start.isoformat(), end=weekly.end.isoformat()) + "\n" + text(lang, "chart")


def weekly_blocks(weekly: WeeklyDigest) -> list[Block]:
    """Lay a weekly digest out as neutral blocks: title, the week in numbers, rising terms, then each field."""
    lang = weekly.lang
    score = format_score(weekly.min_score)
    blocks: list[Block] = [Heading(text(lang, "title", start=weekly.start.isoformat(), end=weekly.end.isoformat()))]
    if not weekly.days:
        blocks.append(Note(text(lang, "empty")))
        return blocks
    blocks.append(Note(text(lang, "read", days=len(weekly.days), n=weekly.papers_read, hits=weekly.hits, score=score)))
    totals = [sum(row[j] for row in weekly.counts) for j in range(len(weekly.fields))]
    shown = [f"{f.name(lang)} {n}" for f, n in zip(weekly.fields, totals, strict=True) if n]
    if shown:
        blocks.append(Note(text(lang, "per_field", counts=", ".join(shown))))
    if weekly.rising:
        terms = ", ".join(r.term for r in weekly.rising)
        blocks.append(Note(text(lang, "rising" if weekly.compared else "rising_new", terms=terms)))
    if not any(section.items for section in weekly.sections):
        blocks.append(Note(text(lang, "none", score=score)))
    for section in weekly.sections:
        blocks.append(Heading(section.field.name(lang), level=2))
        if not section.items:  # only "My interests" is ever empty: it says so
            blocks.append(Note(text(lang, "interests_none", score=score)))
        blocks.extend(paper_item(paper, s, section.field.slug, lang) for paper, s in section.items)
    return blocks
