"""arXiv's RSS listing and export API: `fetch_*` talk to arXiv politely, `parse_*` turn its XML into Papers.

This module owns every request to arXiv and arXiv's rate rules: one request in flight per client, at
least `delay` seconds between request starts, bounded retries with backoff for 429, 5xx, timeouts and
dropped connections. aiohttp errors become SourceError here and travel no further. It does not score,
store, or decide which papers a digest shows, and it never reads the clock to decide what "today" is.
"""

from __future__ import annotations

import asyncio
import html
import logging
import random
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import aiohttp

from core.calendar import submission_window
from core.config import Settings
from core.errors import SourceError
from core.models import Paper

log = logging.getLogger(__name__)

USER_AGENT = "arxiv-digest/0.1 (+project)"
RETRY_AFTER_CAP = 120.0  # seconds; a longer Retry-After is treated as this
ID_CHUNK = 100  # ids per id_list request
MAX_PAGE = 2000  # arXiv's largest max_results per request
MAX_RESULTS = 30000  # arXiv serves no result beyond this offset

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}
_ATOM = "{" + NS["atom"] + "}"

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Listing:
    """One RSS listing. No papers means arXiv announced nothing that day (weekend or holiday)."""

    url: str
    day: date | None  # the feed's own date (US Eastern); None when the feed carries no pubDate
    papers: tuple[Paper, ...]

    @property
    def empty(self) -> bool:
        return not self.papers


@dataclass(frozen=True, slots=True)
class AtomPage:
    """One page of export-API results, with the totals needed to page on."""

    url: str
    total: int | None  # opensearch:totalResults
    start: int  # opensearch:startIndex
    papers: tuple[Paper, ...]
    entries: int  # entries on the page, including any skipped as unreadable


# -- arXiv ids ------------------------------------------------------------------------------------

_ID_PREFIX = re.compile(
    r"^(?:arxiv:|oai:arxiv\.org:|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)",
    re.IGNORECASE,
)
_ID_SUFFIX = re.compile(r"(?:\.pdf)?/?(?:[?#].*)?$", re.IGNORECASE)
_ID = re.compile(
    r"(?:(?P<yymm>\d{4})\.(?P<num>\d{4,5})|(?P<old>[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}))(?:v(?P<version>\d+))?"
)


def _split_id(text: str) -> tuple[str, int] | None:
    """Return (id without version, version or 1) for any spelling normalize_arxiv_id accepts."""
    core = _ID_SUFFIX.sub("", _ID_PREFIX.sub("", text.strip(), count=1), count=1)
    match = _ID.fullmatch(core)
    if match is None:
        return None
    version = int(match["version"]) if match["version"] else 1
    if match["old"]:
        return match["old"], version
    yymm, num = match["yymm"], match["num"]
    # New-style ids began in April 2007; the sequence number grew to five digits in January 2015.
    if not 1 <= int(yymm[2:]) <= 12 or yymm < "0704" or len(num) != (4 if yymm < "1501" else 5):
        return None
    return f"{yymm}.{num}", version


def normalize_arxiv_id(text: str) -> str | None:
    """Return the arXiv id in `text` without its version, or None if `text` is not an id or abs/pdf URL."""
    parsed = _split_id(text)
    return parsed[0] if parsed else None


# -- text clean-up --------------------------------------------------------------------------------

_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
# Split on commas and on the whole word "and" ("A, B and C", "A, B, and C"), never inside "Anderson".
_AUTHOR_SEP = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


def _clean(text: str | None) -> str:
    """Collapse whitespace and decode entities that survived XML parsing (arXiv sometimes escapes twice)."""
    if not text:
        return ""
    return " ".join(_ENTITY.sub(lambda m: html.unescape(m.group(0)), text).split())


