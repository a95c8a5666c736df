"""The static site and its Atom feeds: pages parse, local links resolve, feeds validate, bytes repeat."""

from __future__ import annotations

import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag

import feedparser
import pytest

from bot.cli import main
from core.build.digest import build_digest
from core.build.feeds import render_feed
from core.build.site import render_site
from core.config import PROJECT_ROOT
from core.models import Digest
from tests.samples import FIELDS, UPDATED, paper, score

ARXIV = PROJECT_ROOT / "data" / "arxiv"
EVIL = "</script><script>alert(1)</script> & \"quoted\" 'single' <b>bold</b> \u2028 end"


class Page(HTMLParser):
    """Every id, href and src of one page; fails on an unclosed element we open ourselves."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.refs: list[str] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"] or "")
        for key in ("href", "src"):
            if values.get(key):
                self.refs.append(values[key] or "")
        if tag not in ("meta", "link", "input", "br", "img"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.stack == [], f"{path.name}: unclosed {page.stack}"
    assert len(page.ids) == len(set(page.ids)), f"{path.name}: duplicate ids"
    return page


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests")}


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped sample days, run offline, written as a site (English)."""
    tmp = tmp_path_factory.mktemp("site")
    assert main(["run", "--offline", "--quiet", "--input", str(ARXIV)], env=env_for(tmp)) == 0
    assert main(["site", "--out", str(tmp / "out"), "--lang", "en"], env=env_for(tmp)) == 0
    return tmp


def test_site_has_a_front_page_a_page_per_day_and_feeds(sample_site: Path) -> None:
    out = sample_site / "out"
    days = sorted(p.stem for p in ARXIV.glob("*.jsonl"))
    assert sorted(p.stem for p in out.glob("20*.html")) == days
    assert (out / "index.html").read_bytes() == (out / f"{days[-1]}.html").read_bytes()
    assert (out / "feed.xml").is_file() and len(list((out / "feeds").glob("*.xml"))) == 7
    front = parse_page(out / "index.html")
    facts = " ".join(front.text)
    assert "Read 116 new papers." in facts and "Tokens: 0" in facts and "offline scorer" in facts


def test_every_page_parses_and_every_local_link_resolves(sample_site: Path) -> None:
    out = sample_site / "out"
    pages = {p.name: parse_page(p) for p in out.glob("*.html")}
    checked = 0
    for name, page in pages.items():
        assert "day-select" in page.ids and "search" in page.ids
        for ref in page.refs:
            if ref.startswith(("https://", "http://")):
                assert ref.startswith("https://"), ref
                continue
            target, anchor = urldefrag(ref)
            target = target or name
            assert (out / target).is_file(), f"{name}: {ref} is missing"
            if anchor:
                assert anchor in pages[target].ids, f"{name}: {ref} has no #{anchor}"
            checked += 1
    assert checked > 100
    index = json.loads((out / "search-index.js").read_text().removeprefix("window.SEARCH_INDEX = ").rstrip(";\n"))
    for entry in index["papers"]:
        target, anchor = urldefrag(entry["href"])
        assert anchor in pages[target].ids


def test_a_second_run_writes_the_same_bytes(sample_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = sample_site / "out"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = sample_site / "again"
    assert main(["site", "--out", str(again), "--lang", "en"], env=env_for(sample_site)) == 0
    assert main(["site", "--out", str(out), "--lang", "en"], env=env_for(sample_site)) == 0
    assert "(0 files changed)" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()} == {
        p.relative_to(out): b for p, b in before.items()}


def test_the_feeds_are_valid_atom_with_stable_ids(sample_site: Path) -> None:
    out = sample_site / "out"
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    per_field = 0
    for path in sorted((out / "feeds").glob("*.xml")):
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0, (path.name, parsed.get("bozo_exception"))
        assert all(e.id.endswith("#" + path.stem) for e in parsed.entries)
        per_field += len(parsed.entries)
    assert len(feed.entries) == per_field > 0
    ids = [e.id for e in feed.entries]
    assert len(ids) == len(set(ids))
    entry = feed.entries[0]
    assert entry.id.startswith("https://arxiv.org/abs/") and entry.link == entry.id.split("#")[0]
    assert entry.updated.endswith("Z") and entry.content[0].value and entry.author
    assert entry.updated_parsed.tm_year >= 2025


def _evil_digests() -> list[Digest]:
    evil = paper(1, EVIL, abstract=f"Abstract with {EVIL}; code at https://github.com/o/r.")
    plain = paper(2, "Plain title", day=date(2026, 1, 20))
    return [
        build_digest(evil.published, FIELDS, [(evil, score(evil, "efficient-llm", 9.0, EVIL))], lang="en",
                     min_score=7, max_per_field=10, papers_read=1, model="offline", tokens=0, updated_at=UPDATED),
        build_digest(plain.published, FIELDS, [(plain, score(plain, "safety-alignment", 8.0))], lang="en",
                     min_score=7, max_per_field=10, papers_read=1, model="offline", tokens=0, updated_at=None),
    ]


def test_untrusted_text_is_escaped_in_pages_scripts_and_feeds(tmp_path: Path) -> None:
    files = render_site(_evil_digests(), FIELDS, lang="en", timezone="UTC")
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    page = files["2026-01-19.html"].decode()
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#x27;single&#x27;" in page
    parsed = parse_page(tmp_path / "2026-01-19.html")
    assert sum(EVIL in t for t in parsed.text) >= 2  # the title and the reason read back as written
    script = files["search-index.js"].decode()
    assert "</script" not in script.lower() and "<" not in script and "\u2028" not in script
    index = json.loads(script.removeprefix("window.SEARCH_INDEX = ").rstrip(";\n"))
    assert index["papers"][1]["title"] == " ".join(EVIL.split())
    feed = feedparser.parse(files["feed.xml"])
    assert feed.bozo == 0
    evil_entry = next(e for e in feed.entries if "2601.00001" in e.id)
    assert evil_entry.title == EVIL
    assert "https://github.com/o/r" in evil_entry.content[0].value
    assert evil_entry.updated == "2026-01-19T04:45:54Z"  # the run's time, never "now"


def test_a_day_without_an_announcement_gets_no_page() -> None:
    quiet = build_digest(date(2026, 1, 24), FIELDS, [], lang="en", min_score=7, max_per_field=10, papers_read=0,
                         model="offline", tokens=0, updated_at=None, announced=False)
    files = render_site([*_evil_digests(), quiet], FIELDS, lang="en", timezone="UTC")
    assert "2026-01-24.html" not in files and files["index.html"] == files["2026-01-20.html"]
    assert "2026-01-24" not in files["2026-01-20.html"].decode()


def test_a_feed_with_no_day_yet_is_still_valid_and_the_empty_site_has_a_front_page(tmp_path: Path) -> None:
    assert feedparser.parse(render_feed([], FIELDS, lang="zh")).bozo == 0
    files = render_site([], FIELDS, lang="zh", timezone="UTC")
    (tmp_path / "index.html").write_bytes(files["index.html"])
    assert "还没有任何一天的推荐" in " ".join(parse_page(tmp_path / "index.html").text)


def test_site_refuses_a_file_as_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("x")
    assert main(["site", "--out", str(tmp_path / "taken")], env=env_for(tmp_path)) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
