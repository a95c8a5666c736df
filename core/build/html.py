"""Spell one day's digest as an HTML page of the static site (pure: a Digest in, text out).

Layout only: which papers, their order, the header facts and the reasons are core/build/digest.py's
(`digest_blocks`). Every untrusted string (titles, authors, reasons, abstracts, URLs) goes through
`esc`; the page loads no remote resource.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

from core.build.digest import digest_blocks, format_score, header_lines, text
from core.build.links import link_label
from core.models import Digest, Field, Heading, Note, PaperItem

SITE_TEXT = {
    "zh": {
        "html_lang": "zh-CN", "search": "搜索标题、作者或编号…", "search_label": "搜索论文",
        "day_label": "选择日期", "prev": "← 前一天", "next": "后一天 →", "score": "评分", "abstract": "摘要",
        "found": "找到 {n} 篇论文", "none": "没有匹配的论文", "feeds": "Atom 订阅：", "all_fields": "全部方向",
        "empty": "还没有任何一天的推荐。", "fields_label": "研究方向",
    },
    "en": {
        "html_lang": "en", "search": "Search titles, authors or ids…", "search_label": "Search papers",
        "day_label": "Choose a day", "prev": "← Previous day", "next": "Next day →", "score": "Score",
        "abstract": "Abstract", "found": "Papers found: {n}", "none": "No paper matches", "feeds": "Atom feeds:",
        "all_fields": "All fields", "empty": "No digest yet.", "fields_label": "Fields",
    },
}


def site_text(lang: str, key: str) -> str:
    """One of the site's own strings in `lang` (English when the language has none)."""
    return SITE_TEXT.get(lang, SITE_TEXT["en"])[key]


def esc(value: str) -> str:
    """Escape text for HTML element content and quoted attribute values."""
    return html.escape(value, quote=True)


def day_page_name(day: date) -> str:
    return f"{day.isoformat()}.html"


def paper_anchor(arxiv_id: str) -> str:
    return f"paper-{arxiv_id}"


def field_anchor(slug: str) -> str:
    return f"field-{slug}"


def _head(title: str, lang: str, fields: Sequence[Field]) -> list[str]:
    out = [
        "<!doctype html>",
        f'<html lang="{esc(site_text(lang, "html_lang"))}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{esc(title)}</title>",
        '<link rel="icon" type="image/svg+xml" href="favicon.svg">',
        '<link rel="stylesheet" href="style.css">',
        f'<link rel="alternate" type="application/atom+xml" title="{esc(site_text(lang, "all_fields"))}"'
        ' href="feed.xml">',
    ]
    out.extend(f'<link rel="alternate" type="application/atom+xml" title="{esc(f.name(lang))}"'
               f' href="feeds/{esc(f.slug)}.xml">' for f in fields)
    out.extend(["</head>", "<body>"])
    return out


def _day_nav(day: date | None, days: Sequence[date], lang: str) -> list[str]:
    """Previous/next links (work without script) and a drop-down of every day, newest first."""
    ordered = sorted(days, reverse=True)
    out = ['<nav class="days">']
    if day is not None and day in ordered:
        at = ordered.index(day)
        older = ordered[at + 1] if at + 1 < len(ordered) else None
        newer = ordered[at - 1] if at > 0 else None
        out.append(f'<a rel="prev" href="{day_page_name(older)}">{esc(site_text(lang, "prev"))}</a>' if older
                   else f'<span class="off">{esc(site_text(lang, "prev"))}</span>')
    if ordered:
        out.append(f'<select id="day-select" aria-label="{esc(site_text(lang, "day_label"))}">')
        for d in ordered:
            selected = " selected" if d == day else ""
            out.append(f'<option value="{day_page_name(d)}"{selected}>{d.isoformat()}</option>')
        out.append("</select>")
    if day is not None and day in ordered:
        out.append(f'<a rel="next" href="{day_page_name(newer)}">{esc(site_text(lang, "next"))}</a>' if newer
                   else f'<span class="off">{esc(site_text(lang, "next"))}</span>')
    out.append("</nav>")
    return out


def _top(day: date | None, days: Sequence[date], lang: str) -> list[str]:
    return [
        '<header class="wrap top">',
        *_day_nav(day, days, lang),
        '<form class="search" role="search" action="#">',
        f'<input id="search" type="search" autocomplete="off" placeholder="{esc(site_text(lang, "search"))}"'
        f' aria-label="{esc(site_text(lang, "search_label"))}">',
        "</form>",
        "</header>",
    ]


