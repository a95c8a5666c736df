"""arXiv ids: recognise every spelling of one (bare, versioned, old-style, abs/pdf/html URL) and split off the version.

Pure functions on strings. This module does not fetch, parse feeds, or know what a paper is.
"""

from __future__ import annotations

import re

_ID_PREFIX = re.compile(
    r"^(?:arxiv:|oai:arxiv\.org:|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)",
    re.IGNORECASE,
)
_ID_SUFFIX = re.compile(r"(?:\.pdf)?/?(?:[?#].*)?$", re.IGNORECASE)
_ID = re.compile(
    r"(?:(?P<yymm>\d{4})\.(?P<num>\d{4,5})|(?P<old>[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}))(?:v(?P<version>\d+))?"
)


def split_id(text: str) -> tuple[str, int] | None:
    """Return (id without version, version or 1) for any spelling normalize_arxiv_id accepts."""
    core = _ID_SUFFIX.sub("", _ID_PREFIX.sub("", text.strip(), count=1), count=1)
    match = _ID.fullmatch(core)
    if match is None:
        return None
    version = int(match["version"]) if match["version"] else 1
    if match["old"]:
        return match["old"], version
    yymm, num = match["yymm"], match["num"]
    # New-style ids began in April 2007; the sequence number grew to five digits in January 2015.
    if not 1 <= int(yymm[2:]) <= 12 or yymm < "0704" or len(num) != (4 if yymm < "1501" else 5):
        return None
    return f"{yymm}.{num}", version


def normalize_arxiv_id(text: str) -> str | None:
    """Return the arXiv id in `text` without its version, or None if `text` is not an id or abs/pdf URL."""
    parsed = split_id(text)
    return parsed[0] if parsed else None
