"""Platform-neutral chat commands: (text, Caller, services) -> Reply. One implementation per command.

Telegram and Slack adapters turn their events into a command line (`/field efficient-llm`) and a Caller, call `handle`
or `handle_action`, and spell the Reply's neutral blocks and buttons in their own markup. Everything a command *means*
(arguments, validation, wording, which settings change, who may change them) lives here; this module imports no
platform library. Parsing: bot/parsing.py; reply shapes: bot/replies.py; /why: bot/why.py; /weekly: bot/weekly.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace

from bot.chats import ChatEvents
from bot.follows import FollowCommands
from bot.interests import interests_reply
from bot.parsing import closest_slugs, parse_command, parse_min_score, parse_time, parse_timezone
from bot.replies import ActionResult, Button, Caller, IsAdmin, Reply, field_names, info, vote_buttons
from bot.texts import say
from bot.weekly import WeeklyCommands
from bot.why import why_reply
from core.build.digest import digest_blocks, format_score, paper_item
from core.calendar import latest_listing_day
from core.errors import (
    ConfigError,
    DeliveryError,
    DigestError,
    ScoringError,
    SourceError,
    SourceUnavailable,
    StoreError,
)
from core.lookup import lookup_paper, search_papers
from core.models import Block, Heading, Note, Subscription
from core.prepare.explain import explain_paper
from core.score.glossary import CJK, english_phrase
from core.score.profile import parse_interests
from core.searchwords import search_words
from core.services import Services, uses_llm
from core.stale import CheckedSubscription, check_subscription, timezone_loads, with_notes
from core.views import digest_for_subscription

# The command layer's face to the adapters: the reply shapes (bot/replies.py) and `say` (bot/texts.py) come
# with it, so an adapter imports from here only.
__all__ = ["COMMANDS", "ActionResult", "Button", "Caller", "Commands", "IsAdmin", "Reply", "failure_text", "menu",
           "say", "vote_buttons"]

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
    ("follow", "Follow an author: /follow Yann LeCun", "关注作者：/follow Yann LeCun"),
    ("unfollow", "Stop following an author", "取消关注作者"),
    ("paper", "Show one paper: /paper 2601.08151", "查看一篇论文：/paper 2601.08151"),
    ("why", "Why a paper scored so for you: /why 2601.08151", "这篇论文为何得此分：/why 2601.08151"),
    ("search", "Search stored papers", "搜索已收录的论文"),
    ("today", "Today's digest, now", "立即发送今日推荐"),
    ("weekly", "The past week's best with a chart; on/off: every Monday", "过去一周精选和图表；on/off：每周一推送"),
    ("time", "Daily delivery time, HH:MM", "每日推送时间 HH:MM"),
    ("timezone", "Your timezone, e.g. Europe/Berlin", "时区，例如 Asia/Shanghai"),
    ("lang", "Language: zh or en", "语言：zh 或 en"),
    ("settings", "This chat's settings", "本聊天的设置"),
)
# Commands that change the chat's settings when given an argument (in groups: admins only).
MUTATING = frozenset({"subscribe", "unsubscribe", "field", "min_score", "interests", "follow", "unfollow", "time",
                      "timezone", "lang"})
MAX_INTERESTS = 500
SEARCH_LIMIT = 10

# What failed, in words a chat user can act on: never an exception's repr, a URL or a file path.
FAILURE_KEYS: tuple[tuple[type[DigestError], str], ...] = (
    (SourceUnavailable, "arxiv_down"), (ScoringError, "llm_down"), (StoreError, "store_down"),
    (DeliveryError, "platform_down"), (ConfigError, "setup_error"),
)


def failure_text(lang: str, exc: DigestError) -> str:
    """A chat reply saying what failed. Other SourceErrors (no such paper, not an id) are written for people."""
    for kind, key in FAILURE_KEYS:
        if isinstance(exc, kind):
            return say(lang, key)
    return say(lang, "error", error=str(exc))


class Commands(FollowCommands, ChatEvents, WeeklyCommands):
    """The command set over one Services; adapters hold one instance."""

    def __init__(self, services: Services) -> None:
        self.services = services

    # -- entry points ------------------------------------------------------------------------------

    async def handle(self, text: str, caller: Caller) -> Reply:
        """Answer one command line. Never raises a DigestError: it becomes a short message."""
        name, arg = parse_command(text)
        checked = await self.checked(caller)
        sub = checked.sub
        lang = sub.lang
        handler = getattr(self, f"cmd_{name}", None) if name else None
        if handler is None:
            return info(say(lang, "unknown", cmd=text.split()[0] if text.split() else text), kind="error")
        changes = name in ("subscribe", "unsubscribe") or (name in MUTATING and bool(arg))
        if changes and caller.is_group and not await caller.is_admin():
            return info(say(lang, "admins_only"), kind="error")
        try:
            reply: Reply = await handler(arg, caller, sub)
            return _told(reply, checked, name or "", changes, self.services) if checked.stale else reply
        except DigestError as exc:
            log.warning("command %s failed for %s: %s", name, caller.chat, exc)
            return info(failure_text(lang, exc), kind="error")

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
            await self._save(sub, caller)
            return ActionResult(say(sub.lang, "field_set", names=self._names(sub)), self._field_menu(sub))
        return ActionResult("?")

    # -- state -------------------------------------------------------------------------------------

    async def subscription(self, caller: Caller) -> Subscription:
        """The chat's settings as they can be served (core/stale.py), or the defaults (inactive) for a new chat."""
        return (await self.checked(caller)).sub

    async def checked(self, caller: Caller) -> CheckedSubscription:
        """The chat's stored settings read against today's fields and defaults (a new chat: the defaults)."""
        found = await self.services.store.get_subscription(caller.chat)
        if found is not None:
            return check_subscription(found, self.services.fields, self.services.settings)
        s = self.services.settings
        hint = caller.language_hint.lower()[:2]
        lang = hint if hint in ("zh", "en") else s.digest_language
        new = Subscription(caller.chat, active=False, min_score=s.min_score, lang=lang,
                           digest_time=s.digest_time, timezone=s.digest_timezone)
        return CheckedSubscription(new, new)

    async def _save(self, sub: Subscription, caller: Caller, *, timezone_set: bool = False) -> None:
        if not timezone_set:  # a stored time zone that does not load is kept until it does (core/stale.py)
            stored = await self.services.store.get_subscription(caller.chat)
            if stored is not None and not timezone_loads(stored.timezone):
                sub = replace(sub, timezone=stored.timezone)
        await self.services.store.save_subscription(sub, caller.now)

    def _names(self, sub: Subscription) -> str:
        return field_names(self.services.fields, sub)

    def _field_menu(self, sub: Subscription) -> Reply:
        chosen = set(sub.fields) or {f.slug for f in self.services.fields}
        rows = tuple(
            (Button(("✅ " if f.slug in chosen else "▫️ ") + f.name(sub.lang), "field", f.slug),)
            for f in self.services.fields
        )
        return info(say(sub.lang, "field_current", names=self._names(sub)), buttons=rows)

    # -- commands ----------------------------------------------------------------------------------

    async def cmd_start(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        return await self.cmd_help(arg, caller, sub)

    async def cmd_help(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        lang = sub.lang
        lines = [f"/{name} — {zh if lang == 'zh' else en}" for name, en, zh in COMMANDS]
        return info(say(lang, "intro"), say(lang, "help_head") + "\n" + "\n".join(lines))

    async def cmd_subscribe(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if sub.active:
            return info(say(sub.lang, "already"))
        sub = replace(sub, active=True)
        await self._save(sub, caller)
        return info(say(sub.lang, "subscribed", time=sub.digest_time, tz=sub.timezone,
                         score=format_score(sub.min_score)))

    async def cmd_unsubscribe(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not sub.active:
            return info(say(sub.lang, "not_subscribed"))
        await self._save(replace(sub, active=False), caller)
        return info(say(sub.lang, "unsubscribed"))

    async def cmd_fields(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        lines = [f"{f.slug} — {f.name(sub.lang)}" for f in self.services.fields]
        return info(say(sub.lang, "fields_head"), "\n".join(lines))

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
                return info(say(sub.lang, "field_unknown", slug=slug, hint=hint), kind="error")
        chosen = tuple(s for s in slugs if s in wanted)
        sub = replace(sub, fields=() if set(chosen) == set(slugs) else chosen)
        await self._save(sub, caller)
        return info(say(sub.lang, "field_set", names=self._names(sub)))

    async def cmd_min_score(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return info(say(sub.lang, "min_score_show", score=format_score(sub.min_score)))
        value = parse_min_score(arg)
        if value is None:
            return info(say(sub.lang, "min_score_bad", arg=arg, score=format_score(sub.min_score)), kind="error")
        sub = replace(sub, min_score=value)
        await self._save(sub, caller)
        return info(say(sub.lang, "min_score_set", score=format_score(value)))

    async def cmd_interests(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            if sub.interests:
                return info(say(sub.lang, "interests_show", text=sub.interests))
            return info(say(sub.lang, "interests_none"))
        if arg.lower() in ("clear", "none", "off", "清除"):
            await self._save(replace(sub, interests=""), caller)
            return info(say(sub.lang, "interests_cleared"))
        if len(arg) > MAX_INTERESTS:
            return info(say(sub.lang, "interests_long", n=MAX_INTERESTS), kind="error")
        text = " ".join(arg.split())
        profile = parse_interests(text)
        if not (profile.has_interests or profile.avoid or profile.watch):  # e.g. "？？？": nothing to match
            return info(say(sub.lang, "interests_empty", text=text), kind="error")
        await self._save(replace(sub, interests=text), caller)
        return interests_reply(profile, sub.lang, offline=not uses_llm(self.services, False))

    async def cmd_paper(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return info(say(sub.lang, "paper_usage"), kind="error")
        try:
            view = await lookup_paper(self.services, arg.split()[0], now=caller.now, lang=sub.lang)
        except SourceUnavailable as exc:
            log.warning("/paper for %s: %s", caller.chat, exc)
            return info(failure_text(sub.lang, exc), kind="error")
        except SourceError as exc:
            return info(say(sub.lang, "paper_missing", error=str(exc)), kind="error")
        p, s = view.paper, view.score
        names = {f.slug: f.name(sub.lang) for f in self.services.fields}
        blocks: list[Block] = [paper_item(p, s, s.field_slug or "", sub.lang)]
        wanted = set(sub.fields) or set(names)
        per_field = sorted(((v, slug) for slug, v in s.field_scores.items() if slug in wanted), reverse=True)
        if per_field:
            lines = [f"{format_score(v)} — {names.get(slug, slug)}" for v, slug in per_field]
            blocks.append(Note(say(sub.lang, "scores_head") + "\n" + "\n".join(lines)))
        blocks.append(Note(say(sub.lang, "summary_head") + " " + view.summary))
        return Reply(tuple(blocks), buttons=(vote_buttons(p.arxiv_id),))

    async def cmd_why(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return info(say(sub.lang, "why_usage"), kind="error")
        try:
            why = await explain_paper(self.services, sub, arg.split()[0], now=caller.now)
        except SourceUnavailable as exc:
            log.warning("/why for %s: %s", caller.chat, exc)
            return info(failure_text(sub.lang, exc), kind="error")
        except SourceError as exc:
            return info(say(sub.lang, "why_missing", error=str(exc)), kind="error")
        return why_reply(self.services, sub, why)

    async def cmd_search(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return info(say(sub.lang, "search_usage"), kind="error")
        words, read = arg, ()
        if CJK.search(arg):  # papers are in English: Chinese terms are searched through the glossary
            words = english_phrase(arg)
            if not words:
                return info(say(sub.lang, "search_chinese", q=arg))
            read = (say(sub.lang, "search_read", words=words),)
        if not search_words(words):
            return info(say(sub.lang, "search_common" if search_words(words, common=True) else "search_usage", q=arg),
                        kind="error")
        hits = await search_papers(self.services, words, limit=SEARCH_LIMIT)
        if not hits:
            return info(say(sub.lang, "search_none", q=arg), *read)
        blocks: list[Block] = [Heading(say(sub.lang, "search_head", q=arg), level=2), *map(Note, read)]
        blocks.extend(paper_item(paper, score, (score.field_slug or "") if score else "", sub.lang)
                      for paper, score in hits)
        return Reply(tuple(blocks))

    async def cmd_today(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        digest = await digest_for_subscription(self.services, sub, now=caller.now)
        if digest is None:
            return info(say(sub.lang, "today_none"))
        blocks = digest_blocks(digest, sub.timezone)
        if digest.day < latest_listing_day(caller.now):  # arXiv has announced a newer listing than the stored one
            blocks = [Note(say(sub.lang, "today_old", day=digest.day.isoformat())), *blocks]
        return Reply(tuple(blocks), kind="digest")

    async def cmd_time(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return info(say(sub.lang, "time_show", time=sub.digest_time, tz=sub.timezone))
        value = parse_time(arg)
        if value is None:
            return info(say(sub.lang, "time_bad", arg=arg), kind="error")
        sub = replace(sub, digest_time=value)
        await self._save(sub, caller)
        return info(say(sub.lang, "time_set", time=value, tz=sub.timezone))

    async def cmd_timezone(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return info(say(sub.lang, "tz_show", tz=sub.timezone))
        value = parse_timezone(arg)
        if value is None:
            return info(say(sub.lang, "tz_bad", arg=arg), kind="error")
        await self._save(replace(sub, timezone=value), caller, timezone_set=True)
        return info(say(sub.lang, "tz_set", tz=value))

    async def cmd_lang(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        if not arg:
            return info(say(sub.lang, "lang_show", lang=sub.lang))
        value = arg.strip().lower()
        if value not in ("zh", "en"):
            return info(say(sub.lang, "lang_bad", arg=arg), kind="error")
        await self._save(replace(sub, lang=value), caller)
        return info(say(value, "lang_set"))

    async def cmd_settings(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        lang = sub.lang
        follows = ", ".join(name for _, name in await self.services.store.get_follows(caller.chat))
        return info(say(
            lang, "settings", active=say(lang, "yes" if sub.active else "no"), names=self._names(sub),
            score=format_score(sub.min_score), time=sub.digest_time, tz=sub.timezone, lang=lang,
            interests=sub.interests or say(lang, "none"), follows=follows or say(lang, "none"),
            weekly=await self.weekly_status(caller, sub),
        ))


def menu(lang: str) -> Sequence[tuple[str, str]]:
    """(command, description) pairs for a platform's command menu."""
    return [(name, zh if lang == "zh" else en) for name, en, zh in COMMANDS]


# What a command that sets one value makes moot: its own note about that value's stored form.
_SETS = {"field": "removed_fields", "timezone": "bad_timezone", "time": "bad_time", "lang": "bad_lang"}


def _told(reply: Reply, checked: CheckedSubscription, name: str, changes: bool, services: Services) -> Reply:
    """`reply` with the notes on stored settings that no longer load, where the chat should see them.

    /settings and /today always tell; a command that saves the settings tells too, since saving stores
    the served values over the stale ones (bar the one it just set).
    """
    if name not in ("settings", "today") and (not changes or name == "unsubscribe" or reply.kind == "error"):
        return reply
    if changes and name in _SETS:
        checked = replace(checked, **{_SETS[name]: () if name == "field" else None})
    notes = checked.notes(services.fields)
    if not notes:
        return reply
    if reply.kind == "digest":
        return replace(reply, blocks=tuple(with_notes(reply.blocks, notes)))
    return replace(reply, blocks=(*(Note(n) for n in notes), *reply.blocks))
