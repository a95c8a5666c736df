"""Build the weekly chart's Chinese font, data/fonts/NotoSansSC-digest.otf (not a benchmark: like
train_ranker.py, it makes a file the product ships, reproducibly).

matplotlib ships DejaVu Sans, which has no Chinese glyphs, and a fresh machine has no system CJK font, so a
Chinese reader's chart was drawn in English. The product ships a subset of Noto Sans CJK SC (SIL Open Font
License 1.1, data/fonts/OFL.txt): the 6,763 Hanzi of GB 2312 (the characters of nearly all modern
simplified Chinese text), CJK punctuation and full-width forms, about 1.5 MB instead of the full 16 MB. A
label with a character outside it is drawn in English, as before (core/build/chart.py `drawable`).

The source is Debian's `fonts-noto-cjk` (NotoSansCJK-Regular.ttc, its SC face):

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb /tmp/noto
    .venv/bin/python bench/subset_font.py /tmp/noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

The same source and fontTools give the same bytes (no timestamp is recalculated).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

from core.build.chart import CJK_FONT, CJK_FONT_FILE
from core.config import PROJECT_ROOT

SC_FACE = "Noto Sans CJK SC"
PUNCTUATION = (range(0x3000, 0x3040), range(0xFF01, 0xFF5F))  # CJK symbols and punctuation; full-width forms


def gb2312_hanzi() -> set[int]:
    """The code points of GB 2312's Hanzi (rows 16-87: level 1 and level 2)."""
    out: set[int] = set()
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes((row, cell)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return out


def sc_face(source: Path) -> TTFont:
    """The Simplified Chinese face of a Noto Sans CJK file (a collection or a single font)."""
    if source.suffix.lower() == ".ttc":
        for number in range(64):
            try:
                font = TTFont(source, fontNumber=number, recalcTimestamp=False)
            except IndexError:
                break
            if font["name"].getDebugName(1) == SC_FACE:
                return font
        raise SystemExit(f"{source}: no {SC_FACE} face in this collection")
    return TTFont(source, recalcTimestamp=False)


def build(source: Path, out: Path) -> int:
    font = sc_face(source)
    options = subset.Options()
    options.layout_features = []  # horizontal Latin-free labels: no vertical or locale features needed
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # keep the copyright and licence records
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=gb2312_hanzi() | {c for r in PUNCTUATION for c in r})
    subsetter.subset(font)
    names = font["name"]
    for record in list(names.names):  # a modified version goes by its own name (the licence asks it)
        if record.nameID in (1, 4):
            names.setName(CJK_FONT, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID in (3, 6):
            names.setName(CJK_FONT.replace(" ", ""), record.nameID, record.platformID, record.platEncID,
                          record.langID)
    font.recalcTimestamp = False
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(out)
    return len(font.getBestCmap())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="NotoSansCJK-Regular.ttc (or NotoSansCJKsc-Regular.otf)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "fonts" / CJK_FONT_FILE)
    args = parser.parse_args()
    glyphs = build(args.source, args.out)
    print(f"{args.out}: {glyphs} characters, {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
