"""arXiv's export API answers (Atom, current and older shape): parse one page into Papers and paging totals.

Pure: text in, models out. This module does not fetch; an Atom error entry becomes SourceError here.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime

from core.errors import SourceError
from core.fetch.ids import split_id
from core.fetch.text import NS, author_name, clean, parse_xml, prose, unique
from core.models import Paper

log = logging.getLogger(__name__)

_ATOM = "{" + NS["atom"] + "}"


@dataclass(frozen=True, slots=True)
class AtomPage:
    """One page of export-API results, with the totals needed to page on."""

    url: str
    total: int | None  # opensearch:totalResults
    start: int  # opensearch:startIndex
    papers: tuple[Paper, ...]
    entries: int  # entries on the page, including any skipped as unreadable


def _atom_paper(entry: ET.Element, url: str, published: date | None) -> Paper | None:
    parsed = split_id(entry.findtext("atom:id", default="", namespaces=NS))
    title = prose(entry.findtext("atom:title", namespaces=NS))
    if parsed is None or not title:
        entry_id = entry.findtext("atom:id", namespaces=NS)
        log.warning("skipping an unreadable Atom entry in %s: %r", url, entry_id)
        return None
    if published is None:
        stamp = entry.findtext("atom:published", default="", namespaces=NS).strip()
        try:
            published = datetime.fromisoformat(stamp).date()
        except ValueError:
            log.warning("skipping %s in %s: bad <published> %r", parsed[0], url, stamp)
            return None
    categories = unique([c.get("term", "").strip() for c in entry.findall("atom:category", NS)])
    primary_el = entry.find("arxiv:primary_category", NS)
    primary = (primary_el.get("term", "") if primary_el is not None else "").strip()
    primary = primary or (categories[0] if categories else "")
    if primary:  # same convention as the RSS listing and data/arxiv: primary first
        categories = (primary, *(c for c in categories if c != primary))
    authors = tuple(
        author_name(name)
        for a in entry.findall("atom:author", NS)
        if (name := clean(a.findtext("atom:name", namespaces=NS)))
    )
    return Paper(
        arxiv_id=parsed[0],
        title=title,
        abstract=prose(entry.findtext("atom:summary", namespaces=NS)),
        authors=authors,
        categories=categories,
        primary_category=primary,
        published=published,
        version=parsed[1],
        comment=clean(entry.findtext("arxiv:comment", namespaces=NS)),
    )


def _int_text(root: ET.Element, path: str) -> int | None:
    text = root.findtext(path, namespaces=NS)
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def parse_atom_page(xml: str | bytes, url: str, published: date | None = None) -> AtomPage:
    """Parse one export-API Atom page (current or older shape); `published` overrides each entry's date."""
    root = parse_xml(xml, url)
    if root.tag != _ATOM + "feed":
        raise SourceError(f"arXiv feed is malformed: {url}: expected an Atom feed, got <{root.tag}>")
    entries = root.findall("atom:entry", NS)
    for entry in entries:
        entry_id = entry.findtext("atom:id", default="", namespaces=NS)
        if "/api/errors" in entry_id or clean(entry.findtext("atom:title", namespaces=NS)) == "Error":
            message = clean(entry.findtext("atom:summary", namespaces=NS)) or entry_id
            raise SourceError(f"arXiv API error: {url}: {message}")
    papers = [p for e in entries if (p := _atom_paper(e, url, published)) is not None]
    return AtomPage(
        url=url,
        total=_int_text(root, "opensearch:totalResults"),
        start=_int_text(root, "opensearch:startIndex") or 0,
        papers=tuple(papers),
        entries=len(entries),
    )


def parse_atom(xml: str | bytes, url: str, published: date | None = None) -> list[Paper]:
    """Parse an export-API Atom feed into Papers; `published` overrides each entry's submission date."""
    return list(parse_atom_page(xml, url, published).papers)
