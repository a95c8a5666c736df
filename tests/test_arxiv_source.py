"""core/fetch/arxiv.py: pure parsing on sample XML, and the real aiohttp client against the fake arXiv."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest

from core.config import Settings
from core.errors import SourceError
from core.fetch.arxiv import (
    USER_AGENT,
    ArxivClient,
    normalize_arxiv_id,
    parse_atom,
    parse_atom_page,
    parse_rss,
    submission_window,
    submitted_date_query,
)
from core.fetch.jsonl import load_papers
from core.models import Paper
from tests.fakes.arxiv import (
    CatalogueEntry,
    FakeArxiv,
    RssItem,
    atom_document,
    atom_error_document,
    rss_document,
)
from tests.fakes.arxiv import fake_arxiv as fake_arxiv  # noqa: F401

DATA = Path(__file__).resolve().parent.parent / "data" / "arxiv"
MON = date(2025, 12, 22)  # a Monday listing in data/arxiv
URL = "https://rss.arxiv.org/rss/cs.AI+cs.LG"


def paper(arxiv_id: str = "2512.00001", **changes: object) -> Paper:
    base = Paper(
        arxiv_id=arxiv_id, title=f"Title {arxiv_id}", abstract="An abstract.", authors=("Ada Lovelace",),
        categories=("cs.LG", "cs.AI"), primary_category="cs.LG", published=MON,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def day_papers() -> list[Paper]:
    return load_papers(DATA / "2025-12-22.jsonl")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class FakeTime:
    """A clock and sleep pair: sleeping advances the clock instantly and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


# -- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2601.08151", "2601.08151"),
        ("2601.08151v2", "2601.08151"),
        ("arXiv:2601.08151", "2601.08151"),
        ("  arxiv:2601.08151v3 ", "2601.08151"),
        ("https://arxiv.org/abs/2601.08151v1", "2601.08151"),
        ("http://arxiv.org/abs/2601.08151", "2601.08151"),
        ("https://arxiv.org/pdf/2601.08151", "2601.08151"),
        ("https://arxiv.org/pdf/2601.08151v2.pdf", "2601.08151"),
        ("https://www.arxiv.org/abs/2601.08151/", "2601.08151"),
        ("arxiv.org/abs/2601.08151?context=cs", "2601.08151"),
        ("https://export.arxiv.org/abs/2601.08151", "2601.08151"),
        ("oai:arXiv.org:2609.26811v1", "2609.26811"),
        ("0704.0001", "0704.0001"),  # the first new-style id: four-digit number until 2014
        ("1412.9999v1", "1412.9999"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("arXiv:cond-mat/0603029v1", "cond-mat/0603029"),
        ("http://arxiv.org/abs/math.GT/0309136", "math.GT/0309136"),
    ],
)
def test_normalize_arxiv_id_accepts_ids_and_urls(text: str, expected: str) -> None:
    assert normalize_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "hello", "2601.0815", "2601.081512", "2613.08151", "1501.1234", "1412.12345", "0612.0001",
     "https://example.com/abs/2601.08151", "2601.08151v", "HEP-TH/9901001", "2601.08151 2601.08152"],
)
def test_normalize_arxiv_id_rejects_what_is_not_an_id(text: str) -> None:
    assert normalize_arxiv_id(text) is None


# -- RSS parsing ----------------------------------------------------------------------------------

