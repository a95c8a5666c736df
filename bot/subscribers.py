"""The operator's subscription commands: `subscribe`, `unsubscribe` and `subscribers`, for every platform.

Owns what a subscription target is on the command line (`PLATFORM:ID`, checked by that platform's rule:
an email address, a Telegram chat id, a Slack channel id; a new platform adds one entry to TARGETS, and
its own options, such as a Feishu webhook's `--secret`, to `add_arguments`) and the options' checks, which
reuse bot/parsing.py's validators so a chat's /time and the CLI's --time accept the same text. A new
subscription starts from the same defaults a chat gets; an existing one keeps every setting not given.
Unsubscribing keeps the settings, as /unsubscribe does.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.feishu.target import EXAMPLE, parse_feishu_target, parse_webhook_url, show_webhook
from bot.feishu.target import PLATFORM as FEISHU
from bot.parsing import closest_slugs, parse_min_score, parse_time, parse_timezone
from core.build.digest import format_score
from core.errors import ConfigError
from core.models import LANGUAGES, ChatRef, Subscription
from core.prepare.day import latest_digest_day
from core.services import Services

MAX_EMAIL = 254  # RFC 5321's limit on a forward path
EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
DOMAIN_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,20}")
SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{6,20}")


def parse_email(text: str) -> str:
    """A bare address, its domain lower-cased (and IDNA-encoded), else ValueError saying what is wrong."""
    address = text.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an email address: {address!r} (expected name@example.org)")
    if not EMAIL_LOCAL.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError(f"the part before @ of {address!r} is not a plain mailbox name "
                         "(letters, digits and .!#$%&'*+/=?^_`{|}~- only)")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        raise ValueError(f"the domain of {address!r} is not a valid host name") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValueError(f"the domain of {address!r} is not a valid host name (e.g. example.org)")
    normalised = f"{local}@{ascii_domain}"
    if len(normalised) > MAX_EMAIL:
        raise ValueError(f"{address!r} is longer than {MAX_EMAIL} characters")
    return normalised


def parse_telegram(text: str) -> str:
    if not TELEGRAM_CHAT.fullmatch(text.strip()):
        raise ValueError(f"not a Telegram chat id: {text!r} (a number, negative for groups: the bot's /settings"
                         " or getUpdates shows it)")
    return str(int(text))


def parse_slack(text: str) -> str:
    channel = text.strip()
    if not SLACK_CHANNEL.fullmatch(channel):
        raise ValueError(f"not a Slack channel id: {channel!r} (an id like C0123ABCD, not a #name: the channel's"
                         " details show it at the bottom)")
    return channel


@dataclass(frozen=True, slots=True)
class Target:
    """How one platform's subscription id is written and checked on the command line."""

    example: str
    parse: Callable[[str], str]


TARGETS: dict[str, Target] = {
    "email": Target("email:reader@example.org", parse_email),
    "telegram": Target("telegram:-1001234567890", parse_telegram),
    "slack": Target("slack:C0123ABCD", parse_slack),
    "feishu": Target(EXAMPLE, parse_webhook_url),
}
# The setting without which a platform's subscribers get nothing (`subscribe` says so).
SENDER_SETTING = {"email": "smtp_host", "telegram": "telegram_bot_token", "slack": "slack_bot_token"}


def parse_target(text: str) -> ChatRef:
    """`PLATFORM:ID` as a ChatRef (the id may hold colons: a URL's). An argparse type."""
    platform, colon, rest = text.partition(":")
    platform = platform.strip().lower()
    if not colon or platform not in TARGETS:
        forms = ", ".join(t.example for t in TARGETS.values())
        raise argparse.ArgumentTypeError(f"not a subscription: {text!r}; write PLATFORM:ID, e.g. {forms}")
    try:
        return ChatRef(platform, TARGETS[platform].parse(rest))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _checked(parse: Callable[[str], object], what: str) -> Callable[[str], object]:
    def check(text: str) -> object:
        value = parse(text)
        if value is None:
            raise argparse.ArgumentTypeError(f"{what}: {text!r}")
        return value
    return check


def _lang(text: str) -> str:
    if text.strip().lower() not in LANGUAGES:
        raise argparse.ArgumentTypeError(f"must be {' or '.join(LANGUAGES)}: {text!r}")
    return text.strip().lower()


def add_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `subscribe`, `unsubscribe` and `subscribers` on the CLI's subcommands."""
    forms = " | ".join(f"{name}:ID" for name in TARGETS)
    subscribe = sub.add_parser("subscribe", help="add a subscriber (or change one): email, Telegram, Slack or Feishu",
                               description=f"Subscribe {forms} to the daily digest, or change its settings.")
    subscribe.add_argument("target", type=parse_target, metavar="PLATFORM:ID",
                           help=", ".join(t.example for t in TARGETS.values()))
    subscribe.add_argument("--fields", metavar="SLUG,...", help="fields to receive, comma-separated; all: every field")
    subscribe.add_argument("--min-score", type=_checked(parse_min_score, "must be 1-10 in steps of 0.5"),
                           metavar="N", help="threshold 1-10 in steps of 0.5 (default MIN_SCORE)")
    subscribe.add_argument("--lang", type=_lang, help="zh or en (default DIGEST_LANGUAGE)")
    subscribe.add_argument("--time", type=_checked(parse_time, "must be HH:MM (24-hour)"), metavar="HH:MM",
                           help="delivery time in --timezone (default DIGEST_TIME)")
    subscribe.add_argument("--timezone", type=_checked(parse_timezone, "not a time zone like Europe/Berlin"),
                           metavar="AREA/CITY", help="IANA time zone (default DIGEST_TIMEZONE)")
    subscribe.add_argument("--secret", metavar="SECRET", help="feishu: only: the custom bot's signing secret, when"
                           " it verifies signatures; - reads it from stdin, out of the shell's history and ps"
                           " ('' removes it; not given: the stored one is kept)")
    unsubscribe = sub.add_parser("unsubscribe", help="stop a subscriber's digest (its settings are kept)")
    unsubscribe.add_argument("target", type=parse_target, metavar="PLATFORM:ID")
    listing = sub.add_parser("subscribers", help="every subscription of every platform, active or not")
    listing.add_argument("--platform", choices=sorted(TARGETS), help="only this platform's")


