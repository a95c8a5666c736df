"""Reading arXiv's XML: the namespaces, parsing a document, and cleaning the text and author lists in it.

Pure functions shared by the RSS and Atom parsers. This module does not fetch, and does not build Papers.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

from core.errors import SourceError
from core.fetch.tex import decode_prose, decode_tex

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}

_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
# Split on commas and on the whole word "and" ("A, B and C", "A, B, and C"), never inside "Anderson".
_AUTHOR_SEP = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


def clean(text: str | None) -> str:
    """Collapse whitespace and decode entities that survived XML parsing (arXiv sometimes escapes twice)."""
    if not text:
        return ""
    return " ".join(_ENTITY.sub(lambda m: html.unescape(m.group(0)), text).split())


def prose(text: str | None) -> str:
    """A title or abstract as readers see it: `clean`, then TeX accents decoded outside math."""
    return decode_prose(clean(text))


def author_name(raw: str) -> str:
    """One author's name as readers see it, from whichever source: TeX accents decoded, mojibake undone."""
    return repair_mojibake(decode_tex(raw))


def repair_mojibake(name: str) -> str:
    """Undo UTF-8 read as Latin-1/cp1252 ("RamÃ­rez" -> "Ramírez"); leave anything else untouched."""
    for wrong in ("latin-1", "cp1252"):
        try:
            fixed = name.encode(wrong).decode("utf-8")
        except UnicodeError:
            continue
        if fixed != name:
            return fixed
    return name


def split_authors(text: str | None) -> tuple[str, ...]:
    """One name per author from arXiv's "A, B and C" list, keeping "Jr." and the like with their name."""
    names: list[str] = []
    for part in _AUTHOR_SEP.split(clean(text)):
        part = part.strip()
        if not part:
            continue
        if names and part.lower() in _NAME_SUFFIXES:  # "John Smith, Jr." is one author
            names[-1] = f"{names[-1]} {part}"
        else:
            names.append(author_name(part))
    return tuple(names)


def unique(items: list[str]) -> tuple[str, ...]:
    """The non-empty items, first occurrence kept, in order."""
    return tuple(dict.fromkeys(x for x in items if x))


def parse_xml(xml: str | bytes, url: str) -> ET.Element:
    """The document's root element; SourceError naming `url` when it is not XML."""
    text = xml.decode("utf-8", errors="replace") if isinstance(xml, bytes) else xml
    try:
        return ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as exc:
        raise SourceError(f"arXiv feed is malformed: {url}: not XML ({exc})") from exc