def _foot(lang: str, fields: Sequence[Field]) -> list[str]:
    feeds = [f'<a href="feed.xml">{esc(site_text(lang, "all_fields"))}</a>']
    feeds.extend(f'<a href="feeds/{esc(f.slug)}.xml">{esc(f.name(lang))}</a>' for f in fields)
    return [
        '<footer class="wrap">',
        f'<p>{esc(site_text(lang, "feeds"))} {" · ".join(feeds)}</p>',
        "</footer>",
        '<script src="search-index.js"></script>',
        '<script src="site.js"></script>',
        "</body>",
        "</html>",
        "",
    ]


def _paper(item: PaperItem, field_name: str, abstract: str, lang: str) -> list[str]:
    out = [
        f'<article class="paper" id="{esc(paper_anchor(item.arxiv_id))}">',
        f'<h3><a href="{esc(item.url)}">{esc(item.title)}</a></h3>',
        f'<p class="meta"><span class="score" title="{esc(site_text(lang, "score"))}">'
        f"{format_score(item.score)}</span> · {esc(field_name)} · {esc(item.authors)}</p>",
    ]
    if item.why:
        out.append(f'<p class="why">{esc(item.why)}</p>')
    links = [f'<a href="{esc(item.url)}">arXiv:{esc(item.arxiv_id)}</a>']
    if item.code_url:
        links.append(f'<a class="code" href="{esc(item.code_url)}">{esc(link_label(item.code_url))}</a>')
    out.append(f'<p class="links">{" · ".join(links)}</p>')
    if abstract:
        out.append(f"<details><summary>{esc(site_text(lang, 'abstract'))}</summary><p>{esc(abstract)}</p></details>")
    out.append("</article>")
    return out


def render_day_page(digest: Digest, days: Sequence[date], fields: Sequence[Field], timezone: str) -> str:
    """One day's page: day navigation and search, the sticky field bar, the header facts, every paper."""
    lang = digest.lang
    blocks = digest_blocks(digest, timezone)
    names = {s.field.slug: s.field.name(lang) for s in digest.sections}
    abstracts = {p.arxiv_id: p.abstract for s in digest.sections for p, _ in s.items}
    title = text(lang, "title", day=digest.day.isoformat())
    out = _head(title, lang, fields)
    out.extend(_top(digest.day, days, lang))
    if digest.sections:
        out.append(f'<nav class="wrap fields" aria-label="{esc(site_text(lang, "fields_label"))}">')
        out.extend(f'<a href="#{esc(field_anchor(s.field.slug))}">{esc(s.field.name(lang))} '
                   f"<span>{len(s.items)}</span></a>" for s in digest.sections)
        out.append("</nav>")
    out.append('<main class="wrap">')
    out.append('<div id="search-results" aria-live="polite" hidden></div>')
    out.append(f"<h1>{esc(title)}</h1>")
    out.append('<ul class="facts">')
    out.extend(f"<li>{esc(line)}</li>" for line in header_lines(digest, timezone))
    out.append("</ul>")
    in_section = False
    sections = iter(digest.sections)
    header_notes = len(header_lines(digest, timezone))
    seen_notes = 0
    for block in blocks[1:]:
        if isinstance(block, Note):
            seen_notes += 1
            if seen_notes > header_notes:
                out.append(f'<p class="note">{esc(block.text)}</p>')
        elif isinstance(block, Heading):
            if in_section:
                out.append("</section>")
            slug = next(sections).field.slug  # digest_blocks gives one field heading per section, in order
            out.append(f'<section id="{esc(field_anchor(slug))}">')
            out.append(f"<h2>{esc(block.text)}</h2>")
            in_section = True
        elif isinstance(block, PaperItem):
            out.extend(_paper(block, names.get(block.field_slug, block.field_slug), abstracts.get(block.arxiv_id, ""),
                              lang))
    if in_section:
        out.append("</section>")
    out.append("</main>")
    out.extend(_foot(lang, fields))
    return "\n".join(out)


def render_empty_page(lang: str, fields: Sequence[Field]) -> str:
    """The front page before any day has been scored."""
    out = _head(text(lang, "title", day="—"), lang, fields)
    out.extend(_top(None, (), lang))
    out.extend(['<main class="wrap">', '<div id="search-results" aria-live="polite" hidden></div>',
                f'<p class="note">{esc(site_text(lang, "empty"))}</p>', "</main>"])
    out.extend(_foot(lang, fields))
    return "\n".join(out)
