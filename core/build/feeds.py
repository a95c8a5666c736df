"""Atom feeds of the recommended papers: one for every field, one per field (pure: digests in, bytes out).

Owns the feed's shape (RFC 4287): a stable entry id per paper and field (the abs URL with the field as
fragment), `updated` from the day's run (never "now"), the reason and the abstract as HTML content.
It must not read the clock or the store.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time

from core.build.digest import clean_reason, short_authors, text
from core.build.links import find_code_link, link_label
from core.models import Digest, Field

FEED_DAYS = 30  # the newest days a feed covers
MAX_ENTRIES = 500
# Characters XML 1.0 forbids (a stray one in an abstract would make the whole feed unreadable).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
ATOM_NS = "http://www.w3.org/2005/Atom"


def xml_text(value: str) -> str:
    """Escape text for XML content and attributes, dropping characters XML cannot carry."""
    return html.escape(_XML_INVALID.sub("", value), quote=True)


def _stamp(digest: Digest) -> str:
    at = digest.updated_at or datetime.combine(digest.day, time(0), tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_id(slug: str, base_url: str) -> str:
    """The feed's own id: its URL when the site's base URL is known, else a UUID derived from the slug."""
    path = "feed.xml" if not slug else f"feeds/{slug}.xml"
    if base_url:
        return base_url.rstrip("/") + "/" + path
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"arxiv-digest:{path}"))


def _entry(paper_title: str, url: str, arxiv_id: str, authors: Sequence[str], field: Field, score: float,
           reason: str, abstract: str, updated: str, lang: str) -> list[str]:
    content = [f"<p><b>{html.escape(f'{score:.1f}')}/10</b> · {html.escape(field.name(lang))}</p>"]
    if reason:
        content.append(f"<p>{html.escape(reason)}</p>")
    if abstract:
        content.append(f"<p>{html.escape(abstract)}</p>")
    code = find_code_link(abstract)
    if code:
        content.append(f'<p><a href="{html.escape(code)}">{html.escape(link_label(code))}</a></p>')
    names = [a for a in authors if a.strip()] or ["arXiv"]
    shown = short_authors(names, lang).split(", ") if len(names) > 6 else names
    out = [
        "<entry>",
        f"<id>{xml_text(url)}#{xml_text(field.slug)}</id>",
        f"<title>{xml_text(paper_title)}</title>",
        f'<link rel="alternate" type="text/html" href="{xml_text(url)}"/>',
        f"<updated>{updated}</updated>",
    ]
    out.extend(f"<author><name>{xml_text(name)}</name></author>" for name in shown)
    out.append(f'<category term="{xml_text(field.slug)}" label="{xml_text(field.name(lang))}"/>')
    out.append(f"<summary>{xml_text(reason or paper_title)}</summary>")
    out.append(f'<content type="html">{xml_text("".join(content))}</content>')
    out.append("</entry>")
    return out


def render_feed(digests: Sequence[Digest], fields: Sequence[Field], *, lang: str, slug: str = "",
                base_url: str = "") -> bytes:
    """One Atom feed: every recommended paper of the newest FEED_DAYS digests (one field's when `slug`)."""
    newest = sorted((d for d in digests if d.announced), key=lambda d: d.day, reverse=True)[:FEED_DAYS]
    field = next((f for f in fields if f.slug == slug), None)
    title = "arXiv digest" + (f" — {field.name(lang)}" if field else "")
    entries: list[list[str]] = []
    seen: set[tuple[str, str]] = set()
    stamps: list[str] = []
    for digest in newest:
        updated = _stamp(digest)
        for section in digest.sections:
            if slug and section.field.slug != slug:
                continue
            for paper, score in section.items:
                key = (paper.arxiv_id, section.field.slug)
                if key in seen or len(entries) >= MAX_ENTRIES:
                    continue  # a paper listed again on a newer day keeps its newest entry
                seen.add(key)
                stamps.append(updated)
                entries.append(_entry(paper.title, paper.url, paper.arxiv_id, paper.authors, section.field,
                                      float(score.value or 0.0), clean_reason(score.reason_in(lang)),
                                      paper.abstract, updated, lang))
    feed_updated = max(stamps) if stamps else (_stamp(newest[0]) if newest else "1970-01-01T00:00:00Z")
    base = base_url.rstrip("/") + "/" if base_url else ""
    page = base + "index.html" if base else ("../index.html" if slug else "index.html")
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="{ATOM_NS}" xml:lang="{"zh-CN" if lang == "zh" else "en"}">',
        f"<id>{xml_text(feed_id(slug, base_url))}</id>",
        f"<title>{xml_text(title)}</title>",
        f"<subtitle>{xml_text(text(lang, 'title', day='').rstrip(' -'))}</subtitle>",
        f"<updated>{feed_updated}</updated>",
        "<author><name>arxiv-digest</name></author>",
        "<generator>arxiv-digest</generator>",
        f'<link rel="alternate" type="text/html" href="{xml_text(page)}"/>',
    ]
    if base:
        out.append(f'<link rel="self" type="application/atom+xml" href="{xml_text(feed_id(slug, base_url))}"/>')
    for entry in entries:
        out.extend(entry)
    out.append("</feed>")
    return ("\n".join(out) + "\n").encode("utf-8")
