"""Author names as arXiv's RSS spells them in TeX, decoded for readers and for /follow matching."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.build.digest import short_authors
from core.fetch.atom import parse_atom
from core.fetch.jsonl import load_papers
from core.fetch.rss import parse_rss
from core.fetch.tex import MATH_CHARS, decode_prose, decode_tex
from core.models import Paper
from core.score.authors import followed_authors, plain_name
from tests.fakes.arxiv import CatalogueEntry, atom_document
from tests.test_fetch_parse import REAL_SHAPE_RSS, URL, paper


@pytest.mark.parametrize(("raw", "decoded"), [
    ('J\\"urgen Schmidhuber', "Jürgen Schmidhuber"),
    ("Jo\\~ao Silva", "João Silva"),
    ("Andr\\'e Martins", "André Martins"),
    ("Fran\\c cois M\\\"uller", "François Müller"),
    ("Juan-Manuel~P\\'erez-R\\'ua", "Juan-Manuel Pérez-Rúa"),
    ('S\\"{o}ren Auer', "Sören Auer"),
    ('{\\"O}zt{\\"u}rk', "Öztürk"),
    ("J\\'er\\^ome Th\\'eau", "Jérôme Théau"),
    ("{\\o}ystein Ore", "øystein Ore"),
    ("W\\l{}odek", "Włodek"),
    ("\\v{S}imon \\c{C}elik", "Šimon Çelik"),
    ("Erd\\H{o}s", "Erdős"),
    ("Mart\\'{\\i}n Garc\\'\\i a", "Martín García"),
    ("Stra\\ss e", "Straße"),
    ("Gu{\\dh}r\\'un Gu\\dh mundsd\\'ottir", "Guðrún Guðmundsdóttir"),
    ("{\\DJ}or{\\dj}e \\v{Z}ikeli\\'c", "Đorđe Žikelić"),
    ("EDF R\\&D", "EDF R&D"),
    ("Plain Name", "Plain Name"),
    ("Zi-{Y}ang Li", "Zi-Yang Li"),
    ("A. \\alpha-Team", "A. \\alpha-Team"),  # not an accent: left as written
])
def test_tex_accents_become_unicode(raw: str, decoded: str) -> None:
    assert decode_tex(raw) == decoded
    assert decode_tex(decoded) == decoded  # decoding twice changes nothing
    assert plain_name(raw) == plain_name(decoded)  # /follow matches either spelling


def test_the_rss_listing_gives_readers_unicode_names_and_follow_still_matches() -> None:
    feed = REAL_SHAPE_RSS.replace("Alexandra Anderson, Rand Sandoval and Brandon Andrews",
                                  "J\\\"urgen Schmidhuber, Jo\\~ao Silva and Juan-Manuel~P\\'erez-R\\'ua")
    [paper] = parse_rss(feed, URL).papers
    assert paper.authors == ("Jürgen Schmidhuber", "João Silva", "Juan-Manuel Pérez-Rúa")
    assert short_authors(paper.authors, "en") == "Jürgen Schmidhuber, João Silva, Juan-Manuel Pérez-Rúa"
    assert followed_authors(["Jurgen Schmidhuber"], [paper]) == {paper.arxiv_id: ("Jürgen Schmidhuber",)}
    stored = Paper("2601.00002", "t", "a", ('J\\"urgen Schmidhuber',), ("cs.LG",), "cs.LG", date(2026, 1, 19))
    assert followed_authors(["Jürgen Schmidhuber"], [stored]) == {"2601.00002": ('J\\"urgen Schmidhuber',)}


# -- titles and abstracts: accents decoded outside math, math kept ------------------------------------------


@pytest.mark.parametrize(("raw", "decoded"), [  # shapes seen in the labelled listing days
    ("Robotic Arm Splatting via B\\'ezier Curve Refinement", "Robotic Arm Splatting via Bézier Curve Refinement"),
    ('Regularized Schr\\"odinger: Alleviating Distortion', "Regularized Schrödinger: Alleviating Distortion"),
    ("A Case Study on the Erd\\H{o}s Problems", "A Case Study on the Erdős Problems"),
    ("Hot H\\'em: S\\`ai G\\`on Gi\\~ua", "Hot Hém: Sài Gòn Giũa"),
    ("Psych\\=eChat: An Empathic Framework", "PsychēChat: An Empathic Framework"),
    ("\\textit{FLARE}: Adaptive Reputation", "FLARE: Adaptive Reputation"),
    ("\\textsc{NaVIDA}: Vision-Language Navigation", "NaVIDA: Vision-Language Navigation"),
    ("Thinking in 360{\\deg}: Humanoid Visual Search", "Thinking in 360°: Humanoid Visual Search"),
    ("Anomaly Location for PCBA \\\\ via Self-Supervision", "Anomaly Location for PCBA via Self-Supervision"),
    ('{\\"O}zt{\\"u}rk and R\\&D at 5\\%', "Öztürk and R&D at 5%"),
    ("accuracy of \\textbf{99.47\\%} and \\textbf{\\textit{``Routing.\'\'}}", "accuracy of 99.47% and ``Routing.\'\'"),
    # math is kept as written, whatever it holds; so is an escaped dollar and a command we do not know
    ("Beyond Tsybakov: $\\mathcal{H}$-Consistency Bounds", "Beyond Tsybakov: $\\mathcal{H}$-Consistency Bounds"),
    ("$\\pi^{*}_{0.6}$: a VLA That Learns", "$\\pi^{*}_{0.6}$: a VLA That Learns"),
    ('Sure $\\ln\\ln T$ and $\\"o$ kept, B\\\'ezier not', 'Sure $\\ln\\ln T$ and $\\"o$ kept, Bézier not'),
    ("$$\\'e$$ and \\(\\'e\\) and \\[\\'e\\]", "$$\\'e$$ and \\(\\'e\\) and \\[\\'e\\]"),
    ("costs \\$5 for B\\'ezier", "costs \\$5 for Bézier"),
    ("Causality--\\Delta: Jacobian-Based", "Causality--\\Delta: Jacobian-Based"),
    ("Plain title", "Plain title"),
])
def test_titles_and_abstracts_decode_accents_outside_math(raw: str, decoded: str) -> None:
    assert decode_prose(raw) == decoded
    assert decode_prose(decoded) == decoded  # decoding twice changes nothing


def test_every_reader_of_papers_decodes_titles_and_abstracts(tmp_path: Path) -> None:
    feed = REAL_SHAPE_RSS.replace("Sparse   Probes for\n   Tiny Transformers", "Regularized Schr\\\"odinger Bridges") \
        .replace("We probe   small\nmodels.", "A B\\'ezier curve of $\\hat{x}$ models.")
    [read] = parse_rss(feed, URL).papers
    assert (read.title, read.abstract) == ("Regularized Schrödinger Bridges", "A Bézier curve of $\\hat{x}$ models.")
    listed = paper("2512.07001", title="On Erd\\H{o}s and B\\'ezier",
                   abstract="Schr\\\"odinger's $\\mathcal{O}(n)$ bound.")
    [entry] = parse_atom(atom_document([CatalogueEntry(listed, datetime(2025, 12, 8, 21, tzinfo=UTC))]), "u")
    assert (entry.title, entry.abstract) == ("On Erdős and Bézier", "Schrödinger's $\\mathcal{O}(n)$ bound.")
    line = {"id": "2512.07001", "title": "Psych\\=eChat", "abstract": "H\\'em.", "authors": ["A"],
            "categories": ["cs.CL"], "primary_category": "cs.CL", "published": "2025-12-09"}
    (tmp_path / "day.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    [loaded] = load_papers(tmp_path / "day.jsonl")
    assert (loaded.title, loaded.abstract) == ("PsychēChat", "Hém.")


def test_a_dollar_span_longer_than_any_math_is_prose() -> None:
    """Math spans are bounded (MATH_CHARS), so a text of many unclosed "\\(" cannot cost quadratic time."""
    long = "costs $ " + "x" * (MATH_CHARS + 10) + " B\\'ezier $ later"
    assert decode_prose(long) == long.replace("B\\'ezier", "Bézier")
    assert decode_prose("\\(" * 3 + " B\\'ezier") == "\\(" * 3 + " Bézier"
