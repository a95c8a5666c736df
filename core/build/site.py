"""The static site: every stored day's digest as pages, a search index, and the Atom feeds (pure).

Owns which files the site has and what each holds: `index.html` (the newest day), `<day>.html` per day,
`search-index.js` (the index the search box reads; a script, so it also loads from file://), `style.css`,
`site.js`, `favicon.svg`, `feed.xml` and `feeds/<slug>.xml`. Deterministic: the same digests give the same bytes (no
"now", everything sorted). It must not read the store, the clock or write files (bot/site.py does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from core.build.assets import FAVICON_SVG, SITE_JS, STYLE_CSS
from core.build.digest import format_score, short_authors
from core.build.feeds import render_feed
from core.build.html import day_page_name, paper_anchor, render_day_page, render_empty_page, site_text
from core.models import Digest, Field
from core.searchwords import SEARCH_STOP


def json_for_script(value: object) -> str:
    """JSON safe inside a <script> element and a JS file: no `</script>`, no `<!--`, no raw U+2028/2029."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def search_index(digests: Sequence[Digest], lang: str) -> dict[str, object]:
    """Every paper the pages show, newest day first: what the search box matches and where it links, and the
    common words it leaves out of a query, as the archive's search does."""
    papers = []
    for digest in sorted(digests, key=lambda d: d.day, reverse=True):
        for section in digest.sections:
            for paper, score in section.items:
                papers.append({
                    "id": paper.arxiv_id,
                    "title": " ".join(paper.title.split()),
                    "authors": short_authors(paper.authors, lang),
                    "day": digest.day.isoformat(),
                    "field": section.field.name(lang),
                    "score": format_score(float(score.value or 0.0)),
                    "href": f"{day_page_name(digest.day)}#{paper_anchor(paper.arxiv_id)}",
                })
    labels = {"found": site_text(lang, "found"), "none": site_text(lang, "none")}
    return {"labels": labels, "stop": sorted(SEARCH_STOP), "papers": papers}


def render_site(
    digests: Sequence[Digest], fields: Sequence[Field], *, lang: str, timezone: str, base_url: str = "",
) -> dict[str, bytes]:
    """Every file of the site by relative path (sorted), from each stored day's digest in `lang`.

    A day whose run found no announcement (a weekend, a holiday) gets no page: the front page is the
    newest listing day.
    """
    digests = [d for d in digests if d.announced]
    by_day = {d.day: d for d in digests}
    days = sorted(by_day)
    files: dict[str, bytes] = {
        "favicon.svg": FAVICON_SVG.encode(),
        "style.css": STYLE_CSS.encode(),
        "site.js": SITE_JS.encode(),
        "search-index.js": f"window.SEARCH_INDEX = {json_for_script(search_index(digests, lang))};\n".encode(),
        "feed.xml": render_feed(digests, fields, lang=lang, base_url=base_url),
    }
    for field in fields:
        files[f"feeds/{field.slug}.xml"] = render_feed(digests, fields, lang=lang, slug=field.slug, base_url=base_url)
    for day in days:
        files[day_page_name(day)] = render_day_page(by_day[day], days, fields, timezone).encode()
    files["index.html"] = files[day_page_name(days[-1])] if days else render_empty_page(lang, fields).encode()
    return dict(sorted(files.items()))


def site_summary(files: Mapping[str, bytes]) -> str:
    """One line about a written site: pages and feeds."""
    pages = sum(1 for name in files if name.endswith(".html") and name != "index.html")
    feeds = sum(1 for name in files if name.endswith(".xml"))
    return f"{pages} day pages, {feeds} feeds"
