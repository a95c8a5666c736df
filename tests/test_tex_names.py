"""Author names as arXiv's RSS spells them in TeX, decoded for readers and for /follow matching."""

from __future__ import annotations

from datetime import date

import pytest

from core.build.digest import short_authors
from core.fetch.rss import parse_rss
from core.fetch.tex import decode_tex
from core.models import Paper
from core.score.authors import followed_authors, plain_name
from tests.test_fetch_parse import REAL_SHAPE_RSS, URL


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
