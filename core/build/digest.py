"""Choose and lay out a digest as neutral blocks (pure).

Everything a reader sees is decided here: which papers, in what order, how authors are shortened,
the header lines and their wording in zh or en. Adapters only spell the blocks in their markup
(Telegram HTML, Slack Block Kit, the Markdown file in core/build/markdown.py), escape, and split.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.build.links import find_code_link
from core.models import (
    Adjustment,
    Block,
    Digest,
    DigestSection,
    Field,
    Heading,
    KeywordMatch,
    LLMShare,
    Note,
    Paper,
    PaperItem,
    Score,
    Summary,
)

MAX_AUTHORS = 6
OFFLINE_MODEL = "offline"
KEYWORDS_SLUG = "keywords"
INTERESTS_SLUG = "interests"
KEYWORDS_FIELD = Field(KEYWORDS_SLUG, "关键词匹配", "Keyword matches", "关注列表中的关键词与 arXiv 分类",
                       "Literal matches of the chat's watch-list keywords and arXiv categories")
FOLLOWED_SLUG = "followed"
FOLLOWED_FIELD = Field(FOLLOWED_SLUG, "⭐ 关注的作者", "⭐ Followed authors", "本聊天关注的作者（/follow）的新论文",
                       "New papers by the authors this chat follows (/follow) outside its fields")
# A followed author's paper: this much more (capped at 10), and shown even under the threshold.
FOLLOW_BOOST = 2.0
# A paper on a topic the chat's /interests avoid ("not X"): this much less, and never under "My interests".
AVOID_PENALTY = 3.0
STAR = "⭐"

# Lines a model sometimes leaves in a reason; they must never reach a reader.
_STRAY_LINE = re.compile(r"^\s*(\**\s*)?(score|field|分数|评分|领域)\s*[:：]", re.IGNORECASE)

TEXT = {
    "zh": {
        "title": "ArXiv 每日推荐 - {day}",
        "updated_bj": "更新于北京时间：{ts}",
        "updated": "更新于 {tz}：{ts}",
        "read": "已自动阅读了 {n} 篇最新的论文。",
        "model": "使用模型：{model} | 消耗 Tokens：{tokens}",
        "offline": "离线评分（未配置 LLM）",
        "stood_in": "离线评分（LLM 未能评分任何论文，由离线评分代替）",
        "llm_failed": "LLM 评分失败：{n}/{asked} 篇使用离线评分",
        "llm_budget": "已达到每日 Token 预算：{n}/{asked} 篇使用离线评分",
        "threshold": "推荐阈值：{score} 分",
        "none": "今天没有达到 {score} 分阈值的论文。",
        "interests_none": "今天没有达到 {score} 分、符合你兴趣的论文。",
        "no_announcement": "arXiv 今天没有发布新论文（周末或节假日），今天没有推荐。",
        "more": "另有 {n} 篇达到阈值的论文未列出。",
        "et_al": "等",
        "matched": "匹配：{terms}。",
        "excerpt": "（摘要原文，未翻译）",
        "own_up": "👍 你赞过这篇",
        "like_up": "👍 +{delta}：与你赞过的论文相似",
        "like_down": "👎 {delta}：与你踩过的论文相似",
        "like_both": "👍👎 {delta}：与你赞过和踩过的论文都相似",
        "followed": "⭐ 关注的作者：{names}（+{boost}）",
        "avoided": "你的兴趣排除了：{terms}（-{penalty}）",
    },
    "en": {
        "title": "ArXiv Daily Digest - {day}",
        "updated_bj": "Updated (Beijing time): {ts}",
        "updated": "Updated ({tz}): {ts}",
        "read": "Read {n} new papers.",
        "model": "Model: {model} | Tokens: {tokens}",
        "offline": "offline scorer (no LLM configured)",
        "stood_in": "offline scorer (stood in: the LLM scored no paper)",
        "llm_failed": "LLM scoring failed: {n}/{asked} papers use the offline score",
        "llm_budget": "Daily token budget reached: {n}/{asked} papers use the offline score",
        "threshold": "Threshold: {score}",
        "none": "No paper reached the threshold of {score} today.",
        "interests_none": "Nothing matched your interests at {score} or above today.",
        "no_announcement": "arXiv made no announcement today (weekend or holiday), so there is no digest.",
        "more": "{n} more papers reached the threshold but are not listed.",
        "et_al": "et al.",
        "matched": "Matched: {terms}.",
        "excerpt": "(abstract excerpt, not translated)",
        "own_up": "👍 you liked this",
        "like_up": "👍 +{delta}: like a paper you liked",
        "like_down": "👎 {delta}: like a paper you disliked",
        "like_both": "👍👎 {delta}: like papers you liked and disliked",
        "followed": "⭐ followed author: {names} (+{boost})",
        "avoided": "your interests exclude: {terms} (-{penalty})",
    },
}


def text(lang: str, key: str, **values: object) -> str:
    """One UI string in `lang` (zh or en), filled in."""
    table = TEXT.get(lang, TEXT["en"])
    return table[key].format(**values)


def clean_reason(reason: str) -> str:
    """One line of reason, without stray `Score:`/`Field:` lines or markup-looking leftovers."""
    lines = [ln.strip() for ln in reason.splitlines()]
    kept = [ln for ln in lines if ln and not _STRAY_LINE.match(ln)]
    return re.sub(r"\s+", " ", " ".join(kept)).strip()


def short_authors(authors: Sequence[str], lang: str = "en", limit: int = MAX_AUTHORS) -> str:
    """Authors joined with commas, shortened after `limit` names; a starred (followed) author is never cut."""
    names = [a.strip() for a in authors if a.strip()]
    if len(names) <= limit:
        return ", ".join(names)
    joiner = " " if lang == "zh" else ", "
    starred = [n for n in names[limit:] if n.startswith(STAR)]
    return ", ".join([*names[:limit], *(["…", *starred] if starred else [])]) + joiner + text(lang, "et_al")


def star_authors(paper: Paper, followed: Sequence[str]) -> Paper:
    """The paper with its followed authors marked ⭐ (the digest's copy only)."""
    if not followed:
        return paper
    marked = tuple(f"{STAR} {a}" if a in followed else a for a in paper.authors)
    return dataclasses.replace(paper, authors=marked)


def format_score(value: float) -> str:
    return f"{value:.1f}"


def summary_text(summary: Summary, lang: str) -> str:
    """A summary as a reader sees it: an untranslated excerpt says so, unless the chat reads English."""
    if summary.source == "excerpt" and lang != "en":
        return f"{summary.text} {text(lang, 'excerpt')}"
    return summary.text


def vote_note(adjustment: Adjustment, lang: str) -> str:
    """Why a chat's votes moved a paper, in a few words."""
    if adjustment.own_vote > 0:
        return text(lang, "own_up")
    delta = f"{adjustment.delta:+.1f}"
    if adjustment.liked_id and adjustment.disliked_id:
        return text(lang, "like_both", delta=delta)
    return text(lang, "like_up" if adjustment.delta > 0 else "like_down", delta=delta.lstrip("+"))


def adjust_score(score: Score, adjustment: Adjustment | None, lang: str) -> Score | None:
    """Apply a chat's adjustment (votes, followed authors, avoided topics) to a score; None when the chat
    voted the paper down, or the paper is about a topic the chat avoids and this is its "My interests" score."""
    if adjustment is None or score.value is None:
        return score
    if adjustment.own_vote < 0 or (adjustment.avoided and score.field_slug == INTERESTS_SLUG):
        return None
    delta = adjustment.delta + (FOLLOW_BOOST if adjustment.followed else 0.0)
    delta -= AVOID_PENALTY if adjustment.avoided else 0.0
    value = round(min(10.0, max(1.0, score.value + delta)), 1)
    notes = []
    if adjustment.followed:
        notes.append(text(lang, "followed", names=", ".join(adjustment.followed), boost=format_score(FOLLOW_BOOST)))
    if adjustment.delta or adjustment.own_vote:
        notes.append(vote_note(adjustment, lang))
    if adjustment.avoided:
        notes.append(text(lang, "avoided", terms=", ".join(adjustment.avoided), penalty=format_score(AVOID_PENALTY)))
    reason = " · ".join([clean_reason(score.reason_in(lang)), *notes]).lstrip(" ·")
    return dataclasses.replace(score, value=value, reason=reason, reasons={})


def in_language(score: Score, lang: str) -> Score:
    """The score with its reason in `lang` (another language's only when that one is missing)."""
    if not score.reasons:
        return score
    return dataclasses.replace(score, reason=score.reason_in(lang), reasons={})


Section = tuple[Field, tuple[tuple[Paper, Score], ...]]


def select_sections(
    fields: Sequence[Field],
    scored: Sequence[tuple[Paper, Score]],
    *,
    lang: str,
    min_score: float,
    max_per_field: int,
    watch_matches: Sequence[tuple[Paper, tuple[str, ...]]] = (),
    adjustments: Mapping[str, Adjustment] | None = None,
) -> tuple[list[Section], int]:
    """Which papers each section of a digest shows, in order, and how many more reached the threshold (pure).

    Per field in `fields` order, the papers whose best field it is and whose score >= min_score.
    `adjustments` (a chat's votes, follows, avoided topics) move scores first. A followed author's paper
    is always shown, whatever its score and the section's length: in its field's section, or else
    under "⭐ Followed authors" (after the keyword matches). `watch_matches` (paper, matched terms) become a
    "Keyword matches" section right after "My interests" (else first), with no threshold: the reader
    asked for them; their reason is the matched terms (build_digest adds the summary). Both build_digest
    and the prepare step (which summaries to fetch) choose papers with this one function.
    """
    moves = adjustments or {}
    adjusted: list[tuple[Paper, Score]] = []
    for paper, score in scored:
        adjustment = moves.get(paper.arxiv_id)
        moved = adjust_score(in_language(score, lang), adjustment, lang)
        if moved is not None:
            adjusted.append((star_authors(paper, adjustment.followed if adjustment else ()), moved))
    followed = {i for i, a in moves.items() if a.followed and a.own_vote >= 0}
    by_field: dict[str, list[tuple[Paper, Score]]] = {f.slug: [] for f in fields}
    homeless: dict[str, tuple[Paper, Score]] = {}  # followed papers whose best field is not the reader's
    for paper, score in adjusted:
        if score.value is None or score.field_slug not in by_field:
            if paper.arxiv_id in followed and score.field_slug != INTERESTS_SLUG:
                homeless.setdefault(paper.arxiv_id, (paper, score))
            continue
        if score.value < min_score and paper.arxiv_id not in followed:
            continue
        by_field[score.field_slug].append((paper, score))
    order = list(fields)
    if watch_matches:
        at = next((i + 1 for i, f in enumerate(order) if f.slug == INTERESTS_SLUG), 0)
        order.insert(at, KEYWORDS_FIELD)
        by_field[KEYWORDS_SLUG] = _keyword_items(watch_matches, adjusted, moves, lang)
    in_fields = {p.arxiv_id for items in by_field.values() for p, _ in items}
    if any(i not in in_fields for i in homeless):
        at = next((i + 1 for i, f in enumerate(order) if f.slug in (KEYWORDS_SLUG, INTERESTS_SLUG)), 0)
        order.insert(at, FOLLOWED_FIELD)
        by_field[FOLLOWED_SLUG] = [ps for i, ps in homeless.items() if i not in in_fields]
    sections: list[Section] = []
    hidden = 0
    shown: set[str] = set()  # a paper appears once, in the first section (in `fields` order) that takes it
    for f in order:
        candidates = [ps for ps in by_field[f.slug] if ps[0].arxiv_id not in shown]
        if f is KEYWORDS_FIELD:
            items = candidates  # already in match order
        else:
            items = sorted(candidates, key=lambda ps: (-(ps[1].value or 0.0), ps[0].arxiv_id))
        kept = [ps for n, ps in enumerate(items) if n < max_per_field or ps[0].arxiv_id in followed]
        shown.update(p.arxiv_id for p, _ in kept)
        hidden += len(items) - len(kept)
        if kept:
            sections.append((f, tuple(kept)))
    return sections, hidden


def build_digest(
    day: date,
    fields: Sequence[Field],
    scored: Sequence[tuple[Paper, Score]],
    *,
    lang: str,
    min_score: float,
    max_per_field: int,
    papers_read: int,
    model: str,
    tokens: int,
    updated_at: datetime | None,
    announced: bool = True,
    notes: Sequence[str] = (),
    keyword_matches: Sequence[KeywordMatch] = (),
    adjustments: Mapping[str, Adjustment] | None = None,
    llm: LLMShare | None = None,
) -> Digest:
    """A digest of `scored` papers: the sections `select_sections` picks, keyword matches with their summary."""
    chosen, hidden = select_sections(
        fields, scored, lang=lang, min_score=min_score, max_per_field=max_per_field,
        watch_matches=[(m.paper, m.terms) for m in keyword_matches], adjustments=adjustments,
    )
    summaries = {m.paper.arxiv_id: m.summary for m in keyword_matches}
    mine = next((f for f in fields if f.slug == INTERESTS_SLUG), None)
    if mine is not None and all(f.slug != INTERESTS_SLUG for f, _ in chosen):
        chosen.insert(0, (mine, ()))  # "My interests" comes first, and says when nothing matched today
    sections = []
    for f, items in chosen:
        if f is KEYWORDS_FIELD:
            items = tuple((p, dataclasses.replace(s, reason=f"{s.reason} {summary_text(summaries[p.arxiv_id], lang)}"))
                          for p, s in items)
        sections.append(DigestSection(field=f, items=items))
    extra_notes = list(notes)
    if hidden:
        extra_notes.append(text(lang, "more", n=hidden))
    return Digest(
        day=day,
        lang=lang,
        papers_read=papers_read,
        model=model,
        tokens=tokens,
        updated_at=updated_at,
        min_score=min_score,
        sections=tuple(sections),
        announced=announced,
        notes=tuple(extra_notes),
        llm=llm,
    )


def _keyword_items(
    matches: Sequence[tuple[Paper, tuple[str, ...]]], scored: Sequence[tuple[Paper, Score]],
    adjustments: Mapping[str, Adjustment], lang: str,
) -> list[tuple[Paper, Score]]:
    """Keyword matches as section items: more terms first, then the paper's best score; the reason is
    the matched terms."""
    best: dict[str, float] = {}
    for paper, score in scored:
        best[paper.arxiv_id] = max(best.get(paper.arxiv_id, 0.0), score.value or 0.0)
    ranked = []
    for paper, terms in matches:
        adjustment = adjustments.get(paper.arxiv_id)
        if adjustment is not None and adjustment.own_vote < 0:
            continue
        why = text(lang, "matched", terms=", ".join(terms))
        value = best.get(paper.arxiv_id, 0.0)
        item = (paper, Score(paper.arxiv_id, KEYWORDS_SLUG, value, why, "keyword"))
        ranked.append(((-len(terms), -value, paper.arxiv_id), item))
    return [item for _, item in sorted(ranked, key=lambda r: r[0])]


def llm_share_lines(share: LLMShare | None, lang: str) -> list[str]:
    """What fell back to the offline score and why, with the count, in `lang` (none when nothing did)."""
    if share is None:
        return []
    lines = []
    if share.failed:
        lines.append(text(lang, "llm_failed", n=share.failed, asked=share.asked))
    if share.budget:
        lines.append(text(lang, "llm_budget", n=share.budget, asked=share.asked))
    return lines


def header_lines(digest: Digest, timezone: str) -> list[str]:
    """The lines under the title: update time, papers read, the scorer and tokens, what fell back."""
    lang = digest.lang
    lines = []
    if digest.updated_at is not None:
        local = digest.updated_at.astimezone(ZoneInfo(timezone))
        ts = local.strftime("%Y-%m-%d %H:%M:%S")
        if timezone in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
            lines.append(text(lang, "updated_bj", ts=ts))
        else:
            lines.append(text(lang, "updated", tz=timezone, ts=ts))
    lines.append(text(lang, "read", n=digest.papers_read))
    share = digest.llm
    if digest.model == OFFLINE_MODEL:
        model = text(lang, "offline")
    elif share is not None and share.asked and share.judged == 0:  # never name a model that scored nothing
        model = text(lang, "stood_in")
    else:
        model = digest.model
    lines.append(text(lang, "model", model=model, tokens=f"{digest.tokens:,}"))
    lines.extend(llm_share_lines(share, lang))
    lines.append(text(lang, "threshold", score=format_score(digest.min_score)))
    return lines


def paper_item(paper: Paper, score: Score | None, field_slug: str, lang: str, *, value: float | None = None,
               reason: bool = True) -> PaperItem:
    """One paper as a neutral block, as every digest (daily, weekly) and every reply about a paper (`/paper`,
    `/search`, `/why`) shows it: `score` may be missing (a paper never scored), `value` stands for the score's
    own when a reply shows another (what the chat's digest showed), `reason=False` leaves the reason out."""
    shown = value if value is not None else (score.value if score is not None else None)
    return PaperItem(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        url=paper.url,
        authors=short_authors(paper.authors, lang),
        published=paper.published,
        score=float(shown or 0.0),
        why=clean_reason(score.reason_in(lang)) if score is not None and reason else "",
        field_slug=field_slug,
        stage=score.stage if score is not None else "",
        code_url=find_code_link(paper.abstract, paper.comment),
    )


def digest_blocks(digest: Digest, timezone: str = "Asia/Shanghai") -> list[Block]:
    """Lay a digest out as neutral blocks: title, header notes, then a heading and items per field."""
    lang = digest.lang
    blocks: list[Block] = [Heading(text(lang, "title", day=digest.day.isoformat()), level=1)]
    blocks.extend(Note(line) for line in header_lines(digest, timezone))
    if not digest.announced:
        blocks.append(Note(text(lang, "no_announcement")))
        return blocks
    if not any(section.items for section in digest.sections):
        blocks.append(Note(text(lang, "none", score=format_score(digest.min_score))))
    for section in digest.sections:
        blocks.append(Heading(section.field.name(lang), level=2))
        if not section.items:  # only "My interests" is ever empty: it says so
            blocks.append(Note(text(lang, "interests_none", score=format_score(digest.min_score))))
        blocks.extend(paper_item(paper, score, section.field.slug, lang) for paper, score in section.items)
    blocks.extend(Note(n) for n in digest.notes)
    return blocks
