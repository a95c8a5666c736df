"""The /follow and /unfollow commands: which authors a chat follows. Part of the command layer (bot/commands.py).

`/follow NAME` follows an author (several: separated by ";" or new lines, since "Auer, Sören" has a comma),
`/follow` alone lists them, `/unfollow NAME` or `/follow -NAME` stops. Names are stored as written under a
spelling-blind key (core/score/authors.py); what a followed author does to a digest is core/build/digest.py's.
"""

from __future__ import annotations

import re

from bot.replies import Caller, Reply, info
from bot.texts import say
from core.models import Subscription
from core.score.authors import MAX_NAME, AuthorName, follow_key
from core.services import Services

MAX_FOLLOWS = 100


class FollowCommands:
    """The follow commands; `Commands` inherits them."""

    services: Services

    async def cmd_follow(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        names = _follow_names(arg)
        if not names:
            return await self._follow_list(caller, sub)
        drop = [n[1:].strip() for n in names if n.startswith("-")]
        add = [n for n in names if not n.startswith("-")]
        lines = []
        if drop:
            lines.append(await self._unfollow(drop, caller, sub))
        if add:
            lines.append(await self._follow(add, caller, sub))
        return info(*lines)

    async def cmd_unfollow(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        names = [n.lstrip("-").strip() for n in _follow_names(arg)]
        if not names:
            return await self._follow_list(caller, sub)
        return info(await self._unfollow(names, caller, sub))

    async def _follow_list(self, caller: Caller, sub: Subscription) -> Reply:
        follows = await self.services.store.get_follows(caller.chat)
        if not follows:
            return info(say(sub.lang, "follow_none"))
        return info(say(sub.lang, "follow_list", n=len(follows)), "\n".join(name for _, name in follows))

    async def _follow(self, names: list[str], caller: Caller, sub: Subscription) -> str:
        store, lang = self.services.store, sub.lang
        known = {key for key, _ in await store.get_follows(caller.chat)}
        added, already = [], []
        for name in names:
            key = follow_key(name)
            if not key or len(name) > MAX_NAME:
                return say(lang, "follow_bad", name=name[:MAX_NAME], n=MAX_NAME)
            if key not in known and len(known) >= MAX_FOLLOWS:
                return say(lang, "follow_full", n=MAX_FOLLOWS)
            (added if await store.save_follow(caller.chat, name, key, caller.now) else already).append(name)
            known.add(key)
        lines = [say(lang, "follow_added", names=", ".join(added))] if added else []
        if already:
            lines.append(say(lang, "follow_already", names=", ".join(already)))
        return "\n".join(lines)

    async def _unfollow(self, names: list[str], caller: Caller, sub: Subscription) -> str:
        """Stop following each name: its exact key, else every followed name it can be ("/unfollow LeCun")."""
        follows = await self.services.store.get_follows(caller.chat)
        keys: list[str] = []
        missing = []
        for name in names:
            wanted = AuthorName.parse(name)
            exact = [k for k, _ in follows if k == wanted.key]
            found = exact or [k for k, n in follows if wanted.matches(AuthorName.parse(n))]
            keys.extend(found)
            if not found:
                missing.append(name)
        removed = [n for k, n in follows if k in keys]
        if keys:
            await self.services.store.delete_follows(caller.chat, sorted(set(keys)))
        lines = [say(sub.lang, "unfollowed", names=", ".join(removed))] if removed else []
        if missing:
            lines.append(say(sub.lang, "follow_missing", names=", ".join(missing)))
        return "\n".join(lines)


def _follow_names(arg: str) -> list[str]:
    """The names in a /follow argument: one per line or semicolon ("Auer, Sören" keeps its comma)."""
    return [n.strip() for n in re.split(r"[;\n；]+", arg) if n.strip().lstrip("-").strip()]
