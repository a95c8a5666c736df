"""arXiv's RSS listing (rss.arxiv.org): parse one day's feed into a Listing of Papers.

Pure: text in, models out. This module does not fetch, and does not decide which day "today" is: the
listing's day is the feed's own pubDate.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime

from core.errors import SourceError
from core.fetch.ids import split_id
from core.fetch.text import NS, parse_xml, prose, split_authors, unique
from core.models import Paper

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Listing:
    """One RSS listing. No papers means arXiv announced nothing that day (weekend or holiday)."""

    url: str
    day: date | None  # the feed's own date (US Eastern); None when the feed carries no pubDate
    papers: tuple[Paper, ...]

    @property
    def empty(self) -> bool:
        return not self.papers


def _rss_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text.strip()).date()  # keeps the feed's own offset (US Eastern)
    except (TypeError, ValueError):
        return None


def _rss_paper(item: ET.Element, day: date | None, url: str, announce_type: str) -> Paper | None:
    description = item.findtext("description") or ""
    id_text = (item.findtext("guid") or "").strip() or description.split(" ", 1)[0]
    parsed = split_id(id_text) or split_id(item.findtext("link") or "")
    if parsed is None:
        log.warning("skipping an RSS item without an arXiv id in %s: %r", url, item.findtext("title"))
        return None
    published = _rss_date(item.findtext("pubDate")) or day
    if published is None:
        raise SourceError(f"arXiv feed is malformed: {url}: no pubDate for {parsed[0]}")
    categories = unique([(c.text or "").strip() for c in item.findall("category")])
    return Paper(
        arxiv_id=parsed[0],
        title=prose(item.findtext("title")),
        abstract=prose(description.split("Abstract:", 1)[-1]),
        authors=split_authors(item.findtext("dc:creator", namespaces=NS)),
        categories=categories,
        primary_category=categories[0] if categories else "",
        published=published,
        version=parsed[1],
        announce_type=announce_type,
    )


def _announce_type(item: ET.Element) -> str:
    text = (item.findtext("arxiv:announce_type", namespaces=NS) or "").strip()
    if not text:  # older feeds only say it in the description
        match = re.search(r"Announce Type:\s*([\w-]+)", item.findtext("description") or "")
        text = match.group(1) if match else "new"
    return text.lower()


def parse_rss(xml: str | bytes, url: str, announce_types: Sequence[str] = ("new", "cross")) -> Listing:
    """Parse an arXiv RSS 2.0 listing, keeping the given announce types, one Paper per arXiv id."""
    root = parse_xml(xml, url)
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise SourceError(f"arXiv feed is malformed: {url}: expected an RSS channel, got <{root.tag}>")
    items = channel.findall("item")
    day = _rss_date(channel.findtext("pubDate"))
    if day is None and items:
        day = _rss_date(items[0].findtext("pubDate"))
    keep = {t.lower() for t in announce_types}
    papers: dict[str, Paper] = {}
    for item in items:
        kind = _announce_type(item)
        if kind not in keep:
            continue
        paper = _rss_paper(item, day, url, kind)
        if paper is not None and paper.arxiv_id not in papers:  # arXiv lists a paper once; be safe anyway
            papers[paper.arxiv_id] = paper
    return Listing(url=url, day=day, papers=tuple(papers.values()))
