"""A fake arXiv on 127.0.0.1 (port 0): the RSS listing and the export API, built from Papers.

It answers only what core/fetch/client.py uses, in arXiv's real shapes:

* ``GET /rss/<cats joined by +>``: RSS 2.0 like rss.arxiv.org (channel metadata, skipDays, items with
  guid ``oai:arXiv.org:<id>v<n>``, ``arxiv:announce_type``, ``dc:creator``...), filtered to items in
  any requested category. Set the day's items with ``set_listing`` or ``add_items``; ``serve_empty``
  gives a weekend/holiday feed (channel, no items).
* ``GET /api/query``: export-API Atom, current shape by default (``api_shape = "old"`` for the older
  one). ``id_list=`` looks papers up in the catalogue (``add_papers``); ``search_query=`` understands
  ``cat:X`` terms and one ``submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]`` range, sorts by submission,
  and pages with ``start``/``max_results`` (> 2000 gets an Atom error entry, as a reminder of arXiv's cap).

Failure injection: ``fail_next(kind, status, retry_after=...)``, ``stall_next(kind, seconds)``,
``serve_malformed(kind)``, ``serve_api_error(message)``, ``serve_body(...)``; ``reset_overrides()`` undoes
the persistent ones. ``kind`` is ``"rss"`` or ``"api"``.

Every request is recorded on arrival (``requests``, ``calls(kind)``) with its query, User-Agent and
monotonic start and finish times (``finished`` is None while it is still being handled);
``max_in_flight`` is the most requests it ever handled at once.

Use it through the ``fake_arxiv`` fixture, or ``async with FakeArxiv(papers) as fake:``. Import the
fixture with the redundant alias, which keeps ruff quiet about test parameters of the same name (plain
``import fake_arxiv  # noqa: F401`` still trips F811 on every parameter, astral-sh/ruff#10662)::

    from tests.fakes.arxiv import fake_arxiv as fake_arxiv  # noqa: F401

Point a client at it with ``fake.client(http, categories=..., delay=...)`` or build settings with
``Settings.from_env({**fake.settings_env(), ...})``.
"""

from __future__ import annotations

import asyncio
import re
import textwrap
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from core.fetch.client import ArxivClient
from core.models import Paper
from tests.fakes.loopback import LoopbackServer

ET_ZONE = ZoneInfo("America/New_York")
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
KINDS = ("rss", "api")
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
MALFORMED_RSS = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<rss version=\"2.0\"><channel><title>cs.AI updates on arXiv.org"
    "</title><item><title>Truncated"
)


@dataclass(slots=True)
class RecordedRequest:
    """One request the fake received, recorded on arrival."""

    kind: str  # "rss" | "api" | "other"
    path: str
    query: dict[str, str]  # decoded; the last value wins for a repeated key
    user_agent: str
    started: float  # time.monotonic() when the fake began handling it
    finished: float | None = None  # time.monotonic() when it answered; None while still in flight


@dataclass(frozen=True, slots=True)
class RssItem:
    paper: Paper
    announce_type: str  # new | cross | replace | replace-cross


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    paper: Paper
    submitted: datetime  # aware, UTC: what the API calls <published> and filters by submittedDate


@dataclass(slots=True)
class _Override:
    status: int = 200
    body: str = ""
    content_type: str = "text/plain"
    retry_after: str | None = None
    stall: float = 0.0  # seconds to wait before answering normally


def default_submitted(listing_day: date) -> datetime:
    """A submission time inside `listing_day`'s window: noon US Eastern on the weekday before it."""
    day = listing_day - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, clock_time(12, 0), tzinfo=ET_ZONE).astimezone(UTC)


def _rfc822(day: date, hour: int = 0, minute: int = 0) -> str:
    return format_datetime(datetime.combine(day, clock_time(hour, minute), tzinfo=ET_ZONE))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: str) -> str:
    return escape(value)


# -- documents (pure, usable without the server) --------------------------------------------------


