"""core/fetch/ids.py, text.py, rss.py and atom.py: pure parsing of ids and of arXiv's XML on sample documents."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.build.links import find_code_link
from core.errors import SourceError
from core.fetch.atom import parse_atom, parse_atom_page
from core.fetch.ids import normalize_arxiv_id
from core.fetch.rss import parse_rss
from core.models import Paper
from tests.fakes.arxiv import (
    CatalogueEntry,
    RssItem,
    atom_document,
    atom_error_document,
    rss_document,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "arxiv"
MON = date(2025, 12, 22)  # a Monday listing in data/arxiv
URL = "https://rss.arxiv.org/rss/cs.AI+cs.LG"


def paper(arxiv_id: str = "2512.00001", **changes: object) -> Paper:
    base = Paper(
        arxiv_id=arxiv_id, title=f"Title {arxiv_id}", abstract="An abstract.", authors=("Ada Lovelace",),
        categories=("cs.LG", "cs.AI"), primary_category="cs.LG", published=MON,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


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


def test_parse_atom_reads_the_authors_comment_where_code_links_often_are() -> None:
    p = replace(paper("2512.16928"), comment="12 pages. Code: https://github.com/org/dion2")
    xml = atom_document([CatalogueEntry(p, datetime(2025, 12, 18, 21, 5, tzinfo=UTC))], total=1, start=0)
    [parsed] = parse_atom(xml, "u")
    assert parsed.comment == "12 pages. Code: https://github.com/org/dion2"
    assert find_code_link(parsed.abstract, parsed.comment) == "https://github.com/org/dion2"


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
