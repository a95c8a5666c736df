"""core/calendar.py: arXiv's days, pure functions of their arguments, around weekends, DST changes and 20:00."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.calendar import (
    ARXIV_TZ,
    announced_at,
    is_announcement_weekday,
    latest_listing_day,
    listing_day_of,
    submission_window,
)

FRI, SAT, SUN, MON, TUE = (date(2025, 12, d) for d in (19, 20, 21, 22, 23))


def et(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in New York (EST or EDT, whichever is in force)."""
    return datetime(year, month, day, hour, minute, tzinfo=ARXIV_TZ)


def test_the_calendar_is_new_york_time() -> None:
    assert ARXIV_TZ.key == "America/New_York"


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (datetime(2025, 12, 22, 4, 59, tzinfo=UTC), SUN),  # 23:59 EST on Sunday
        (datetime(2025, 12, 22, 5, 0, tzinfo=UTC), MON),  # midnight EST
        (datetime(2025, 7, 9, 3, 59, tzinfo=UTC), date(2025, 7, 8)),  # 23:59 EDT
        (datetime(2025, 7, 9, 4, 0, tzinfo=UTC), date(2025, 7, 9)),
        (datetime(2025, 12, 22, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")), SUN),  # any zone: 20:00 EST Sunday
    ],
)
def test_listing_day_of_is_the_us_eastern_calendar_day(now: datetime, day: date) -> None:
    assert listing_day_of(now) == day


@pytest.mark.parametrize(
    ("day", "at_utc"),
    [
        (MON, datetime(2025, 12, 22, 1, 0, tzinfo=UTC)),  # Sunday 20:00 EST
        (TUE, datetime(2025, 12, 23, 1, 0, tzinfo=UTC)),  # Monday 20:00 EST
        (date(2025, 7, 9), datetime(2025, 7, 9, 0, 0, tzinfo=UTC)),  # 20:00 EDT is UTC-4
        (date(2025, 3, 10), datetime(2025, 3, 10, 0, 0, tzinfo=UTC)),  # the evening of the spring change: EDT
        (date(2025, 3, 9), datetime(2025, 3, 9, 1, 0, tzinfo=UTC)),  # the evening before it: still EST
        (date(2025, 11, 3), datetime(2025, 11, 3, 1, 0, tzinfo=UTC)),  # the evening of the autumn change: EST
    ],
)
def test_a_listing_is_announced_at_20_eastern_the_evening_before(day: date, at_utc: datetime) -> None:
    assert announced_at(day) == at_utc
    assert announced_at(day).astimezone(ARXIV_TZ).hour == 20


def test_listings_are_dated_monday_to_friday() -> None:
    days = [FRI + timedelta(days=n) for n in range(7)]
    assert [is_announcement_weekday(d) for d in days] == [True, False, False, True, True, True, True]


@pytest.mark.parametrize(
    ("now", "newest"),
    [
        (et(2025, 12, 22, 10), MON),  # Monday morning: Monday's listing (announced Sunday evening)
        (et(2025, 12, 22, 19, 59), MON),
        (et(2025, 12, 22, 20, 0), TUE),  # 20:00 sharp: Tuesday's listing is out
        (et(2025, 12, 18, 20, 0), FRI),  # Thursday evening announces Friday
        (et(2025, 12, 19, 19, 59), FRI),
        (et(2025, 12, 19, 20, 0), FRI),  # no announcement on Friday evening
        (et(2025, 12, 20, 12, 0), FRI),  # nor on Saturday
        (et(2025, 12, 20, 23, 59), FRI),
        (et(2025, 12, 21, 0, 0), FRI),
        (et(2025, 12, 21, 19, 59), FRI),
        (et(2025, 12, 21, 20, 0), MON),  # Sunday evening announces Monday
        (datetime(2025, 12, 22, 1, 0, tzinfo=UTC), MON),  # the same instant in UTC
        (datetime(2025, 12, 22, 0, 59, tzinfo=UTC), FRI),
        (datetime(2025, 12, 22, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")), MON),  # and in Shanghai
        # The spring change (Sunday 2025-03-09): Sunday 20:00 is EDT, 00:00 UTC, not 01:00.
        (datetime(2025, 3, 9, 23, 59, tzinfo=UTC), date(2025, 3, 7)),
        (datetime(2025, 3, 10, 0, 0, tzinfo=UTC), date(2025, 3, 10)),
        # The autumn change (Sunday 2025-11-02): Sunday 20:00 is EST, 01:00 UTC, not 00:00.
        (datetime(2025, 11, 3, 0, 30, tzinfo=UTC), date(2025, 10, 31)),
        (datetime(2025, 11, 3, 1, 0, tzinfo=UTC), date(2025, 11, 3)),
        (et(2026, 12, 31, 20, 0), date(2027, 1, 1)),  # across the year (holidays are not modelled)
        (datetime(2031, 3, 4, 12, 0, tzinfo=UTC), date(2031, 3, 4)),  # years ahead: a Tuesday morning
    ],
)
def test_latest_listing_day_is_the_newest_announced_listing(now: datetime, newest: date) -> None:
    assert latest_listing_day(now) == newest


def test_latest_listing_day_agrees_with_announced_at_every_half_hour_for_two_years() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for step in range(2 * 366 * 48):
        now = start + timedelta(minutes=30 * step)
        newest = latest_listing_day(now)
        assert is_announcement_weekday(newest) and announced_at(newest) <= now, now
        following = newest + timedelta(days=1)
        while not is_announcement_weekday(following):
            following += timedelta(days=1)
        assert announced_at(following) > now, now  # nothing newer is out yet


def test_each_listing_is_the_newest_from_its_announcement_on() -> None:
    day = date(2025, 1, 1)
    while day < date(2027, 1, 1):
        if is_announcement_weekday(day):
            assert latest_listing_day(announced_at(day)) == day
            assert latest_listing_day(announced_at(day) - timedelta(microseconds=1)) < day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("listing", "start", "end"),
    [
        (MON, et(2025, 12, 18, 14), et(2025, 12, 19, 14)),  # Thu 14:00 -> Fri 14:00
        (TUE, et(2025, 12, 19, 14), et(2025, 12, 22, 14)),  # Fri -> Mon, over the weekend
        (date(2025, 12, 24), et(2025, 12, 22, 14), et(2025, 12, 23, 14)),
        (date(2025, 11, 4), et(2025, 10, 31, 14), et(2025, 11, 3, 14)),  # across the autumn DST change
    ],
)
def test_submission_window_closes_at_14_eastern(listing: date, start: datetime, end: datetime) -> None:
    assert submission_window(listing) == (start, end)


def test_submission_window_across_the_autumn_change_lasts_an_hour_longer() -> None:
    window = submission_window(date(2025, 11, 4))
    assert window is not None
    start, end = window
    assert start.astimezone(UTC) == datetime(2025, 10, 31, 18, 0, tzinfo=UTC)  # EDT
    assert end.astimezone(UTC) == datetime(2025, 11, 3, 19, 0, tzinfo=UTC)  # EST
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=3, hours=1)  # the hour gained


def test_weekend_days_have_no_submission_window() -> None:
    assert submission_window(date(2025, 12, 20)) is None
    assert submission_window(date(2025, 12, 21)) is None