def _repair_mojibake(name: str) -> str:
    """Undo UTF-8 read as Latin-1/cp1252 ("RamÃ­rez" -> "Ramírez"); leave anything else untouched."""
    for wrong in ("latin-1", "cp1252"):
        try:
            fixed = name.encode(wrong).decode("utf-8")
        except UnicodeError:
            continue
        if fixed != name:
            return fixed
    return name


def _split_authors(text: str | None) -> tuple[str, ...]:
    names: list[str] = []
    for part in _AUTHOR_SEP.split(_clean(text)):
        part = part.strip()
        if not part:
            continue
        if names and part.lower() in _NAME_SUFFIXES:  # "John Smith, Jr." is one author
            names[-1] = f"{names[-1]} {part}"
        else:
            names.append(_repair_mojibake(part))
    return tuple(names)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(x for x in items if x))


def _parse_xml(xml: str | bytes, url: str) -> ET.Element:
    text = xml.decode("utf-8", errors="replace") if isinstance(xml, bytes) else xml
    try:
        return ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as exc:
        raise SourceError(f"arXiv feed is malformed: {url}: not XML ({exc})") from exc


# -- RSS ------------------------------------------------------------------------------------------


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
    parsed = _split_id(id_text) or _split_id(item.findtext("link") or "")
    if parsed is None:
        log.warning("skipping an RSS item without an arXiv id in %s: %r", url, item.findtext("title"))
        return None
    published = _rss_date(item.findtext("pubDate")) or day
    if published is None:
        raise SourceError(f"arXiv feed is malformed: {url}: no pubDate for {parsed[0]}")
    categories = _unique([(c.text or "").strip() for c in item.findall("category")])
    return Paper(
        arxiv_id=parsed[0],
        title=_clean(item.findtext("title")),
        abstract=_clean(description.split("Abstract:", 1)[-1]),
        authors=_split_authors(item.findtext("dc:creator", namespaces=NS)),
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
    root = _parse_xml(xml, url)
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


# -- Atom (export API) ----------------------------------------------------------------------------


def _atom_paper(entry: ET.Element, url: str, published: date | None) -> Paper | None:
    parsed = _split_id(entry.findtext("atom:id", default="", namespaces=NS))
    title = _clean(entry.findtext("atom:title", namespaces=NS))
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
    categories = _unique([c.get("term", "").strip() for c in entry.findall("atom:category", NS)])
    primary_el = entry.find("arxiv:primary_category", NS)
    primary = (primary_el.get("term", "") if primary_el is not None else "").strip()
    primary = primary or (categories[0] if categories else "")
    if primary:  # same convention as the RSS listing and data/arxiv: primary first
        categories = (primary, *(c for c in categories if c != primary))
    authors = tuple(
        _repair_mojibake(name)
        for a in entry.findall("atom:author", NS)
        if (name := _clean(a.findtext("atom:name", namespaces=NS)))
    )
    return Paper(
        arxiv_id=parsed[0],
        title=title,
        abstract=_clean(entry.findtext("atom:summary", namespaces=NS)),
        authors=authors,
        categories=categories,
        primary_category=primary,
        published=published,
        version=parsed[1],
    )


def _int_text(root: ET.Element, path: str) -> int | None:
    text = root.findtext(path, namespaces=NS)
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def parse_atom_page(xml: str | bytes, url: str, published: date | None = None) -> AtomPage:
    """Parse one export-API Atom page (current or older shape); `published` overrides each entry's date."""
    root = _parse_xml(xml, url)
    if root.tag != _ATOM + "feed":
        raise SourceError(f"arXiv feed is malformed: {url}: expected an Atom feed, got <{root.tag}>")
    entries = root.findall("atom:entry", NS)
    for entry in entries:
        entry_id = entry.findtext("atom:id", default="", namespaces=NS)
        if "/api/errors" in entry_id or _clean(entry.findtext("atom:title", namespaces=NS)) == "Error":
            message = _clean(entry.findtext("atom:summary", namespaces=NS)) or entry_id
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


# -- listing days and submission windows ----------------------------------------------------------


def submitted_date_query(day: date) -> str | None:
    """The `submittedDate:[... TO ...]` clause (GMT, minutes, inclusive) for `day`'s window, or None."""
    window = submission_window(day)
    if window is None:
        return None
    start, end = (t.astimezone(UTC) for t in window)
    last = end - timedelta(minutes=1)  # the API range is inclusive; 14:00 itself belongs to the next day
    return f"submittedDate:[{start:%Y%m%d%H%M} TO {last:%Y%m%d%H%M}]"


# -- the client -----------------------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; the HTTP-date form is ignored (arXiv sends seconds)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


class ArxivClient:
    """A polite arXiv reader: one request in flight, `delay` seconds between starts, bounded retries.

    `sleep`, `clock` and `rng` are injectable so tests run on fake time. The session is borrowed, not owned.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        rss_url: str,
        api_url: str,
        categories: Sequence[str],
        announce_types: Sequence[str] = ("new", "cross"),
        delay: float = 3.0,
        max_tries: int = 4,
        timeout: float = 60.0,
        backoff: float | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not categories:
            raise ValueError("ArxivClient needs at least one category")
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        self.http = http
        self.rss_url = rss_url.rstrip("/")
        self.api_url = api_url
        self.categories = tuple(categories)
        self.announce_types = tuple(announce_types)
        self.delay = delay
        self.max_tries = max_tries
        self.timeout = timeout
        self.backoff = max(delay, 1.0) if backoff is None else backoff  # first retry wait, doubled per try
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._last_start: float | None = None

    @classmethod
    def from_settings(cls, http: aiohttp.ClientSession, settings: Settings) -> ArxivClient:
        """Build a client from the ARXIV_* settings."""
        return cls(
            http,
            rss_url=settings.arxiv_rss_url,
            api_url=settings.arxiv_api_url,
            categories=settings.arxiv_categories,
            announce_types=settings.arxiv_announce_types,
            delay=settings.arxiv_request_delay,
            max_tries=settings.arxiv_max_tries,
            timeout=settings.arxiv_timeout,
        )

    @property
    def listing_url(self) -> str:
        return f"{self.rss_url}/{'+'.join(self.categories)}"

    def api_query_url(self, **params: str | int) -> str:
        """The export-API URL for these query parameters (as sent, and as named in errors)."""
        return f"{self.api_url}?{urlencode(params)}"

    async def fetch_listing(self) -> Listing:
        """Fetch today's RSS listing for the configured categories and announce types."""
        url = self.listing_url
        return parse_rss(await self._get(url), url, self.announce_types)

    async def fetch_papers(self, ids: Sequence[str], *, published: date | None = None) -> list[Paper]:
        """Fetch papers by id from the export API, in the order asked; ids arXiv does not know are left out.

        Each Paper's `published` is its v1 submission date unless `published` is given. The API does not say
        how a paper was announced, so `announce_type` is "new".
        """
        wanted: list[str] = []
        for raw in ids:
            arxiv_id = normalize_arxiv_id(raw)
            if arxiv_id is None:
                raise ValueError(f"not an arXiv id: {raw!r}")
            wanted.append(arxiv_id)
        unique = list(dict.fromkeys(wanted))
        found: dict[str, Paper] = {}
        for i in range(0, len(unique), ID_CHUNK):
            chunk = unique[i : i + ID_CHUNK]
            url = self.api_query_url(id_list=",".join(chunk), start=0, max_results=len(chunk))
            for paper in parse_atom(await self._get(url), url, published):
                found.setdefault(paper.arxiv_id, paper)
        return [found[i] for i in unique if i in found]

    async def fetch_day(self, day: date, *, page_size: int = MAX_PAGE) -> list[Paper]:
        """Back-fill a past listing day from the export API; see `submission_window` for the approximation.

        Returns papers submitted in that day's window to the configured categories, with `published` set to
        `day` and `announce_type` "new" (primary category configured) or "cross" (cross-listed in), filtered
        by the configured announce types. Weekend days have no listing and make no request.
        """
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}")
        when = submitted_date_query(day)
        if when is None:
            log.info("no arXiv listing on %s (weekend)", day)
            return []
        cats = " OR ".join(f"cat:{c}" for c in self.categories)
        query = f"({cats}) AND {when}"
        wanted, keep = set(self.categories), set(self.announce_types)
        papers: dict[str, Paper] = {}
        start = 0
        while start < MAX_RESULTS:
            url = self.api_query_url(
                search_query=query, sortBy="submittedDate", sortOrder="ascending", start=start,
                max_results=min(page_size, MAX_RESULTS - start),
            )
            page = await self._get_page(url, day, start)
            for paper in page.papers:
                kind = "new" if paper.primary_category in wanted else "cross"
                if kind in keep and wanted.intersection(paper.categories) and paper.arxiv_id not in papers:
                    papers[paper.arxiv_id] = replace(paper, announce_type=kind)
            start += page.entries
            if page.total is not None:
                total = page.total
            else:  # no total given: a full page means there may be more
                total = start + 1 if page.entries == page_size else start
            if page.entries == 0 or start >= total:
                break
        else:
            log.warning("arXiv caps results at %d; %s may be incomplete", MAX_RESULTS, day)
        return list(papers.values())

    async def _get_page(self, url: str, day: date, start: int) -> AtomPage:
        """One API page; an empty page before the stated total is a known arXiv glitch, so ask again."""
        for _ in range(self.max_tries):
            page = parse_atom_page(await self._get(url), url, published=day)
            if page.entries or start >= (page.total or 0):
                return page
            log.warning("arXiv returned an empty page at start=%d of %s results: %s", start, page.total, url)
        raise SourceError(f"arXiv returned empty pages before the stated total: {url}")

    async def _get(self, url: str) -> bytes:
        """GET `url` under the rate rules and return the body of a 2xx answer, or raise SourceError."""
        # The lock is held through backoff too, so no other request jumps in while arXiv asks us to wait.
        async with self._lock:
            for attempt in range(1, self.max_tries + 1):
                await self._wait_turn()
                self._last_start = self._clock()
                retry_after: float | None = None
                cause: Exception | None = None
                try:
                    async with self.http.get(
                        url,
                        headers={"User-Agent": USER_AGENT},
                        timeout=aiohttp.ClientTimeout(total=self.timeout),
                    ) as resp:
                        body = await resp.read()
                        if 200 <= resp.status < 300:
                            return body
                        problem = f"HTTP {resp.status}"
                        if resp.status != 429 and resp.status < 500:
                            raise SourceError(f"arXiv fetch failed: {url}: {problem}")
                        retry_after = _retry_after(resp.headers.get("Retry-After"))
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                    timed_out = isinstance(exc, TimeoutError)
                    problem = f"timed out after {self.timeout:g}s" if timed_out else repr(exc)
                    cause = exc
                except aiohttp.ClientError as exc:
                    raise SourceError(f"arXiv fetch failed: {url}: {exc!r}") from exc
                if attempt == self.max_tries:
                    message = f"arXiv fetch failed: {url}: {problem} (gave up after {attempt} tries)"
                    raise SourceError(message) from cause
                wait = self._backoff_seconds(attempt, retry_after)
                log.warning("arXiv %s: %s; retry %d of %d in %.1fs",
                            url, problem, attempt, self.max_tries - 1, wait)
                await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait_turn(self) -> None:
        if self._last_start is not None:
            wait = self._last_start + self.delay - self._clock()
            if wait > 0:
                await self._sleep(wait)

    def _backoff_seconds(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        base = self.backoff * 2.0 ** (attempt - 1)
        return min(base + self._rng.uniform(0, base / 2), RETRY_AFTER_CAP)
