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

from core import pipeline
from core.digest import digest_blocks, format_score, short_authors
from core.errors import DigestError, SourceError
from core.models import Block, ChatRef, Heading, Note, PaperItem, Subscription
from core.pipeline import Services

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


# -- wording -------------------------------------------------------------------------------------

T = {
    "zh": {
        "intro": "我每天阅读 arXiv 上的新论文，按研究方向打分（1-10），把高分论文推送到这里。",
        "help_head": "命令：",
        "subscribed": "已订阅。每天 {time}（{tz}）推送，阈值 {score} 分。",
        "already": "本聊天已经订阅了。",
        "unsubscribed": "已取消订阅。设置已保留，/subscribe 可恢复。",
        "not_subscribed": "本聊天尚未订阅。",
        "fields_head": "所有研究方向（slug — 名称）：",
        "field_current": "本聊天的方向：{names}。点按钮切换，或 /field slug1 slug2 …",
        "all_fields": "全部方向",
        "field_set": "已设置方向：{names}。",
        "field_unknown": "未知方向：{slug}。{hint}/fields 查看全部。",
        "did_you_mean": "你是不是想输入：{names}？",
        "min_score_show": "当前阈值：{score} 分。用 /min_score 7.5 修改（1-10，可用 0.5）。",
        "min_score_set": "阈值已设为 {score} 分。",
        "min_score_bad": "阈值必须是 1 到 10 之间的数，可以是半分（如 7.5），收到：{arg}。当前阈值仍为 {score} 分。",
        "interests_show": "你的兴趣：{text}\n用 /interests clear 清除。",
        "interests_none": "尚未设置兴趣。用法：/interests diffusion LLMs, KV-cache compression, not medical imaging",
        "interests_set": "兴趣已保存，将作为“我的兴趣”单独评分：{text}",
        "interests_cleared": "兴趣已清除。",
        "interests_long": "兴趣太长（最多 {n} 个字符）。",
        "paper_usage": "用法：/paper 2601.08151 或 arXiv 链接。",
        "paper_missing": "找不到这篇论文：{error}",
        "search_usage": "用法：/search 关键词",
        "search_none": "没有找到匹配“{q}”的论文。",
        "search_head": "“{q}”的搜索结果：",
        "today_none": "还没有可用的推荐，请稍后再试。",
        "today_old": "今天的推荐还没准备好，以下是 {day} 的推荐。",
        "time_show": "每日推送时间：{time}（{tz}）。用 /time 08:30 修改。",
        "time_set": "每日推送时间已设为 {time}（{tz}）。",
        "time_bad": "时间格式应为 HH:MM（如 08:30），收到：{arg}。",
        "tz_show": "当前时区：{tz}。用 /timezone Asia/Shanghai 修改。",
        "tz_set": "时区已设为 {tz}。",
        "tz_bad": "未知时区：{arg}。请用 Area/City 格式，例如 Asia/Shanghai、Europe/Berlin。",
        "lang_show": "当前语言：{lang}。用 /lang zh 或 /lang en 修改。",
        "lang_set": "语言已设为中文。",
        "lang_bad": "只支持 zh 或 en，收到：{arg}。",
        "settings": "订阅：{active}\n方向：{names}\n阈值：{score} 分\n推送：每天 {time}（{tz}）\n语言：{lang}\n兴趣：{interests}",
        "yes": "是", "no": "否", "none": "无",
        "admins_only": "抱歉，只有群管理员可以修改本群的设置。",
        "unknown": "未知命令：{cmd}。/help 查看命令。",
        "error": "出错了：{error}",
        "voted_up": "已记录 👍", "voted_down": "已记录 👎",
        "scores_head": "各方向得分：",
        "summary_head": "摘要：",
        "best": "最佳方向",
    },
    "en": {
        "intro": "I read each day's new arXiv papers, score them against research fields (1-10) and post the best here.",
        "help_head": "Commands:",
        "subscribed": "Subscribed. The digest arrives daily at {time} ({tz}), threshold {score}.",
        "already": "This chat is already subscribed.",
        "unsubscribed": "Unsubscribed. Settings are kept; /subscribe brings them back.",
        "not_subscribed": "This chat is not subscribed.",
        "fields_head": "All fields (slug — name):",
        "field_current": "This chat's fields: {names}. Tap to toggle, or /field slug1 slug2 ...",
        "all_fields": "all fields",
        "field_set": "Fields set: {names}.",
        "field_unknown": "Unknown field: {slug}. {hint}See /fields.",
        "did_you_mean": "Did you mean: {names}? ",
        "min_score_show": "Threshold: {score}. Change it with /min_score 7.5 (1-10, halves allowed).",
        "min_score_set": "Threshold set to {score}.",
        "min_score_bad": "The threshold must be a number from 1 to 10 in steps of 0.5 (e.g. 7.5); got {arg}. It stays {score}.",
        "interests_show": "Your interests: {text}\nClear them with /interests clear.",
        "interests_none": "No interests set. Usage: /interests diffusion LLMs, KV-cache compression, not medical imaging",
        "interests_set": "Interests saved; they are scored as your own field, \"My interests\": {text}",
        "interests_cleared": "Interests cleared.",
        "interests_long": "Interests are too long (at most {n} characters).",
        "paper_usage": "Usage: /paper 2601.08151 or an arXiv link.",
        "paper_missing": "Could not find that paper: {error}",
        "search_usage": "Usage: /search words",
        "search_none": "No stored paper matches \"{q}\".",
        "search_head": "Results for \"{q}\":",
        "today_none": "No digest is available yet. Try again later.",
        "today_old": "Today's digest is not ready yet; here is the one for {day}.",
        "time_show": "Daily delivery at {time} ({tz}). Change it with /time 08:30.",
        "time_set": "Daily delivery set to {time} ({tz}).",
        "time_bad": "Time must be HH:MM (e.g. 08:30); got {arg}.",
        "tz_show": "Timezone: {tz}. Change it with /timezone Europe/Berlin.",
        "tz_set": "Timezone set to {tz}.",
        "tz_bad": "Unknown timezone: {arg}. Use Area/City, e.g. Europe/Berlin or America/New_York.",
        "lang_show": "Language: {lang}. Change it with /lang zh or /lang en.",
        "lang_set": "Language set to English.",
        "lang_bad": "Only zh or en are supported; got {arg}.",
        "settings": "Subscribed: {active}\nFields: {names}\nThreshold: {score}\nDelivery: daily at {time} ({tz})\nLanguage: {lang}\nInterests: {interests}",
        "yes": "yes", "no": "no", "none": "none",
        "admins_only": "Sorry, only group admins can change this group's settings.",
        "unknown": "Unknown command: {cmd}. See /help.",
        "error": "Something went wrong: {error}",
        "voted_up": "Noted 👍", "voted_down": "Noted 👎",
        "scores_head": "Scores per field:",
        "summary_head": "Summary:",
        "best": "best field",
    },
}


def say(language: str, key: str, **values: object) -> str:
    """One reply string in `language` (zh or en), filled in."""
    return T.get(language, T["en"])[key].format(**values)


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
        return _info(say(sub.lang, "interests_set", text=text))

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