def rss_document(day: date | None, items: Sequence[RssItem], categories: Sequence[str]) -> str:
    """An RSS 2.0 listing in rss.arxiv.org's shape; `day` None leaves out the pubDates."""
    cats = "+".join(categories)
    names = ", ".join(categories)
    pub = f"    <pubDate>{_rfc822(day)}</pubDate>\n" if day else ""
    build = f"    <lastBuildDate>{_rfc822(day, 4, 30)}</lastBuildDate>\n" if day else ""
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'version="2.0">\n  <channel>\n'
        f"    <title>{_text(names)} updates on arXiv.org</title>\n"
        f"    <link>http://rss.arxiv.org/rss/{cats}</link>\n"
        f"    <description>{_text(names)} updates on the arXiv.org e-print archive.</description>\n"
        f'    <atom:link href="http://rss.arxiv.org/rss/{cats}" rel="self" type="application/rss+xml"/>\n'
        "    <docs>http://www.rssboard.org/rss-specification</docs>\n"
        "    <language>en-us</language>\n"
        f"{build}"
        "    <managingEditor>rss-help@arxiv.org</managingEditor>\n"
        f"{pub}"
        "    <skipDays>\n      <day>Sunday</day>\n      <day>Saturday</day>\n    </skipDays>\n"
    ]
    for item in items:
        p = item.paper
        vid = f"{p.arxiv_id}v{p.version}"
        description = f"arXiv:{vid} Announce Type: {item.announce_type} \nAbstract: {p.abstract}"
        categories_xml = "".join(f"      <category>{_text(c)}</category>\n" for c in p.categories)
        parts.append(
            "    <item>\n"
            f"      <title>{_text(p.title)}</title>\n"
            f"      <link>https://arxiv.org/abs/{p.arxiv_id}</link>\n"
            f"      <description>{_text(description)}</description>\n"
            f'      <guid isPermaLink="false">oai:arXiv.org:{vid}</guid>\n'
            f"{categories_xml}"
            + (f"      <pubDate>{_rfc822(day)}</pubDate>\n" if day else "")
            + f"      <arxiv:announce_type>{item.announce_type}</arxiv:announce_type>\n"
            "      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>\n"
            f"      <dc:creator>{_text(', '.join(p.authors))}</dc:creator>\n"
            "    </item>\n"
        )
    parts.append("  </channel>\n</rss>\n")
    return "".join(parts)


def _categories_xml(categories: Sequence[str]) -> str:
    scheme = 'scheme="http://arxiv.org/schemas/atom"'
    return "".join(f"    <category term={quoteattr(c)} {scheme}/>\n" for c in categories)


def _authors_xml(authors: Sequence[str]) -> str:
    return "".join(f"    <author>\n      <name>{_text(a)}</name>\n    </author>\n" for a in authors)


def _atom_entry_current(entry: CatalogueEntry) -> str:
    p, vid = entry.paper, f"{entry.paper.arxiv_id}v{entry.paper.version}"
    cats = _categories_xml(p.categories)
    authors = _authors_xml(p.authors)
    return (
        "  <entry>\n"
        f"    <id>http://arxiv.org/abs/{vid}</id>\n"
        f"    <title>{_text(p.title)}</title>\n"
        f"    <updated>{_iso(entry.submitted)}</updated>\n"
        f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>\n'
        f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" type="application/pdf" title="pdf"/>\n'
        f"    <summary>{_text(p.abstract)}</summary>\n"
        f"{cats}"
        f"    <published>{_iso(entry.submitted)}</published>\n"
        f"    <arxiv:primary_category term={quoteattr(p.primary_category)}/>\n"
        f"{authors}"
        + (f"    <arxiv:comment>{_text(p.comment)}</arxiv:comment>\n" if p.comment else "")  # absent when none
        + "  </entry>\n"
    )


def _wrap(text: str) -> str:
    """Old-shape API text: hard-wrapped lines, as the legacy API served titles and abstracts."""
    lines = textwrap.wrap(text, 78, break_on_hyphens=False, break_long_words=False)
    return "\n  ".join(lines)