def _fields(services: Services, text: str) -> tuple[str, ...]:
    slugs = [f.slug for f in services.fields]
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words or words == ["all"]:
        return ()
    unknown = [w for w in words if w not in slugs]
    if unknown:
        hints = "; ".join(f"{w!r} (did you mean {', '.join(closest_slugs(w, slugs))}?)" for w in unknown)
        raise ConfigError(f"unknown field {hints}; the fields are: {', '.join(slugs)}")
    chosen = set(words)
    return () if chosen == set(slugs) else tuple(s for s in slugs if s in chosen)


def where(chat: ChatRef) -> str:
    """`platform:id` as listings show it: a Feishu webhook with its token cut short (the URL lets anyone post)."""
    return f"{chat.platform}:{show_webhook(chat.chat_id) if chat.platform == FEISHU else chat.chat_id}"


def describe(sub: Subscription) -> str:
    """One line: where, state, language, threshold, time and zone, fields."""
    state = "active" if sub.active else "inactive"
    fields = ",".join(sub.fields) if sub.fields else "all"
    interests = f"  interests={sub.interests!r}" if sub.interests.strip() else ""
    return (f"{where(sub.chat)}  {state}  lang={sub.lang}  min-score={format_score(sub.min_score)}"
            f"  time={sub.digest_time} {sub.timezone}  fields={fields}{interests}")


async def cmd_subscribe(services: Services, args: argparse.Namespace, now: datetime) -> int:
    store, settings = services.store, services.settings
    secret = getattr(args, "secret", None)
    secret_given = secret is not None
    if secret is not None:
        if args.target.platform != FEISHU:
            raise ConfigError(f"--secret is for feishu: webhooks, not {args.target.platform}:")
        if secret == "-":
            secret = sys.stdin.readline().strip()
        try:
            secret = parse_feishu_target(args.target.chat_id, secret).secret
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    found = await store.get_subscription(args.target)
    sub = found or Subscription(args.target, min_score=settings.min_score, lang=settings.digest_language,
                                digest_time=settings.digest_time, timezone=settings.digest_timezone)
    changes: dict[str, object] = {"active": True}
    if args.fields is not None:
        changes["fields"] = _fields(services, args.fields)
    for option, name in (("min_score", "min_score"), ("lang", "lang"), ("time", "digest_time"),
                         ("timezone", "timezone")):
        if getattr(args, option) is not None:
            changes[name] = getattr(args, option)
    new = replace(sub, **changes)  # type: ignore[arg-type]
    await store.save_subscription(new, now)
    if args.target.platform == FEISHU and (secret_given or found is None):
        await store.save_webhook_secret(args.target, secret, now)  # a new webhook starts with none but the one given
    verb = "subscribed" if found is None else "resubscribed" if not found.active else "updated"
    print(f"{verb}: {describe(new)}")
    setting = SENDER_SETTING.get(args.target.platform)
    if setting and not getattr(settings, setting):
        print(f"arxiv-digest: note: {setting.upper()} is not set, so {args.target.platform} subscribers get nothing"
              " until it is", file=sys.stderr)
    return 0


async def cmd_unsubscribe(services: Services, args: argparse.Namespace, now: datetime) -> int:
    found = await services.store.get_subscription(args.target)
    if found is None:
        print(f"arxiv-digest: no subscription for {where(args.target)}", file=sys.stderr)
        return 1
    if found.active:
        await services.store.set_active(args.target, False, now)
        print(f"unsubscribed: {where(args.target)} (settings kept; subscribe again to resume)")
    else:
        print(f"already unsubscribed: {where(args.target)}")
    return 0


async def cmd_subscribers(services: Services, args: argparse.Namespace, now: datetime) -> int:
    subs = await services.store.list_subscriptions(active_only=False, platform=args.platform)
    if not subs:
        print("no subscriptions", file=sys.stderr)
        return 0
    # The latest digest day's ledger: an operator sees what happened to each, e.g. why an address went inactive.
    day = await latest_digest_day(services, now)
    ledger = await services.store.deliveries_for_day(day) if day is not None else {}
    for sub in subs:
        row = ledger.get(sub.chat)
        last = ""
        if day is not None:
            last = f"  {day}: {row.state if row else 'not sent'}"
            if row is not None and row.state == "failed" and row.last_error:
                last += f" ({' '.join(row.last_error.split())[:120]})"
        print(describe(sub) + last)
    counts: dict[str, list[int]] = {}
    for sub in subs:
        counts.setdefault(sub.chat.platform, [0, 0])[0 if sub.active else 1] += 1
    print("; ".join(f"{platform}: {a} active, {i} inactive" for platform, (a, i) in sorted(counts.items())),
          file=sys.stderr)
    return 0
