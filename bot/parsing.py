"""Command arguments, parsed (pure): the command line itself, thresholds, times, time zones, field slugs.

Owns what a valid argument is. It must not word replies or touch the store (bot/commands.py does).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from core.stale import timezone_loads


def parse_command(text: str) -> tuple[str, str]:
    """Split "/field@MyBot a b" into ("field", "a b"); a line without a slash is ("", text)."""
    text = text.strip()
    if not text.startswith("/"):
        return "", text
    head, _, rest = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower().replace("-", "_")
    return name, rest.strip()


def parse_min_score(arg: str) -> float | None:
    """A threshold from 1 to 10 in steps of 0.5, or None (pure)."""
    try:
        value = float(arg.replace(",", "."))
    except ValueError:
        return None
    if not 1 <= value <= 10 or (value * 2) != int(value * 2):
        return None
    return value


def parse_time(arg: str) -> str | None:
    """HH:MM (24-hour) normalised to two digits each, or None (pure)."""
    m = re.fullmatch(r"(\d{1,2})[:：.](\d{2})", arg.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        return None
    return f"{int(m[1]):02d}:{int(m[2]):02d}"


def parse_timezone(arg: str) -> str | None:
    """A known IANA timezone name (case-insensitive match allowed), or None."""
    name = arg.strip()
    if not name or "/" not in name and name.upper() != "UTC":
        return None
    if timezone_loads(name):  # not ZoneInfo alone: a folder such as America/Argentina raises OSError
        return name
    from zoneinfo import available_timezones

    lowered = {tz.lower(): tz for tz in available_timezones()}
    return lowered.get(name.lower())


def closest_slugs(word: str, slugs: Sequence[str], n: int = 3) -> list[str]:
    """The `n` slugs most like `word`, best first: always some, so an error can name valid ones."""
    ranked = sorted(slugs, key=lambda s: (-difflib.SequenceMatcher(None, word, s).ratio(), s))
    return ranked[:n]