# Our own item, written in the shape rss.arxiv.org serves (see STACK-NOTES section 4).
REAL_SHAPE_RSS = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" \
xmlns:atom="http://www.w3.org/2005/Atom" \
xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">
  <channel>
    <title>cs.AI, cs.LG updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.AI+cs.LG</link>
    <description>cs.AI, cs.LG updates on the arXiv.org e-print archive.</description>
    <atom:link href="http://rss.arxiv.org/rss/cs.AI+cs.LG" rel="self" type="application/rss+xml"/>
    <docs>http://www.rssboard.org/rss-specification</docs>
    <language>en-us</language>
    <lastBuildDate>Tue, 09 Dec 2025 05:01:12 +0000</lastBuildDate>
    <managingEditor>rss-help@arxiv.org</managingEditor>
    <pubDate>Tue, 09 Dec 2025 00:00:00 -0500</pubDate>
    <skipDays>
      <day>Sunday</day>
      <day>Saturday</day>
    </skipDays>
    <item>
      <title>Sparse   Probes for
   Tiny Transformers</title>
      <link>https://arxiv.org/abs/2512.07001</link>
      <description>arXiv:2512.07001v2 Announce Type: cross \nAbstract: We probe   small
models.</description>
      <guid isPermaLink="false">oai:arXiv.org:2512.07001v2</guid>
      <category>stat.ML</category>
      <category>cs.LG</category>
      <pubDate>Tue, 09 Dec 2025 00:00:00 -0500</pubDate>
      <arxiv:announce_type>cross</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <arxiv:DOI>10.1000/example.1</arxiv:DOI>
      <dc:creator>Alexandra Anderson, Rand Sandoval and Brandon Andrews</dc:creator>
    </item>
  </channel>
