"""Platform-neutral chat commands: (text, Caller, services) -> Reply. One implementation per command.

Telegram and Slack adapters turn their events into a command line (`/field efficient-llm`) and a
Caller, call `handle` or `handle_action`, and spell the Reply's neutral blocks and buttons in their
own markup. Everything a command *means* (arguments, validation, wording, which settings change,
who may change them) lives here; this module imports no platform library.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.texts import say
from core import pipeline
from core.build.digest import KEYWORDS_FIELD, clean_reason, digest_blocks, format_score, short_authors
from core.errors import DigestError, SourceError
from core.models import Adjustment, Block, ChatRef, Heading, Note, PaperItem, Score, Subscription
from core.pipeline import Services
from core.prepare.explain import explain_paper
from core.score.interests import parse_interests

log = logging.getLogger(__name__)

# (command, English description, Chinese description): the menu shown by setMyCommands and /help.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("start", "What this bot does", "这个机器人能做什么"),
    ("help", "List the commands", "命令列表"),
    ("subscribe", "Get the daily digest here", "在此订阅每日推荐"),
    ("unsubscribe", "Stop the daily digest", "取消每日推荐"),
    ("fields", "All research fields", "所有研究方向"),
    ("field", "Show or set this chat's fields", "查看或设置本聊天的方向"),
    ("min_score", "Set the score threshold (1-10)", "设置推荐阈值（1-10）"),
    ("interests", "Set personal interests in your own words", "用自己的话设置个人兴趣"),
    ("paper", "Show one paper: /paper 2601.08151", "查看一篇论文：/paper 2601.08151"),
    ("why", "Why a paper scored so for you: /why 2601.08151", "这篇论文为何得此分：/why 2601.08151"),
    ("search", "Search stored papers", "搜索已收录的论文"),
    ("today", "Today's digest, now", "立即发送今日推荐"),
    ("time", "Daily delivery time, HH:MM", "每日推送时间 HH:MM"),
    ("timezone", "Your timezone, e.g. Europe/Berlin", "时区，例如 Asia/Shanghai"),
    ("lang", "Language: zh or en", "语言：zh 或 en"),
    ("settings", "This chat's settings", "本聊天的设置"),
)
# Commands that change the chat's settings when given an argument (in groups: admins only).
MUTATING = frozenset({"subscribe", "unsubscribe", "field", "min_score", "interests", "time", "timezone", "lang"})
MAX_INTERESTS = 500
SEARCH_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a message. `action` and `value` come back to `handle_action` when pressed."""

    label: str
    action: str  # "vote" | "field"
    value: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers. `kind` tells adapters where it goes: "digest" is posted to the chat
    for everyone; "info" may be private (Slack: ephemeral)."""

    blocks: tuple[Block, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    kind: str = "info"  # "info" | "error" | "digest"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The answer to a button press: a short toast, and optionally a new version of the message."""

    toast: str
    reply: Reply | None = None


IsAdmin = Callable[[], Awaitable[bool]]


