"""The static site's stylesheet and script, as text (pure constants; no IO).

The script does three small things, and the pages work without it: the day drop-down navigates, the
search box filters the index (search-index.js, loaded with a <script> tag so it also works from file://),
and "/" focuses the search box. It writes results with textContent and DOM nodes, never innerHTML.
"""

from __future__ import annotations

STYLE_CSS = """\
:root { color-scheme: light dark; --bg: #fdfdfc; --fg: #1d1d1f; --muted: #5f6368; --line: #e3e3e0;
  --accent: #b31b1b; --chip: #f1f1ee; --score: #0b6e4f; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #16171a; --fg: #e8e8e6; --muted: #a0a4ab; --line: #2c2e33; --accent: #ff7b72;
    --chip: #23252a; --score: #56d39b; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.55;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Noto Sans CJK SC", sans-serif; }
a { color: var(--accent); }
.wrap { max-width: 52rem; margin: 0 auto; padding: 0 1rem; }
.top { padding: .75rem 1rem .25rem; display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.top .days { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.top .days a, .top .days span.off { white-space: nowrap; }
.top .days span.off { color: var(--muted); }
select, input[type=search] { font: inherit; color: inherit; background: var(--chip); border: 1px solid var(--line);
  border-radius: .4rem; padding: .3rem .5rem; }
.search { flex: 1 1 12rem; }
.search input { width: 100%; }
nav.fields { position: sticky; top: 0; z-index: 1; background: var(--bg); border-bottom: 1px solid var(--line);
  display: flex; gap: .4rem; overflow-x: auto; padding: .5rem 1rem; white-space: nowrap; }
nav.fields a { background: var(--chip); border-radius: 1rem; padding: .15rem .7rem; text-decoration: none;
  font-size: .9rem; }
nav.fields a span { color: var(--muted); }
h1 { font-size: 1.5rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; padding-top: .25rem; scroll-margin-top: 3.5rem; }
ul.facts { list-style: none; padding: 0; margin: 0 0 1rem; color: var(--muted); font-size: .9rem; }
article.paper { border-top: 1px solid var(--line); padding: .75rem 0; scroll-margin-top: 3.5rem; }
article.paper h3 { font-size: 1.05rem; margin: 0 0 .25rem; }
article.paper h3 a { color: inherit; text-decoration: none; }
article.paper h3 a:hover { text-decoration: underline; }
.meta { color: var(--muted); font-size: .9rem; margin: 0; }
.score { color: var(--score); font-weight: 700; }
.why { margin: .35rem 0; }
.links { margin: .25rem 0; font-size: .9rem; }
details { font-size: .92rem; color: var(--muted); }
.note { color: var(--muted); font-style: italic; }
#search-results { border: 1px solid var(--line); border-radius: .5rem; padding: .5rem 1rem; margin: 1rem 0; }
#search-results ol { padding-left: 1.25rem; margin: .25rem 0; }
#search-results li { margin: .2rem 0; }
footer { color: var(--muted); font-size: .85rem; border-top: 1px solid var(--line); margin-top: 2rem;
  padding: 1rem 0 2rem; }
@media (max-width: 30rem) { body { font-size: 15px; } h1 { font-size: 1.25rem; } }
"""

SITE_JS = """\
"use strict";
(function () {
  var select = document.getElementById("day-select");
  if (select) {
    select.addEventListener("change", function () { window.location.href = select.value; });
  }
  var box = document.getElementById("search");
  var out = document.getElementById("search-results");
  var index = window.SEARCH_INDEX || { papers: [] };
  if (!box || !out) { return; }
  var common = Object.create(null);
  (index.stop || []).forEach(function (w) { common[w] = true; });
  // The words a paper must hold: as typed, lower-cased, without the punctuation around them, and without
  // the common English words the archive's own search leaves out (core/searchwords.py).
  function words(text) {
    return text.toLowerCase().split(/\\s+/).map(function (w) {
      return w.replace(/^[^\\p{L}\\p{N}]+|[^\\p{L}\\p{N}]+$/gu, "");
    }).filter(function (w) { return w && !common[w]; });
  }
  function render() {
    var query = words(box.value);
    while (out.firstChild) { out.removeChild(out.firstChild); }
    if (!query.length) { out.hidden = true; return; }
    var hits = index.papers.filter(function (p) {
      var hay = (p.title + " " + p.authors + " " + p.id + " " + p.field).toLowerCase();
      return query.every(function (w) { return hay.indexOf(w) !== -1; });
    });
    var head = document.createElement("p");
    head.textContent = (hits.length ? index.labels.found : index.labels.none).replace("{n}", hits.length);
    out.appendChild(head);
    var list = document.createElement("ol");
    hits.slice(0, 50).forEach(function (p) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = p.href;
      a.textContent = p.title;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" \\u2014 " + p.day + " \\u00b7 " + p.field + " \\u00b7 " + p.score));
      list.appendChild(li);
    });
    out.appendChild(list);
    out.hidden = false;
  }
  box.addEventListener("input", render);
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && document.activeElement !== box) { e.preventDefault(); box.focus(); }
  });
  if (box.value) { render(); }
})();
"""

# A small icon (so browsers do not ask for a missing /favicon.ico): the score badge's colours.
FAVICON_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">\
<rect width="32" height="32" rx="6" fill="#b31b1b"/>\
<text x="16" y="22" font-family="sans-serif" font-size="16" font-weight="700" fill="#fff" \
text-anchor="middle">aD</text>\
</svg>
"""