</rss>
"""


def test_parse_rss_reads_an_item_in_arxivs_shape() -> None:
    listing = parse_rss(REAL_SHAPE_RSS, URL)

    assert listing.url == URL
    assert listing.day == date(2025, 12, 9)  # the feed's own (Eastern) date, not the UTC build time
    [p] = listing.papers
    assert p == Paper(
        arxiv_id="2512.07001", title="Sparse Probes for Tiny Transformers", abstract="We probe small models.",
        authors=("Alexandra Anderson", "Rand Sandoval", "Brandon Andrews"),
        categories=("stat.ML", "cs.LG"), primary_category="stat.ML", published=date(2025, 12, 9),
        version=2, announce_type="cross",
    )


def _listing(**by_type: list[Paper]) -> str:
    items = [RssItem(p, kind.replace("_", "-")) for kind, papers in by_type.items() for p in papers]
    return rss_document(MON, items, ["cs.AI", "cs.LG"])


def test_parse_rss_keeps_new_and_cross_and_skips_replacements_by_default() -> None:
    xml = _listing(new=[paper("2512.00001")], cross=[paper("2512.00002")],
                   replace=[paper("2511.00003", version=2)], replace_cross=[paper("2510.00004", version=3)])

    listing = parse_rss(xml, URL)

    kept = [(p.arxiv_id, p.announce_type) for p in listing.papers]
    assert kept == [("2512.00001", "new"), ("2512.00002", "cross")]


def test_parse_rss_keeps_replacements_when_configured() -> None:
    xml = _listing(new=[paper("2512.00001")], replace=[paper("2511.00003", version=2)],
                   replace_cross=[paper("2510.00004", version=3)])

    listing = parse_rss(xml, URL, announce_types=("new", "replace", "replace-cross"))

    assert [(p.arxiv_id, p.version, p.announce_type) for p in listing.papers] == [
        ("2512.00001", 1, "new"), ("2511.00003", 2, "replace"), ("2510.00004", 3, "replace-cross"),
    ]


def test_parse_rss_lists_each_paper_once() -> None:
    first = paper("2512.00001", title="First copy")
    xml = _listing(new=[first, paper("2512.00002"), replace(first, title="Second copy")], cross=[first])

    listing = parse_rss(xml, URL)

    assert [p.arxiv_id for p in listing.papers] == ["2512.00001", "2512.00002"]
    assert listing.papers[0].title == "First copy"


def test_parse_rss_of_an_empty_day_is_a_listing_without_papers() -> None:
    listing = parse_rss(rss_document(date(2025, 12, 27), [], ["cs.AI"]), URL)

    assert listing.papers == ()
    assert listing.empty
    assert listing.day == date(2025, 12, 27)


@pytest.mark.parametrize(
    "title",
    [
        "Is P < NP & Why $\\mathcal{O}(n^2)$ Costs $5",
        "Tags like <b>bold</b> & \"quotes\" 'here'",
        "R&D; AT&T's $\\alpha$-nets & a&b",
    ],
)
def test_titles_with_markup_characters_round_trip_unescaped(title: str) -> None:
    p = paper(title=title, abstract=f"Abstract about {title}.", authors=("A. <Author> & Co",))

    [got] = parse_rss(_listing(new=[p]), URL).papers

    assert (got.title, got.abstract, got.authors) == (p.title, p.abstract, p.authors)


def test_parse_rss_decodes_entities_escaped_twice() -> None:
    xml = _listing(new=[paper(title="A &lt;b&gt; title &amp; more &#36;x&#36;")])

    [got] = parse_rss(xml, URL).papers

    assert got.title == "A <b> title & more $x$"


def test_mojibake_author_names_do_not_crash_and_are_repaired_when_unambiguous() -> None:
    authors = ("Aurora RamÃ\xadrez", "JosÃ© RaÃºl Romero", "Ãlvaro Weird", "Zoë Müller")
    p = paper(authors=authors)

    [got] = parse_rss(_listing(new=[p]), URL).papers

    assert got.authors == ("Aurora Ramírez", "José Raúl Romero", "Ãlvaro Weird", "Zoë Müller")


def test_authors_split_on_commas_and_the_word_and_only() -> None:
    p = paper(authors=("Ann Andersen", "Sandra Rand", "Wei Zhang, Jr.", "Ben Brandt and Mia Anand",
                       "and Last One"))

    [got] = parse_rss(_listing(new=[p]), URL).papers

    assert got.authors == (
        "Ann Andersen", "Sandra Rand", "Wei Zhang Jr.", "Ben Brandt", "Mia Anand", "Last One",
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "not XML"),
        ("Service Unavailable", "not XML"),
        ("<html><head><title>arXiv</title></head><body><p>Slow down</p></body></html>", "expected an RSS"),
        ("<!DOCTYPE html><html><body><p>Error&nbsp;503</p></body></html>", "not XML"),
        ("<?xml version='1.0'?><rss version='2.0'><channel><title>cs.AI</title><item><title>Cut", "not XML"),
        ('<feed xmlns="http://www.w3.org/2005/Atom"></feed>', "expected an RSS"),
        ("<rss version='2.0'></rss>", "expected an RSS"),
    ],
)
def test_parse_rss_rejects_what_is_not_an_rss_feed_naming_the_url(body: str, problem: str) -> None:
    with pytest.raises(SourceError, match=problem) as err:
        parse_rss(body.encode(), URL)
    assert URL in str(err.value)


# -- Atom parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["current", "old"])
def test_parse_atom_reads_both_shapes(shape: str) -> None:
    p = paper("2512.16928", title="A long title " * 10 + "& <more>",
              abstract=" ".join(["Long abstract."] * 30),
              categories=("cs.DC", "cs.LG"), primary_category="cs.LG", version=2)
    submitted = datetime(2025, 12, 18, 21, 5, tzinfo=UTC)
    xml = atom_document([CatalogueEntry(p, submitted)], total=214881, start=40, shape=shape)

    page = parse_atom_page(xml, "u")

    assert (page.total, page.start, page.entries) == (214881, 40, 1)
    # Primary category first, as in the RSS listing; published is the entry's (UTC) submission date.
    assert page.papers == (replace(p, categories=("cs.LG", "cs.DC"), published=date(2025, 12, 18)),)
    assert parse_atom(xml, "u", published=MON)[0].published == MON


def test_parse_atom_reads_the_legacy_per_element_namespaces() -> None:
    # Our own entry in the legacy layout: namespaces declared on each arxiv:/opensearch: element.
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: search_query=au:someone&amp;id_list=&amp;start=0&amp;max_results=10</title>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/abs/cond-mat/0603029v1</id>
    <published>2006-03-02T02:22:45Z</published>
    <title>From stripes to
  checkerboards</title>
    <summary>  We discuss a model
of order.
</summary>
    <author><name>First Author</name></author>
    <author><name>Second Author</name></author>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cond-mat.str-el" \
scheme="http://arxiv.org/schemas/atom"/>
    <category term="cond-mat.supr-con" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cond-mat.str-el" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>"""

    [p] = parse_atom(xml, "u")

    assert p == Paper(
        arxiv_id="cond-mat/0603029", title="From stripes to checkerboards",
        abstract="We discuss a model of order.",
        authors=("First Author", "Second Author"), categories=("cond-mat.str-el", "cond-mat.supr-con"),
        primary_category="cond-mat.str-el", published=date(2006, 3, 2),
    )