def _atom_entry_old(entry: CatalogueEntry) -> str:
    p, vid = entry.paper, f"{entry.paper.arxiv_id}v{entry.paper.version}"
    ns = 'xmlns:arxiv="http://arxiv.org/schemas/atom"'
    authors = _authors_xml(p.authors)
    cats = _categories_xml(p.categories)
    comment = f"    <arxiv:comment {ns}>{_text(p.comment)}</arxiv:comment>\n" if p.comment else ""  # absent when none
    return (
        "  <entry>\n"
        f"    <id>http://arxiv.org/abs/{vid}</id>\n"
        f"    <updated>{_iso(entry.submitted)}</updated>\n"
        f"    <published>{_iso(entry.submitted)}</published>\n"
        f"    <title>{_text(_wrap(p.title))}</title>\n"
        f"    <summary>  {_text(_wrap(p.abstract))}\n</summary>\n"
        f"{authors}"
        f"{comment}"
        f'    <link href="http://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>\n'
        f'    <link title="pdf" href="http://arxiv.org/pdf/{vid}" rel="related" type="application/pdf"/>\n'
        f"    <arxiv:primary_category {ns} term={quoteattr(p.primary_category)} "
        'scheme="http://arxiv.org/schemas/atom"/>\n'
        f"{cats}"
        "  </entry>\n"
    )


def atom_document(
    entries: Sequence[CatalogueEntry], *, total: int | None = None, start: int = 0, query: str = "",
    shape: str = "current",
) -> str:
    """An export-API Atom feed in the current (namespaces on the root) or the older shape."""
    total = len(entries) if total is None else total
    title = f"search_query={query}&id_list=&start={start}&max_results={len(entries)}"
    if shape == "current":
        head = (
            "<?xml version='1.0' encoding='UTF-8'?>\n"
            '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
            "  <id>https://arxiv.org/api/fakefeedid</id>\n"
            f"  <title>arXiv Query: {_text(title)}</title>\n"
            "  <updated>2025-12-22T05:00:00Z</updated>\n"
            f'  <link href={quoteattr("https://arxiv.org/api/query?" + title)} '
            'type="application/atom+xml"/>\n'
            f"  <opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>\n"
            f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
            f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
        )
        body = "".join(_atom_entry_current(e) for e in entries)
    elif shape == "old":
        os_ns = 'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
            f'  <link href={quoteattr("http://arxiv.org/api/query?" + title)} rel="self" '
            'type="application/atom+xml"/>\n'
            f'  <title type="html">ArXiv Query: {_text(title)}</title>\n'
            "  <id>http://arxiv.org/api/fakefeedid</id>\n"
            "  <updated>2025-12-22T00:00:00-05:00</updated>\n"
            f"  <opensearch:totalResults {os_ns}>{total}</opensearch:totalResults>\n"
            f"  <opensearch:startIndex {os_ns}>{start}</opensearch:startIndex>\n"
            f"  <opensearch:itemsPerPage {os_ns}>{len(entries)}</opensearch:itemsPerPage>\n"
        )
        body = "".join(_atom_entry_old(e) for e in entries)
    else:
        raise ValueError(f"unknown Atom shape {shape!r}")
    return head + body + "</feed>\n"


def atom_error_document(message: str) -> str:
    """The Atom feed arXiv answers a bad query with: one <entry> titled "Error"."""
    anchor = re.sub(r"\W+", "_", message)
    os_ns = 'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        '  <link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>\n'
        '  <title type="html">ArXiv Query: error</title>\n'
        "  <id>http://arxiv.org/api/fakeerror</id>\n"
        "  <updated>2025-12-22T00:00:00-05:00</updated>\n"
        f"  <opensearch:totalResults {os_ns}>1</opensearch:totalResults>\n"
        f"  <opensearch:startIndex {os_ns}>0</opensearch:startIndex>\n"
        f"  <opensearch:itemsPerPage {os_ns}>1</opensearch:itemsPerPage>\n"
        "  <entry>\n"
        f"    <id>http://arxiv.org/api/errors#{anchor}</id>\n"
        "    <title>Error</title>\n"
        f"    <summary>{_text(message)}</summary>\n"
        "    <updated>2025-12-22T00:00:00-05:00</updated>\n"
        f'    <link href="http://arxiv.org/api/errors#{anchor}" rel="alternate" type="text/html"/>\n'
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n"
        "  </entry>\n</feed>\n"
    )


# -- the server -----------------------------------------------------------------------------------

_CAT_TERM = re.compile(r"\bcat:([\w.-]+)")
_DATE_RANGE = re.compile(r"submittedDate:\[(\d{12}) TO (\d{12})\]")


def _minute(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=UTC)


