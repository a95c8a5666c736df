"""Choose and lay out a digest as neutral blocks (pure).

Everything a reader sees is decided here: which papers, in what order, how authors are shortened,
the header lines and their wording in zh or en. Adapters only spell the blocks in their markup
(Telegram HTML, Slack Block Kit, the Markdown file in core/markdown.py), escape, and split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.models import Block, Digest, DigestSection, Field, Heading, Note, Paper, PaperItem, Score

MAX_AUTHORS = 6
OFFLINE_MODEL = "offline"

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
        "threshold": "推荐阈值：{score} 分",
        "none": "今天没有达到 {score} 分阈值的论文。",
        "no_announcement": "arXiv 今天没有发布新论文（周末或节假日），今天没有推荐。",
        "more": "另有 {n} 篇达到阈值的论文未列出。",
        "et_al": "等",
    },
    "en": {
        "title": "ArXiv Daily Digest - {day}",
        "updated_bj": "Updated (Beijing time): {ts}",
        "updated": "Updated ({tz}): {ts}",
        "read": "Read {n} new papers.",
        "model": "Model: {model} | Tokens: {tokens}",
        "offline": "offline scorer (no LLM configured)",
        "threshold": "Threshold: {score}",
        "none": "No paper reached the threshold of {score} today.",
        "no_announcement": "arXiv made no announcement today (weekend or holiday), so there is no digest.",
        "more": "{n} more papers reached the threshold but are not listed.",
        "et_al": "et al.",
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
    """Authors joined with commas, shortened after `limit` names."""
    names = [a.strip() for a in authors if a.strip()]
    if len(names) <= limit:
        return ", ".join(names)
    joiner = " " if lang == "zh" else ", "
    return ", ".join(names[:limit]) + joiner + text(lang, "et_al")


def format_score(value: float) -> str:
    return f"{value:.1f}"


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
) -> Digest:
    """Pick, per field in `fields` order, the papers whose best field it is and whose score >= min_score."""
    by_field: dict[str, list[tuple[Paper, Score]]] = {f.slug: [] for f in fields}
    for paper, score in scored:
        if score.value is None or score.field_slug not in by_field or score.value < min_score:
            continue
        by_field[score.field_slug].append((paper, score))
    sections = []
    extra_notes = list(notes)
    hidden = 0
    shown: set[str] = set()  # a paper appears once, in the first section (in `fields` order) that takes it
    for f in fields:
        candidates = [ps for ps in by_field[f.slug] if ps[0].arxiv_id not in shown]
        items = sorted(candidates, key=lambda ps: (-(ps[1].value or 0.0), ps[0].arxiv_id))
        shown.update(p.arxiv_id for p, _ in items[:max_per_field])
        hidden += max(0, len(items) - max_per_field)
        if items:
            sections.append(DigestSection(field=f, items=tuple(items[:max_per_field])))
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
    )


def header_lines(digest: Digest, timezone: str) -> list[str]:
    """The lines under the title: update time, papers read, model and tokens."""
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
    model = text(lang, "offline") if digest.model == OFFLINE_MODEL else digest.model
    lines.append(text(lang, "model", model=model, tokens=f"{digest.tokens:,}"))
    lines.append(text(lang, "threshold", score=format_score(digest.min_score)))
    return lines


def digest_blocks(digest: Digest, timezone: str = "Asia/Shanghai") -> list[Block]:
    """Lay a digest out as neutral blocks: title, header notes, then a heading and items per field."""
    lang = digest.lang
    blocks: list[Block] = [Heading(text(lang, "title", day=digest.day.isoformat()), level=1)]
    blocks.extend(Note(line) for line in header_lines(digest, timezone))
    if not digest.announced:
        blocks.append(Note(text(lang, "no_announcement")))
        return blocks
    if not digest.sections:
        blocks.append(Note(text(lang, "none", score=format_score(digest.min_score))))
    for section in digest.sections:
        blocks.append(Heading(section.field.name(lang), level=2))
        for paper, score in section.items:
            blocks.append(
                PaperItem(
                    arxiv_id=paper.arxiv_id,
                    title=paper.title,
                    url=paper.url,
                    authors=short_authors(paper.authors, lang),
                    published=paper.published,
                    score=float(score.value or 0.0),
                    why=clean_reason(score.reason),
                    field_slug=section.field.slug,
                    stage=score.stage,
                )
            )
    blocks.extend(Note(n) for n in digest.notes)
    return blocks