def test_parse_atom_error_entry_raises_with_arxivs_message() -> None:
    with pytest.raises(SourceError, match="incorrect id format for 1234.1234") as err:
        parse_atom(atom_error_document("incorrect id format for 1234.1234"), "https://export.arxiv.org/api/query?x")
    assert "https://export.arxiv.org/api/query?x" in str(err.value)


def test_parse_atom_rejects_rss() -> None:
    with pytest.raises(SourceError, match="expected an Atom feed"):
        parse_atom(REAL_SHAPE_RSS, "u")


# -- submission windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listing", "window_utc"),
    [
        (date(2025, 12, 22), "202512181900 TO 202512191859"),  # Mon: Thu 14:00 -> Fri 14:00 EST
        (date(2025, 12, 23), "202512191900 TO 202512221859"),  # Tue: Fri -> Mon
        (date(2025, 12, 10), "202512081900 TO 202512091859"),  # Wed: Mon -> Tue
        (date(2025, 12, 11), "202512091900 TO 202512101859"),  # Thu: Tue -> Wed
        (date(2025, 12, 12), "202512101900 TO 202512111859"),  # Fri: Wed -> Thu
        (date(2025, 7, 9), "202507071800 TO 202507081759"),  # summer: EDT is UTC-4
        (date(2025, 11, 3), "202510301800 TO 202510311759"),  # Mon after the DST change: window still in EDT
    ],
)
def test_submitted_date_query_maps_a_listing_day_to_its_window(listing: date, window_utc: str) -> None:
    assert submitted_date_query(listing) == f"submittedDate:[{window_utc}]"


def test_weekend_days_have_no_submission_window() -> None:
    assert submission_window(date(2025, 12, 20)) is None
    assert submission_window(date(2025, 12, 21)) is None


# -- fetching the listing -------------------------------------------------------------------------


async def test_fetch_listing_reads_the_days_papers_from_rss(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession, day_papers: list[Paper]
) -> None:
    replaced = paper("2406.00001", version=3)
    fake_arxiv.set_listing(MON, new=day_papers, replace=[replaced])
    client = fake_arxiv.client(http, categories=("cs.AI", "cs.CL", "cs.LG"))

    listing = await client.fetch_listing()

    assert listing.url == f"{fake_arxiv.url}/rss/cs.AI+cs.CL+cs.LG"
    assert listing.day == MON
    assert list(listing.papers) == day_papers  # every field round-trips for all 116 real papers
    [call] = fake_arxiv.calls("rss")
    assert call.path == "/rss/cs.AI+cs.CL+cs.LG"
    assert call.user_agent == USER_AGENT


