"""arXiv's calendar: its time zone, when a listing is announced, which listing day an instant falls in,
and which submissions a listing covers.

Every rule about arXiv's days lives here and nowhere else. Pure functions of their arguments: nothing
here reads the clock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ARXIV_TZ = ZoneInfo("America/New_York")
ANNOUNCE_TIME = time(20, 0)  # arXiv announces at 20:00 US Eastern on the evening before the listing day
CUTOFF = time(14, 0)  # daily submission cut-off, US Eastern


def listing_day_of(now: datetime) -> date:
    """The arXiv listing day that `now` falls in (US Eastern calendar day)."""
    return now.astimezone(ARXIV_TZ).date()


def announced_at(day: date) -> datetime:
    """When arXiv announced listing day `day`: 20:00 US Eastern the evening before."""
    return datetime.combine(day - timedelta(days=1), ANNOUNCE_TIME, tzinfo=ARXIV_TZ)


def is_announcement_weekday(day: date) -> bool:
    """Whether arXiv publishes a listing dated `day` (Monday to Friday; holidays are not modelled)."""
    return day.weekday() < 5


def latest_listing_day(now: datetime) -> date:
    """The newest listing day arXiv has announced at instant `now`.

    Listing D (Monday to Friday) is announced at 20:00 US Eastern on the evening before D: Monday's on
    Sunday evening, none on Friday or Saturday evening. So from Friday 20:00 to Sunday 20:00 the newest
    listing is Friday's, and from 20:00 on a weekday evening it is the next weekday's. Holidays are not
    modelled.
    """
    day = listing_day_of(now) + timedelta(days=1)  # the latest listing that can be out: tomorrow's, after 20:00
    while not (is_announcement_weekday(day) and announced_at(day) <= now):
        day -= timedelta(days=1)
    return day


def submission_window(day: date) -> tuple[datetime, datetime] | None:
    """Return the US-Eastern [start, end) submission window announced in `day`'s listing, or None on weekends.

    An approximation of arXiv's schedule: submissions close at 14:00 ET on weekdays and are announced
    at 20:00 ET Sunday-Thursday; the listing is dated the day after the announcement. So a listing on

        Mon  covers  Thu 14:00 -> Fri 14:00      Thu  covers  Tue 14:00 -> Wed 14:00
        Tue  covers  Fri 14:00 -> Mon 14:00      Fri  covers  Wed 14:00 -> Thu 14:00
        Wed  covers  Mon 14:00 -> Tue 14:00      Sat, Sun: no listing

    Holidays (announcements skipped or shifted), papers put on hold by moderators, and late
    replacements are not modelled, so a back-filled day can differ slightly from the real listing.
    """
    if not is_announcement_weekday(day):
        return None
    weekday = day.weekday()  # Mon=0 .. Sun=6
    end_day = day - timedelta(days=3 if weekday == 0 else 1)  # Mon -> previous Fri, else the day before
    start_day = end_day - timedelta(days=3 if end_day.weekday() == 0 else 1)  # Mon -> previous Fri
    start = datetime.combine(start_day, CUTOFF, tzinfo=ARXIV_TZ)
    end = datetime.combine(end_day, CUTOFF, tzinfo=ARXIV_TZ)
    return start, end
