"""core/fetch/client.py: the real aiohttp client against the fake arXiv, and the API query for a listing day."""

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
from core.errors import ConfigError, SourceError
from core.fetch.client import USER_AGENT, ArxivClient, submitted_date_query
from core.fetch.jsonl import load_papers
from core.models import Paper
from tests.fakes.arxiv import (
    FakeArxiv,
    atom_document,
)
from tests.fakes.arxiv import fake_arxiv as fake_arxiv  # noqa: F401
from tests.fakes.clock import FakeMonotonic

DATA = Path(__file__).resolve().parent.parent / "data" / "arxiv"
MON = date(2025, 12, 22)  # a Monday listing in data/arxiv


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
    clock = FakeMonotonic(start=1000.0)
    client = fake_arxiv.client(http, sleep=clock.sleep, clock=clock, max_tries=3)

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
    clock = FakeMonotonic(start=1000.0)
    client = fake_arxiv.client(http, sleep=clock.sleep, clock=clock, backoff=2.0, max_tries=4,
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
        fake_time = FakeMonotonic(start=1000.0)
        client = ArxivClient(http, rss_url=f"{base}/rss", api_url=f"{base}/api/query", categories=["cs.AI"],
                             delay=0, backoff=0.001, max_tries=2, clock=fake_time, sleep=fake_time.sleep)

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
    # The fake clock stands still while a request is in flight: each later start waits the whole delay.
    fake_time = FakeMonotonic(start=1000.0)
    client = fake_arxiv.client(http, delay=delay, clock=fake_time, sleep=fake_time.sleep)

    await asyncio.gather(client.fetch_listing(), client.fetch_papers(["2512.00001"]), client.fetch_listing(),
                         client.fetch_day(MON))

    calls = sorted(fake_arxiv.requests, key=lambda r: r.started)
    assert len(calls) == 4
    assert fake_arxiv.max_in_flight == 1
    for before, after in zip(calls, calls[1:], strict=False):
        assert before.finished is not None and after.started >= before.finished
    assert fake_time.sleeps == pytest.approx([delay] * 3)  # before the 2nd, 3rd and 4th request; never before the first


async def test_the_delay_counts_from_the_previous_start(fake_arxiv: FakeArxiv, http: aiohttp.ClientSession) -> None:
    fake_arxiv.set_listing(MON, new=[paper()])
    fake_time = FakeMonotonic(start=1000.0)
    client = fake_arxiv.client(http, delay=3.0, clock=fake_time, sleep=fake_time.sleep)

    await client.fetch_listing()
    fake_time.now += 1.0  # a second after the first start
    await client.fetch_listing()
    fake_time.now += 5.0  # past the delay: no wait
    await client.fetch_listing()

    assert fake_time.sleeps == [pytest.approx(2.0)]
    assert len(fake_arxiv.calls("rss")) == 3


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

    fake_time = FakeMonotonic(start=1000.0)
    client = ArxivClient.from_settings(None, settings,  # type: ignore[arg-type]  # no request is made
                                       clock=fake_time, sleep=fake_time.sleep)

    assert client.listing_url == "http://127.0.0.1:9/rss/cs.CV+cs.RO"
    assert (client.announce_types, client.delay, client.max_tries, client.timeout) == (("new",), 5.0, 2, 30.0)
    assert client.api_query_url(id_list="2512.00001") == "http://127.0.0.1:9/api/query?id_list=2512.00001"


def test_client_from_settings_needs_the_entry_points_clock_and_sleep() -> None:
    settings = Settings.from_env({})
    fake_time = FakeMonotonic(start=1000.0)

    with pytest.raises(ConfigError, match="clock"):
        ArxivClient.from_settings(None, settings, clock=None, sleep=fake_time.sleep)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="sleep"):
        ArxivClient.from_settings(None, settings, clock=fake_time, sleep=None)  # type: ignore[arg-type]
