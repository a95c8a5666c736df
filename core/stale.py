"""What a stored subscription still means when some of its values no longer load (pure).

A subscription is written once and read for years: since then a field may have left the fields file, a
time zone may have left the tz database (or been written by an older version or by hand), a delivery time
or language may be malformed. One such row must never sink a delivery pass or a command, nor silently
empty a chat's digest. `check_subscription` reads a stored subscription against today's fields and
defaults and returns the settings the chat is served with, what had to change, and the notes that tell
the chat so in its language. It must not touch the store or read the clock: the delivery pass puts the
notes at the top of the chat's digest and, once they are delivered, stores the repaired values.

An unloadable time zone is delivered in the default one (DIGEST_TIMEZONE, else UTC) at the chat's own
HH:MM, not skipped: a skipped chat gets nothing and never learns why, while this way it gets its digest,
a few hours off at worst, with a note naming its stored zone and /timezone. That zone is kept, not
rewritten, and noted in each digest until it loads again or the chat sets another: the fault may be the
host's tz database (tzdata missing or older than the name), and once that is fixed the chat's own zone
applies again. A removed field, a malformed time or an unknown language can never become valid again, so
those are told once and then rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.config import Settings
from core.models import LANGUAGES, Block, Field, Heading, Note, Subscription

FALLBACK_TIMEZONE = "UTC"
_SHOWN = 40  # a stored value quoted back to the chat is cut to this many characters

TEXT = {
    "zh": {
        "removed": "⚠️ 你关注的方向 {slugs} 已从本服务移除，现在推送：{names}。用 /field 修改。",
        "all": "所有方向",
        "timezone": "⚠️ 你设置的时区 {value} 无法加载，推荐按 {tz} 的 {time} 推送。用 /timezone 重新设置。",
        "time": "⚠️ 你设置的推送时间 {value} 无法识别，已改为 {time}。用 /time 修改。",
        "lang": "⚠️ 本聊天的语言设置 {value} 无法识别，已改为中文。用 /lang 修改。",
    },
    "en": {
        "removed": "⚠️ The field {slugs} you followed was removed from this service; your digest now covers: "
                   "{names}. Change it with /field.",
        "removed_many": "⚠️ The fields {slugs} you followed were removed from this service; your digest now "
                        "covers: {names}. Change it with /field.",
        "all": "all fields",
        "timezone": "⚠️ Your time zone {value} can no longer be loaded, so your digest comes at {time} {tz}. "
                    "Set it again with /timezone.",
        "time": "⚠️ Your delivery time {value} could not be read; it is now {time}. Change it with /time.",
        "lang": "⚠️ This chat's language {value} is not one we speak; it is now English. Change it with /lang.",
    },
}


@lru_cache(maxsize=1024)  # about 600 names in the tz database
def _load(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("America") or unreadable file
        return False
    return True


def timezone_loads(name: str) -> bool:
    """Whether `name` loads as a time zone here (never raises: any malformed text is just False)."""
    return isinstance(name, str) and bool(name) and "\x00" not in name and _load(name)


def time_reads(value: str) -> bool:
    """Whether `value` is a delivery time HH:MM (or H:MM) of a 24-hour day."""
    hour, sep, minute = value.partition(":") if isinstance(value, str) else ("", "", "")
    if not sep or not (hour.isascii() and hour.isdigit() and minute.isascii() and minute.isdigit()):
        return False
    return len(minute) == 2 and 0 <= int(hour) < 24 and 0 <= int(minute) < 60


@dataclass(frozen=True, slots=True)
class CheckedSubscription:
    """A stored subscription as it can be served today."""

    sub: Subscription  # what the chat is served with
    stored: Subscription  # as stored
    removed_fields: tuple[str, ...] = ()
    bad_timezone: str | None = None
    bad_time: str | None = None
    bad_lang: str | None = None

    @property
    def stale(self) -> bool:
        bad = (self.bad_timezone, self.bad_time, self.bad_lang)
        return bool(self.removed_fields) or any(v is not None for v in bad)

    @property
    def repairable(self) -> bool:
        """Whether storing the served values would drop something that can never load again."""
        return bool(self.removed_fields) or self.bad_time is not None or self.bad_lang is not None

    def repaired(self) -> Subscription:
        """The stored subscription with what can never load again replaced (its time zone kept)."""
        return replace(self.stored, fields=self.sub.fields, digest_time=self.sub.digest_time, lang=self.sub.lang)

    def notes(self, fields: Sequence[Field]) -> tuple[str, ...]:
        """What changed, in the served language: one line per problem (none when nothing did)."""
        if self.sub is self.stored:
            return ()
        lang = self.sub.lang
        table = TEXT.get(lang, TEXT["en"])
        notes = []
        if self.removed_fields:
            names = {f.slug: f.name(lang) for f in fields}
            shown = ", ".join(names.get(s, s) for s in self.sub.fields) or table["all"]
            key = "removed_many" if len(self.removed_fields) > 1 and "removed_many" in table else "removed"
            notes.append(table[key].format(slugs=", ".join(_quote(s) for s in self.removed_fields), names=shown))
        if self.bad_lang is not None:
            notes.append(table["lang"].format(value=_quote(self.bad_lang)))
        if self.bad_time is not None:
            notes.append(table["time"].format(value=_quote(self.bad_time), time=self.sub.digest_time))
        if self.bad_timezone is not None:
            notes.append(table["timezone"].format(value=_quote(self.bad_timezone), tz=self.sub.timezone,
                                                  time=self.sub.digest_time))
        return tuple(notes)

    def describe(self) -> str:
        """The problems for a log line."""
        parts = []
        if self.removed_fields:
            parts.append(f"removed_fields={','.join(self.removed_fields)} now={','.join(self.sub.fields) or 'all'}")
        if self.bad_timezone is not None:
            parts.append(f"timezone={self.bad_timezone!r}->{self.sub.timezone}")
        if self.bad_time is not None:
            parts.append(f"digest_time={self.bad_time!r}->{self.sub.digest_time}")
        if self.bad_lang is not None:
            parts.append(f"lang={self.bad_lang!r}->{self.sub.lang}")
        return " ".join(parts)


def check_subscription(stored: Subscription, fields: Sequence[Field], settings: Settings) -> CheckedSubscription:
    """Read `stored` against the configured `fields` and a new chat's defaults (pure; never raises).

    Removed fields are dropped (all fields when none remain); a time zone that does not load becomes
    DIGEST_TIMEZONE (UTC when that does not load either); a malformed time becomes DIGEST_TIME; a language
    we do not speak becomes DIGEST_LANGUAGE.
    """
    known = {f.slug for f in fields}
    if (all(s in known for s in stored.fields) and stored.lang in LANGUAGES and time_reads(stored.digest_time)
            and timezone_loads(stored.timezone)):
        return CheckedSubscription(stored, stored)  # the usual case, kept cheap: a pass checks every chat
    timezone, digest_time, lang = settings.digest_timezone, settings.digest_time, settings.digest_language
    chosen = tuple(s for s in stored.fields if s in known)
    removed = tuple(s for s in stored.fields if s not in known)
    checked = CheckedSubscription(stored, stored)
    sub = stored
    if removed:
        sub = replace(sub, fields=chosen)
        checked = replace(checked, removed_fields=removed)
    if not timezone_loads(stored.timezone):
        sub = replace(sub, timezone=timezone if timezone_loads(timezone) else FALLBACK_TIMEZONE)
        checked = replace(checked, bad_timezone=str(stored.timezone))
    if not time_reads(stored.digest_time):
        sub = replace(sub, digest_time=digest_time if time_reads(digest_time) else "09:00")
        checked = replace(checked, bad_time=str(stored.digest_time))
    if stored.lang not in LANGUAGES:
        sub = replace(sub, lang=lang if lang in LANGUAGES else "en")
        checked = replace(checked, bad_lang=str(stored.lang))
    return replace(checked, sub=sub)


def with_notes(blocks: Sequence[Block], notes: Sequence[str]) -> list[Block]:
    """`blocks` with `notes` at the top, right under the digest's title."""
    at = 1 if blocks and isinstance(blocks[0], Heading) and blocks[0].level == 1 else 0
    return [*blocks[:at], *(Note(n) for n in notes), *blocks[at:]]


def _quote(value: str) -> str:
    value = value if len(value) <= _SHOWN else value[:_SHOWN - 1] + "…"
    return f"“{value}”"