class FakeArxiv(LoopbackServer):
    """The fake arXiv. Construct with the API catalogue's papers, `await start()`, `await close()`."""

    def __init__(self, papers: Iterable[Paper] = (), *, categories: Sequence[str] = ()) -> None:
        self.listing_day: date | None = None
        self.items: list[RssItem] = []
        self.catalogue: dict[str, CatalogueEntry] = {}
        self.api_shape = "current"  # or "old"
        self.latency = 0.0  # seconds every answer takes, so overlapping requests would show
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._default_categories = tuple(categories)
        self._next: dict[str, deque[_Override]] = {k: deque() for k in KINDS}
        self._persistent: dict[str, _Override | None] = {k: None for k in KINDS}
        self._closing = asyncio.Event()
        self.add_papers(papers)

    # -- lifecycle --

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/rss/{cats}", self._rss)
        app.router.add_get("/api/query", self._api)
        return app

    async def before_close(self) -> None:
        self._closing.set()  # releases any stalled handler

    @property
    def rss_url(self) -> str:
        return f"{self.url}/rss"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/query"

    def settings_env(self) -> dict[str, str]:
        """ARXIV_RSS_URL and ARXIV_API_URL pointing here, for `Settings.from_env`."""
        return {"ARXIV_RSS_URL": self.rss_url, "ARXIV_API_URL": self.api_url}

    def client(self, http: aiohttp.ClientSession, **overrides: Any) -> ArxivClient:
        """An ArxivClient aimed here with test-friendly defaults (no delay, 10 ms backoff, 2 s timeout).

        Paced by the real monotonic clock and sleep unless `clock`/`sleep` are given (a test is an entry point).
        """
        options: dict[str, Any] = {
            "categories": self._default_categories or ("cs.AI", "cs.CL", "cs.LG"),
            "delay": 0.0, "backoff": 0.01, "timeout": 2.0, "max_tries": 3,
            "clock": time.monotonic, "sleep": asyncio.sleep,
        }
        options.update(overrides)
        return ArxivClient(http, rss_url=self.rss_url, api_url=self.api_url, **options)

    # -- the day's RSS listing --

    def set_listing(
        self, day: date, *, new: Iterable[Paper] = (), cross: Iterable[Paper] = (),
        replace: Iterable[Paper] = (), replace_cross: Iterable[Paper] = (),
    ) -> None:
        """Replace the RSS listing: `day`'s items in arXiv's order (new, cross, replace, replace-cross)."""
        self.listing_day = day
        self.items = []
        for kind, papers in zip(ANNOUNCE_TYPES, (new, cross, replace, replace_cross), strict=True):
            self.add_items(kind, papers)

    def add_items(self, announce_type: str, papers: Iterable[Paper]) -> None:
        """Append items of one announce type to the listing (duplicates allowed, to test de-duplication)."""
        if announce_type not in ANNOUNCE_TYPES:
            raise ValueError(f"unknown announce type {announce_type!r}")
        self.items.extend(RssItem(p, announce_type) for p in papers)

    def serve_empty(self, day: date) -> None:
        """A weekend or holiday feed: the channel for `day` and no items."""
        self.listing_day = day
        self.items = []

    # -- the API catalogue --

    def add_papers(self, papers: Iterable[Paper], *, submitted: datetime | None = None) -> None:
        """Add papers to the API catalogue, submitted at `submitted` or inside their listing's window."""
        for p in papers:
            when = submitted if submitted is not None else default_submitted(p.published)
            self.catalogue[p.arxiv_id] = CatalogueEntry(p, when.astimezone(UTC))

    # -- failure injection --

    def fail_next(
        self, kind: str, status: int = 503, *, retry_after: float | str | None = None, times: int = 1,
        body: str = "", content_type: str = "text/plain",
    ) -> None:
        """Answer the next `times` requests of `kind` with `status` (and a Retry-After header if given)."""
        ra = None if retry_after is None else str(retry_after)
        for _ in range(times):
            self._queue(kind).append(_Override(status, body, content_type, ra))

    def stall_next(self, kind: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` requests of `kind` for `seconds` before answering normally."""
        for _ in range(times):
            self._queue(kind).append(_Override(stall=seconds))

    def serve_body(
        self, kind: str, body: str, *, status: int = 200, content_type: str = "text/plain"
    ) -> None:
        """Answer every request of `kind` with this body until `reset_overrides()`."""
        self._queue(kind)
        self._persistent[kind] = _Override(status, body, content_type)

    def serve_malformed(self, kind: str = "rss", body: str = MALFORMED_RSS) -> None:
        """Answer every request of `kind` with broken XML (default: a truncated feed) until reset."""
        self.serve_body(kind, body, content_type=RSS_TYPE if kind == "rss" else ATOM_TYPE)

    def serve_api_error(self, message: str = "incorrect id format") -> None:
        """Answer every API request with arXiv's Atom error entry until reset."""
        self.serve_body("api", atom_error_document(message), content_type=ATOM_TYPE)

    def reset_overrides(self) -> None:
        for kind in KINDS:
            self._next[kind].clear()
            self._persistent[kind] = None

    def _queue(self, kind: str) -> deque[_Override]:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return self._next[kind]

    # -- what happened --

    def calls(self, kind: str) -> list[RecordedRequest]:
        """The recorded requests of one kind, oldest first."""
        return [r for r in self.requests if r.kind == kind]

    # -- handlers --

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        kind = "rss" if path.startswith("/rss/") else "api" if path == "/api/query" else "other"
        record = RecordedRequest(kind=kind, path=request.path, query=dict(request.query),
                                 user_agent=request.headers.get("User-Agent", ""), started=time.monotonic())
        self.requests.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            override = None
            if kind in KINDS:
                override = self._next[kind].popleft() if self._next[kind] else self._persistent[kind]
            if override is not None and override.stall:
                try:
                    await asyncio.wait_for(self._closing.wait(), override.stall)
                except TimeoutError:
                    pass
                override = self._persistent[kind]
            if override is not None:
                headers = {"Retry-After": override.retry_after} if override.retry_after is not None else {}
                return web.Response(status=override.status, body=override.body.encode(),
                                    content_type=override.content_type.split(";")[0], charset="utf-8",
                                    headers=headers)
            return await handler(request)
        finally:
            self.in_flight -= 1
            record.finished = time.monotonic()

    async def _rss(self, request: web.Request) -> web.Response:
        cats = [c for c in request.match_info["cats"].split("+") if c]
        items = [i for i in self.items if set(i.paper.categories) & set(cats)]
        body = rss_document(self.listing_day, items, cats)
        return web.Response(body=body.encode(), content_type="application/rss+xml", charset="utf-8")

    async def _api(self, request: web.Request) -> web.Response:
        q = request.query
        start, max_results = int(q.get("start", "0")), int(q.get("max_results", "10"))
        if max_results > 2000:
            return self._atom(atom_error_document("max_results must be at most 2000 (fake's rule)"))
        if q.get("id_list"):
            wanted = [re.sub(r"v\d+$", "", i.strip()) for i in q["id_list"].split(",")]
            found = [self.catalogue[i] for i in wanted if i in self.catalogue]
        else:
            found = self._search(q.get("search_query", ""))
            if q.get("sortBy") == "submittedDate":
                newest_first = q.get("sortOrder") == "descending"
                found.sort(key=lambda e: (e.submitted, e.paper.arxiv_id), reverse=newest_first)
        page = found[start : start + max_results]
        return self._atom(atom_document(page, total=len(found), start=start, query=q.get("search_query", ""),
                                        shape=self.api_shape))

    def _search(self, query: str) -> list[CatalogueEntry]:
        cats = set(_CAT_TERM.findall(query))
        window = _DATE_RANGE.search(query)
        out = []
        for entry in self.catalogue.values():
            if cats and not cats & set(entry.paper.categories):
                continue
            if window:
                minute = entry.submitted.replace(second=0, microsecond=0)
                if not _minute(window[1]) <= minute <= _minute(window[2]):
                    continue
            out.append(entry)
        return out

    @staticmethod
    def _atom(body: str) -> web.Response:
        return web.Response(body=body.encode(), content_type="application/atom+xml", charset="utf-8")


@pytest.fixture
async def fake_arxiv() -> AsyncIterator[FakeArxiv]:
    """A started FakeArxiv with an empty listing and catalogue; closed after the test."""
    fake = FakeArxiv()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