async def _always() -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command, from where. `is_admin` is asked only before a settings change."""

    chat: ChatRef
    now: datetime
    is_group: bool = False
    is_admin: IsAdmin = field(default=_always)
    language_hint: str = ""  # the user's client language, used until the chat sets /lang


def _info(*lines: str, kind: str = "info", buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
    return Reply(tuple(Note(line) for line in lines), buttons=buttons, kind=kind)


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
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    from zoneinfo import available_timezones

    lowered = {tz.lower(): tz for tz in available_timezones()}
    return lowered.get(name.lower())


class Commands:
    """The command set over one Services; adapters hold one instance."""

    def __init__(self, services: Services) -> None:
        self.services = services

    # -- entry points ------------------------------------------------------------------------------

    async def handle(self, text: str, caller: Caller) -> Reply:
        """Answer one command line. Never raises a DigestError: it becomes a short message."""
        name, arg = parse_command(text)
        sub = await self.subscription(caller)
        lang = sub.lang
        handler = getattr(self, f"cmd_{name}", None) if name else None
        if handler is None:
            return _info(say(lang, "unknown", cmd=text.split()[0] if text.split() else text), kind="error")
        changes = name in ("subscribe", "unsubscribe") or (name in MUTATING and bool(arg))
        if changes and caller.is_group and not await caller.is_admin():
            return _info(say(lang, "admins_only"), kind="error")
        try:
            reply: Reply = await handler(arg, caller, sub)
            return reply
        except DigestError as exc:
            log.warning("command %s failed for %s: %s", name, caller.chat, exc)
            return _info(say(lang, "error", error=str(exc)), kind="error")

    async def handle_action(self, action: str, value: str, caller: Caller) -> ActionResult:
        """Answer a button press: a vote on a paper, or a field toggle."""
        sub = await self.subscription(caller)
        if action == "vote":
            sign, _, arxiv_id = value.partition(":")
            vote = 1 if sign == "+1" else -1 if sign == "-1" else 0
            if not vote or not arxiv_id:
                return ActionResult("?")
            await self.services.store.save_vote(caller.chat, arxiv_id, vote, caller.now)
            return ActionResult(say(sub.lang, "voted_up" if vote > 0 else "voted_down"))
        if action == "field":
            if caller.is_group and not await caller.is_admin():
                return ActionResult(say(sub.lang, "admins_only"))
            slugs = [f.slug for f in self.services.fields]
            if value not in slugs:
                return ActionResult(say(sub.lang, "field_unknown", slug=value, hint=""))
            chosen = set(sub.fields or slugs)
            chosen.symmetric_difference_update({value})
            new_fields = tuple(s for s in slugs if s in chosen)
            if set(new_fields) == set(slugs):
                new_fields = ()
            sub = replace(sub, fields=new_fields)
            await self.services.store.save_subscription(sub, caller.now)
            return ActionResult(say(sub.lang, "field_set", names=self._names(sub)), self._field_menu(sub))
        return ActionResult("?")

    # -- state -------------------------------------------------------------------------------------

    async def subscription(self, caller: Caller) -> Subscription:
        """The chat's stored settings, or the defaults (inactive) for a chat never seen."""
        found = await self.services.store.get_subscription(caller.chat)
        if found is not None:
            return found
        s = self.services.settings
        hint = caller.language_hint.lower()[:2]
        lang = hint if hint in ("zh", "en") else s.digest_language
        return Subscription(caller.chat, active=False, min_score=s.min_score, lang=lang,
                            digest_time=s.digest_time, timezone=s.digest_timezone)

    async def _save(self, sub: Subscription, caller: Caller) -> None:
        await self.services.store.save_subscription(sub, caller.now)

    def _names(self, sub: Subscription) -> str:
        if not sub.fields:
            return say(sub.lang, "all_fields")
        names = {f.slug: f.name(sub.lang) for f in self.services.fields}
        return ", ".join(names.get(s, s) for s in sub.fields)

    def _field_menu(self, sub: Subscription) -> Reply:
        chosen = set(sub.fields) or {f.slug for f in self.services.fields}
        rows = tuple(
            (Button(("✅ " if f.slug in chosen else "▫️ ") + f.name(sub.lang), "field", f.slug),)
            for f in self.services.fields
        )
        return _info(say(sub.lang, "field_current", names=self._names(sub)), buttons=rows)

    # -- commands ----------------------------------------------------------------------------------

    async def cmd_start(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        return await self.cmd_help(arg, caller, sub)

    async def cmd_help(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        lang = sub.lang
        lines = [f"/{name} — {zh if lang == 'zh' else en}" for name, en, zh in COMMANDS]
        return _info(say(lang, "intro"), say(lang, "help_head") + "\n" + "\n".join(lines))

    async def cmd_subscribe(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if sub.active:
            return _info(say(sub.lang, "already"))
        sub = replace(sub, active=True)
        await self._save(sub, caller)
        return _info(say(sub.lang, "subscribed", time=sub.digest_time, tz=sub.timezone,
                         score=format_score(sub.min_score)))

    async def cmd_unsubscribe(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not sub.active:
            return _info(say(sub.lang, "not_subscribed"))
        await self._save(replace(sub, active=False), caller)
        return _info(say(sub.lang, "unsubscribed"))

    async def cmd_fields(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        lines = [f"{f.slug} — {f.name(sub.lang)}" for f in self.services.fields]
        return _info(say(sub.lang, "fields_head"), "\n".join(lines))

    async def cmd_field(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return self._field_menu(sub)
        slugs = [f.slug for f in self.services.fields]
        wanted = [w.strip().lower() for w in re.split(r"[\s,]+", arg) if w.strip()]
        if wanted in (["all"], ["*"]):
            wanted = []
        for slug in wanted:
            if slug not in slugs:
                close = closest_slugs(slug, slugs)
                hint = say(sub.lang, "did_you_mean", names=", ".join(close)) if close else ""
                return _info(say(sub.lang, "field_unknown", slug=slug, hint=hint), kind="error")
        chosen = tuple(s for s in slugs if s in wanted)
        sub = replace(sub, fields=() if set(chosen) == set(slugs) else chosen)
        await self._save(sub, caller)
        return _info(say(sub.lang, "field_set", names=self._names(sub)))

    async def cmd_min_score(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return _info(say(sub.lang, "min_score_show", score=format_score(sub.min_score)))
        value = parse_min_score(arg)
        if value is None:
            return _info(say(sub.lang, "min_score_bad", arg=arg, score=format_score(sub.min_score)), kind="error")
        sub = replace(sub, min_score=value)
        await self._save(sub, caller)
        return _info(say(sub.lang, "min_score_set", score=format_score(value)))

    async def cmd_interests(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            if sub.interests:
                return _info(say(sub.lang, "interests_show", text=sub.interests))
            return _info(say(sub.lang, "interests_none"))
        if arg.lower() in ("clear", "none", "off", "清除"):
            await self._save(replace(sub, interests=""), caller)
            return _info(say(sub.lang, "interests_cleared"))
        if len(arg) > MAX_INTERESTS:
            return _info(say(sub.lang, "interests_long", n=MAX_INTERESTS), kind="error")
        text = " ".join(arg.split())
        await self._save(replace(sub, interests=text), caller)
        profile = parse_interests(text)
        watch = ", ".join(profile.watch)
        if not profile.has_interests and watch:
            return _info(say(sub.lang, "interests_watch_only", terms=watch))
        lines = [say(sub.lang, "interests_set", text="; ".join(profile.interests) or text)]
        if watch:
            lines.append(say(sub.lang, "interests_watch", terms=watch))
        return _info(*lines)

    async def cmd_paper(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return _info(say(sub.lang, "paper_usage"), kind="error")
        try:
            view = await pipeline.lookup_paper(self.services, arg.split()[0], now=caller.now, lang=sub.lang)
        except SourceError as exc:
            return _info(say(sub.lang, "paper_missing", error=str(exc)), kind="error")
        p, s = view.paper, view.score
        names = {f.slug: f.name(sub.lang) for f in self.services.fields}
        blocks: list[Block] = [
            PaperItem(arxiv_id=p.arxiv_id, title=p.title, url=p.url, authors=short_authors(p.authors, sub.lang),
                      published=p.published, score=float(s.value or 0.0), why=s.reason,
                      field_slug=s.field_slug or "", stage=s.stage)
        ]
        wanted = set(sub.fields) or set(names)
        per_field = sorted(((v, slug) for slug, v in s.field_scores.items() if slug in wanted), reverse=True)
        if per_field:
            lines = [f"{format_score(v)} — {names.get(slug, slug)}" for v, slug in per_field]
            blocks.append(Note(say(sub.lang, "scores_head") + "\n" + "\n".join(lines)))
        blocks.append(Note(say(sub.lang, "summary_head") + " " + view.summary))
        return Reply(tuple(blocks), buttons=(vote_buttons(p.arxiv_id),))

    async def cmd_why(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        lang = sub.lang
        if not arg:
            return _info(say(lang, "why_usage"), kind="error")
        try:
            why = await explain_paper(self.services, sub, arg.split()[0], now=caller.now)
        except SourceError as exc:
            return _info(say(lang, "why_missing", error=str(exc)), kind="error")
        p, best = why.paper, why.field_score
        names = {f.slug: f.name(lang) for f in self.services.fields}
        names.update({KEYWORDS_FIELD.slug: KEYWORDS_FIELD.name(lang), pipeline.INTERESTS_SLUG: say(lang, "mine")})
        value = why.shown_value if why.shown_value is not None else (best.value if best and best.value else 0.0)
        blocks: list[Block] = [PaperItem(
            arxiv_id=p.arxiv_id, title=p.title, url=p.url, authors=short_authors(p.authors, lang),
            published=p.published, score=float(value), why="", field_slug=why.section or "",
            stage=best.stage if best else "")]
        blocks.append(Note(self._why_fields(sub, best, names)))
        if not sub.interests.strip() or not parse_interests(sub.interests).has_interests:
            interests = say(lang, "why_no_interests") if not sub.interests.strip() else ""
        elif why.interest_score is None or why.interest_score.value is None:
            interests = say(lang, "why_no_day")
        else:
            s = why.interest_score
            if s.stage == "llm":
                how = say(lang, "why_judged")
            elif s.stage in ("offline-fallback", "offline-budget"):
                how = say(lang, "why_unjudged")
            else:
                how = say(lang, "why_offline" if pipeline.uses_llm(self.services, False) else "why_offline_only")
            interests = say(lang, "why_interests", score=format_score(s.value or 0.0), how=how,
                            reason=clean_reason(s.reason)).strip()
        if interests:
            blocks.append(Note(interests))
        if why.watch_terms:
            blocks.append(Note(say(lang, "why_watch", terms=", ".join(why.watch_terms))))
        blocks.append(Note(self._why_votes(lang, why.adjustment)))
        if why.day is not None:
            threshold = format_score(sub.min_score)
            if why.section is not None:
                blocks.append(Note(say(lang, "why_shown", day=why.day.isoformat(), section=names.get(why.section, ""),
                                       score=format_score(why.shown_value or 0.0), threshold=threshold)))
            else:
                blocks.append(Note(say(lang, "why_hidden", day=why.day.isoformat(), threshold=threshold,
                                       names=self._names(sub))))
        return Reply(tuple(blocks), buttons=(vote_buttons(p.arxiv_id),))

    def _why_fields(self, sub: Subscription, best: Score | None, names: dict[str, str]) -> str:
        lang = sub.lang
        if best is None or best.value is None:
            return say(lang, "why_no_fields")
        wanted = set(sub.fields) or {f.slug for f in self.services.fields}
        per_field = sorted(((v, slug) for slug, v in best.field_scores.items() if slug in wanted), reverse=True)
        lines = []
        for v, slug in per_field:
            line = f"{format_score(v)} — {names.get(slug, slug)}"
            if slug == best.field_slug:
                line += f" ({say(lang, 'best')}): {clean_reason(best.reason)}"
            lines.append(line)
        if best.field_slug and best.field_slug not in best.field_scores and best.field_slug in wanted:
            lines.insert(0, f"{format_score(best.value)} — {names.get(best.field_slug, best.field_slug)}: "
                            f"{clean_reason(best.reason)}")
        return say(lang, "why_fields", stage=best.stage) + "\n" + "\n".join(lines or ["—"])

    @staticmethod
    def _why_votes(lang: str, adjustment: Adjustment | None) -> str:
        if adjustment is None:
            return say(lang, "why_no_vote")
        delta = f"{adjustment.delta:+.1f}"
        if adjustment.own_vote > 0:
            return say(lang, "why_vote_own_up", delta=delta.lstrip("+"))
        if adjustment.own_vote < 0:
            return say(lang, "why_vote_own_down")
        parts = []
        if adjustment.liked_id:
            parts.append(say(lang, "why_vote_like", title=_short(adjustment.liked_title),
                             sim=f"{adjustment.like_similarity:.2f}"))
        if adjustment.disliked_id:
            parts.append(say(lang, "why_vote_dislike", title=_short(adjustment.disliked_title),
                             sim=f"{adjustment.dislike_similarity:.2f}"))
        joiner = "；" if lang == "zh" else "; "
        return joiner.join(parts) + ("，" if lang == "zh" else ", ") + say(lang, "why_vote_delta", delta=delta)

    async def cmd_search(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return _info(say(sub.lang, "search_usage"), kind="error")
        hits = await pipeline.search_papers(self.services, arg, limit=SEARCH_LIMIT)
        if not hits:
            return _info(say(sub.lang, "search_none", q=arg))
        blocks: list[Block] = [Heading(say(sub.lang, "search_head", q=arg), level=2)]
        for paper, score in hits:
            blocks.append(PaperItem(
                arxiv_id=paper.arxiv_id, title=paper.title, url=paper.url,
                authors=short_authors(paper.authors, sub.lang), published=paper.published,
                score=float(score.value or 0.0) if score else 0.0, why=score.reason if score else "",
                field_slug=(score.field_slug or "") if score else "", stage=score.stage if score else "",
            ))
        return Reply(tuple(blocks))

    async def cmd_today(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        digest = await pipeline.digest_for_subscription(self.services, sub, now=caller.now)
        if digest is None:
            return _info(say(sub.lang, "today_none"))
        blocks = digest_blocks(digest, sub.timezone)
        today = pipeline.listing_day_of(caller.now)
        if digest.day < today and (caller.now.astimezone(pipeline.ARXIV_TZ).weekday() < 5):
            blocks = [Note(say(sub.lang, "today_old", day=digest.day.isoformat())), *blocks]
        return Reply(tuple(blocks), kind="digest")

    async def cmd_time(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return _info(say(sub.lang, "time_show", time=sub.digest_time, tz=sub.timezone))
        value = parse_time(arg)
        if value is None:
            return _info(say(sub.lang, "time_bad", arg=arg), kind="error")
        sub = replace(sub, digest_time=value)
        await self._save(sub, caller)
        return _info(say(sub.lang, "time_set", time=value, tz=sub.timezone))

    async def cmd_timezone(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return _info(say(sub.lang, "tz_show", tz=sub.timezone))
        value = parse_timezone(arg)
        if value is None:
            return _info(say(sub.lang, "tz_bad", arg=arg), kind="error")
        await self._save(replace(sub, timezone=value), caller)
        return _info(say(sub.lang, "tz_set", tz=value))

    async def cmd_lang(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return _info(say(sub.lang, "lang_show", lang=sub.lang))
        value = arg.strip().lower()
        if value not in ("zh", "en"):
            return _info(say(sub.lang, "lang_bad", arg=arg), kind="error")
        await self._save(replace(sub, lang=value), caller)
        return _info(say(value, "lang_set"))

    async def cmd_settings(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        lang = sub.lang
        return _info(say(
            lang, "settings", active=say(lang, "yes" if sub.active else "no"), names=self._names(sub),
            score=format_score(sub.min_score), time=sub.digest_time, tz=sub.timezone, lang=lang,
            interests=sub.interests or say(lang, "none"),
        ))

    # -- what adapters report and read (they never touch the store) ----------------------------

    async def chat_gone(self, chat: ChatRef, now: datetime, reason: str) -> None:
        """The platform says the chat is gone for us (bot blocked, removed, channel archived): deactivate
        its subscription, keeping its settings for when it comes back."""
        sub = await self.services.store.get_subscription(chat)
        if sub is not None and sub.active:
            await self.services.store.set_active(chat, False, now)
            log.warning("%s:%s subscription deactivated: %s", chat.platform, chat.chat_id, reason)

    async def chat_moved(self, old: ChatRef, new: ChatRef, now: datetime) -> None:
        """The chat has a new id (a Telegram group became a supergroup): its settings, votes and
        deliveries move with it."""
        log.info("%s chat %s moved to %s", old.platform, old.chat_id, new.chat_id)
        await self.services.store.move_subscription(old, new, now)

    async def subscribed_chats(self, platform: str, lang: str) -> list[tuple[Subscription, str]]:
        """Every active subscription on `platform`, with its fields' names in `lang` (Slack's App Home)."""
        names = {f.slug: f.name(lang) for f in self.services.fields}
        return [(sub, ", ".join(names.get(s, s) for s in sub.fields) or say(lang, "all_fields"))
                for sub in await self.services.store.list_subscriptions(platform=platform)]


def _short(title: str, limit: int = 80) -> str:
    """A title cut at a word, for one line of /why."""
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"


def closest_slugs(word: str, slugs: Sequence[str], n: int = 3) -> list[str]:
    """The `n` slugs most like `word`, best first: always some, so an error can name valid ones."""
    ranked = sorted(slugs, key=lambda s: (-difflib.SequenceMatcher(None, word, s).ratio(), s))
    return ranked[:n]


def vote_buttons(arxiv_id: str) -> tuple[Button, ...]:
    """The 👍/👎 pair under a paper."""
    return (Button("👍", "vote", f"+1:{arxiv_id}"), Button("👎", "vote", f"-1:{arxiv_id}"))


def menu(lang: str) -> Sequence[tuple[str, str]]:
    """(command, description) pairs for a platform's command menu."""
    return [(name, zh if lang == "zh" else en) for name, en, zh in COMMANDS]
