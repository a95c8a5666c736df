"""The arXiv client: every request to arXiv (RSS listing, export API by id, back-filling a day), and its rate rules.

One request in flight per client, at least `delay` seconds between request starts, bounded retries with
backoff for 429, 5xx, timeouts and dropped connections; aiohttp errors become SourceError here and travel
no further. The client reads no clock of its own: the entry point hands it a monotonic clock and a sleep.
It does not score, store, or decide which papers a digest shows, nor which day "today" is.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, timedelta
from urllib.parse import urlencode

import aiohttp

from core.calendar import submission_window
from core.config import Settings
from core.errors import ConfigError, SourceError, SourceUnavailable
from core.fetch.atom import AtomPage, parse_atom, parse_atom_page
from core.fetch.ids import normalize_arxiv_id
from core.fetch.rss import Listing, parse_rss
from core.models import Paper

log = logging.getLogger(__name__)

USER_AGENT = "arxiv-digest/0.1 (+project)"
RETRY_AFTER_CAP = 120.0  # seconds; a longer Retry-After is treated as this
ID_CHUNK = 100  # ids per id_list request
MAX_PAGE = 2000  # arXiv's largest max_results per request
MAX_RESULTS = 30000  # arXiv serves no result beyond this offset

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]  # monotonic seconds


def submitted_date_query(day: date) -> str | None:
    """The `submittedDate:[... TO ...]` clause (GMT, minutes, inclusive) for `day`'s window, or None."""
    window = submission_window(day)
    if window is None:
        return None
    start, end = (t.astimezone(UTC) for t in window)
    last = end - timedelta(minutes=1)  # the API range is inclusive; 14:00 itself belongs to the next day
    return f"submittedDate:[{start:%Y%m%d%H%M} TO {last:%Y%m%d%H%M}]"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; the HTTP-date form is ignored (arXiv sends seconds)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


class ArxivClient:
    """A polite arXiv reader: one request in flight, `delay` seconds between starts, bounded retries.

    `clock` (monotonic seconds) and `sleep` come from the entry point (`time.monotonic` and `asyncio.sleep`
    in bot/wiring.py; fake time in tests); `rng` is injectable too. The session is borrowed, not owned.
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
        clock: Clock,
        sleep: Sleep,
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
    def from_settings(
        cls, http: aiohttp.ClientSession, settings: Settings, *, clock: Clock | None, sleep: Sleep | None
    ) -> ArxivClient:
        """Build a client from the ARXIV_* settings, paced by the entry point's `clock` and `sleep`."""
        if clock is None or sleep is None:
            raise ConfigError("no clock and sleep to pace requests to arXiv with")
        return cls(
            http,
            rss_url=settings.arxiv_rss_url,
            api_url=settings.arxiv_api_url,
            categories=settings.arxiv_categories,
            announce_types=settings.arxiv_announce_types,
            delay=settings.arxiv_request_delay,
            max_tries=settings.arxiv_max_tries,
            timeout=settings.arxiv_timeout,
            clock=clock,
            sleep=sleep,
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

    async def with_comments(self, papers: Sequence[Paper]) -> list[Paper]:
        """The listing's papers with their authors' comments ("Code: https://github.com/..."), which the RSS
        listing lacks, read from the export API by id (ID_CHUNK ids a request). Only the comment is taken;
        when the API fails, the papers come back as listed and the day goes on without comments."""
        if not papers:
            return list(papers)
        try:
            found = await self.fetch_papers([p.arxiv_id for p in papers])
        except SourceError as exc:
            log.warning("arXiv API: the listing's comments were not read (%s); the day goes on without them", exc)
            return list(papers)
        comments = {p.arxiv_id: p.comment for p in found if p.comment}
        return [replace(p, comment=comments[p.arxiv_id]) if p.arxiv_id in comments and not p.comment else p
                for p in papers]

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
                            raise SourceUnavailable(f"arXiv fetch failed: {url}: {problem}")
                        retry_after = _retry_after(resp.headers.get("Retry-After"))
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                    timed_out = isinstance(exc, TimeoutError)
                    problem = f"timed out after {self.timeout:g}s" if timed_out else (str(exc) or type(exc).__name__)
                    cause = exc
                except aiohttp.ClientError as exc:
                    raise SourceUnavailable(f"arXiv fetch failed: {url}: {exc or type(exc).__name__}") from exc
                if attempt == self.max_tries:
                    message = f"arXiv fetch failed: {url}: {problem} (gave up after {attempt} tries)"
                    raise SourceUnavailable(message) from cause
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
