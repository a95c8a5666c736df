"""The command line's argument types: each turns one argument's text into a value, or an argparse error.

argparse prints the error with the usage and exits 2, so a wrong number never reaches a query as a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date

MAX_LIMIT = 10_000  # most rows --limit may ask for


def iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def score_threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be between 1 and 10: {text!r}")
    return value


def count(limit: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `limit` (SQLite cannot bind 1e20, and -1 means "all")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit}: {text!r}")
        return value

    return parse


def seconds(text: str) -> float:
    """An argparse type: seconds from 0 to a day (`run --wait`)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from exc
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds: {text!r}")
    return value