async def test_fetch_listing_of_an_empty_day_is_not_an_error(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.serve_empty(date(2025, 12, 27))

    listing = await fake_arxiv.client(http).fetch_listing()

    assert listing.papers == ()
    assert listing.day == date(2025, 12, 27)


async def test_fetch_listing_retries_429_honouring_retry_after(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.set_listing(MON, new=[paper()])
    fake_arxiv.fail_next("rss", 429, retry_after=7)
    fake_arxiv.fail_next("rss", 429, retry_after=3600)  # capped
    clock = FakeTime()
    client = fake_arxiv.client(http, sleep=clock.sleep, clock=clock.clock, max_tries=3)

    listing = await client.fetch_listing()

    assert [p.arxiv_id for p in listing.papers] == ["2512.00001"]
    assert clock.sleeps == [7.0, 120.0]
    assert len(fake_arxiv.calls("rss")) == 3


async def test_fetch_listing_retries_503_with_growing_jittered_backoff(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.set_listing(MON, new=[paper()])
    fake_arxiv.fail_next("rss", 503, times=2)
    fake_arxiv.fail_next("rss", 502)
    clock = FakeTime()
    client = fake_arxiv.client(http, sleep=clock.sleep, clock=clock.clock, backoff=2.0, max_tries=4,
                               rng=random.Random(7))

    listing = await client.fetch_listing()

    assert len(listing.papers) == 1
    assert len(fake_arxiv.calls("rss")) == 4
    first, second, third = clock.sleeps
    assert 2.0 <= first <= 3.0 and 4.0 <= second <= 6.0 and 8.0 <= third <= 12.0
    assert len({first / 2, second / 4, third / 8}) == 3  # jittered, not a fixed ladder


async def test_exhausted_retries_raise_source_error_naming_url_and_status(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.fail_next("rss", 503, times=10)
    client = fake_arxiv.client(http, max_tries=3)

    with pytest.raises(SourceError) as err:
        await client.fetch_listing()

    assert f"{fake_arxiv.url}/rss/cs.AI+cs.CL+cs.LG" in str(err.value)
    assert "HTTP 503 (gave up after 3 tries)" in str(err.value)
    assert len(fake_arxiv.calls("rss")) == 3


async def test_client_errors_other_than_429_are_not_retried(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.fail_next("rss", 404, times=3)

    with pytest.raises(SourceError, match="HTTP 404"):
        await fake_arxiv.client(http).fetch_listing()

    assert len(fake_arxiv.calls("rss")) == 1


async def test_timeouts_are_retried(fake_arxiv: FakeArxiv, http: aiohttp.ClientSession) -> None:
    fake_arxiv.set_listing(MON, new=[paper()])
    fake_arxiv.stall_next("rss", 5.0)
    client = fake_arxiv.client(http, timeout=0.2)

    listing = await client.fetch_listing()

    assert len(listing.papers) == 1
    assert len(fake_arxiv.calls("rss")) == 2


async def test_timeouts_exhausting_the_tries_raise_source_error(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.stall_next("rss", 5.0, times=2)

    with pytest.raises(SourceError, match=r"timed out after 0.2s \(gave up after 2 tries\)"):
        await fake_arxiv.client(http, timeout=0.2, max_tries=2).fetch_listing()


async def test_refused_connections_become_source_error(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but never listening: connections are refused
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        client = ArxivClient(http, rss_url=f"{base}/rss", api_url=f"{base}/api/query", categories=["cs.AI"],
                             delay=0, backoff=0.001, max_tries=2)

        with pytest.raises(SourceError, match="gave up after 2 tries") as err:
            await client.fetch_listing()

    assert f"{base}/rss/cs.AI" in str(err.value)
    assert isinstance(err.value.__cause__, aiohttp.ClientConnectionError)  # kept for the log, not for callers


@pytest.mark.parametrize("body", [None, "<html><body>We are down for maintenance</body></html>"])
async def test_malformed_feed_raises_source_error_naming_url(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession, body: str | None
) -> None:
    if body is None:
        fake_arxiv.serve_malformed("rss")
    else:
        fake_arxiv.serve_body("rss", body, content_type="text/html")

    with pytest.raises(SourceError, match="malformed") as err:
        await fake_arxiv.client(http).fetch_listing()

    assert f"{fake_arxiv.url}/rss/cs.AI+cs.CL+cs.LG" in str(err.value)


async def test_requests_are_spaced_by_the_delay_and_never_overlap(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.set_listing(MON, new=[paper()])
    fake_arxiv.add_papers([paper()])
    fake_arxiv.latency = 0.02  # long enough that unguarded concurrent requests would overlap
    delay = 0.1
    client = fake_arxiv.client(http, delay=delay)

    await asyncio.gather(client.fetch_listing(), client.fetch_papers(["2512.00001"]), client.fetch_listing(),
                         client.fetch_day(MON))

    calls = sorted(fake_arxiv.requests, key=lambda r: r.started)
    assert len(calls) == 4
    assert fake_arxiv.max_in_flight == 1
    for before, after in zip(calls, calls[1:], strict=False):
        assert before.finished is not None and after.started >= before.finished
        # Start times are taken in the fake; allow a few ms for the first connection's setup.
        assert after.started - before.started >= delay - 0.005


# -- the export API -------------------------------------------------------------------------------


async def test_fetch_papers_chunks_id_lists_and_keeps_the_asked_order(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    papers = [paper(f"2512.{n:05d}") for n in range(1, 251)]
    fake_arxiv.add_papers(papers)
    asked = [f"arXiv:{p.arxiv_id}v1" for p in reversed(papers)] + ["2512.99999", "2512.00001"]

    got = await fake_arxiv.client(http).fetch_papers(asked)

    # In the order asked, the unknown id left out, the repeated one once.
    assert [p.arxiv_id for p in got] == [p.arxiv_id for p in reversed(papers)]
    chunks = [c.query["id_list"].split(",") for c in fake_arxiv.calls("api")]
    assert [len(c) for c in chunks] == [100, 100, 51]
    assert [c.query["max_results"] for c in fake_arxiv.calls("api")] == ["100", "100", "51"]


async def test_fetch_papers_dates_papers_by_submission_unless_told(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.add_papers([paper("2512.00001")], submitted=datetime(2025, 12, 3, 23, 30, tzinfo=UTC))
    client = fake_arxiv.client(http)

    [by_default] = await client.fetch_papers(["2512.00001"])
    [told] = await client.fetch_papers(["https://arxiv.org/abs/2512.00001"], published=MON)

    assert by_default.published == date(2025, 12, 3)
    assert told.published == MON


async def test_fetch_papers_with_nothing_to_ask_makes_no_request(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    assert await fake_arxiv.client(http).fetch_papers([]) == []
    assert fake_arxiv.requests == []


async def test_fetch_papers_rejects_what_is_not_an_id(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(ValueError, match="not an arXiv id"):
        await fake_arxiv.client(http).fetch_papers(["2512.00001", "not-an-id"])
    assert fake_arxiv.requests == []


async def test_api_error_entry_raises_source_error(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.serve_api_error("incorrect id format for 2512.00001")

    with pytest.raises(SourceError, match="arXiv API error: .*incorrect id format") as err:
        await fake_arxiv.client(http).fetch_papers(["2512.00001"])

    assert fake_arxiv.api_url in str(err.value)


async def test_fetch_day_pages_through_the_submission_window(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession, day_papers: list[Paper]
) -> None:
    fake_arxiv.add_papers(day_papers)  # submitted inside Monday's window
    just_after = datetime(2025, 12, 19, 19, 0, tzinfo=UTC)  # Fri 14:00 EST: the next listing's
    just_before = datetime(2025, 12, 18, 18, 59, tzinfo=UTC)  # Thu 13:59 EST: the previous listing's
    fake_arxiv.add_papers([paper("2512.90001")], submitted=just_after)
    fake_arxiv.add_papers([paper("2512.90002")], submitted=just_before)
    client = fake_arxiv.client(http, categories=("cs.AI", "cs.CL", "cs.LG"))

    got = await client.fetch_day(MON, page_size=50)

    assert sorted(got, key=lambda p: p.arxiv_id) == sorted(day_papers, key=lambda p: p.arxiv_id)
    calls = fake_arxiv.calls("api")
    pages = [(c.query["start"], c.query["max_results"]) for c in calls]
    assert pages == [("0", "50"), ("50", "50"), ("100", "50")]
    assert calls[0].query["search_query"] == (
        "(cat:cs.AI OR cat:cs.CL OR cat:cs.LG) AND submittedDate:[202512181900 TO 202512191859]"
    )
    assert (calls[0].query["sortBy"], calls[0].query["sortOrder"]) == ("submittedDate", "ascending")


async def test_fetch_day_marks_cross_lists_and_honours_announce_types(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    own = paper("2512.00001", published=date(2025, 12, 1))
    crossed = paper("2512.00002", categories=("stat.ML", "cs.LG"), primary_category="stat.ML")
    fake_arxiv.add_papers([own, crossed], submitted=datetime(2025, 12, 19, 15, 0, tzinfo=UTC))

    both = await fake_arxiv.client(http, categories=("cs.LG",)).fetch_day(MON)
    new_only = await fake_arxiv.client(http, categories=("cs.LG",), announce_types=("new",)).fetch_day(MON)

    assert [(p.arxiv_id, p.announce_type, p.published) for p in both] == [
        ("2512.00001", "new", MON), ("2512.00002", "cross", MON),
    ]
    assert [p.arxiv_id for p in new_only] == ["2512.00001"]


async def test_fetch_day_reads_the_old_atom_shape(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession, day_papers: list[Paper]
) -> None:
    fake_arxiv.api_shape = "old"
    fake_arxiv.add_papers(day_papers[:5])

    got = await fake_arxiv.client(http).fetch_day(MON)

    assert sorted(got, key=lambda p: p.arxiv_id) == sorted(day_papers[:5], key=lambda p: p.arxiv_id)


async def test_fetch_day_on_a_weekend_makes_no_request(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    assert await fake_arxiv.client(http).fetch_day(date(2025, 12, 21)) == []
    assert fake_arxiv.requests == []


async def test_fetch_day_asks_again_after_an_unexpectedly_empty_page(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.add_papers([paper()])
    empty = atom_document([], total=1)
    fake_arxiv.fail_next("api", 200, body=empty, content_type="application/atom+xml")

    got = await fake_arxiv.client(http).fetch_day(MON)

    assert [p.arxiv_id for p in got] == ["2512.00001"]
    assert len(fake_arxiv.calls("api")) == 2


async def test_fetch_day_gives_up_on_empty_pages_before_the_stated_total(
    fake_arxiv: FakeArxiv, http: aiohttp.ClientSession
) -> None:
    fake_arxiv.serve_body("api", atom_document([], total=3), content_type="application/atom+xml")

    with pytest.raises(SourceError, match="empty pages"):
        await fake_arxiv.client(http, max_tries=2).fetch_day(MON)

    assert len(fake_arxiv.calls("api")) == 2


def test_client_from_settings_uses_the_arxiv_settings() -> None:
    settings = Settings.from_env({
        "ARXIV_RSS_URL": "http://127.0.0.1:9/rss/", "ARXIV_API_URL": "http://127.0.0.1:9/api/query",
        "ARXIV_CATEGORIES": "cs.CV, cs.RO", "ARXIV_ANNOUNCE_TYPES": "new", "ARXIV_REQUEST_DELAY": "5",
        "ARXIV_MAX_TRIES": "2", "ARXIV_TIMEOUT": "30",
    })

    client = ArxivClient.from_settings(None, settings)  # type: ignore[arg-type]  # no request is made

    assert client.listing_url == "http://127.0.0.1:9/rss/cs.CV+cs.RO"
    assert (client.announce_types, client.delay, client.max_tries, client.timeout) == (("new",), 5.0, 2, 30.0)
    assert client.api_query_url(id_list="2512.00001") == "http://127.0.0.1:9/api/query?id_list=2512.00001"
