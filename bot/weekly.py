"""The /weekly command: the past week's best papers per field of this chat with a chart, now or every week.

A mixin of bot/commands.Commands (which dispatches `/weekly` here); the digest and chart are built in core
(core/views.py `weekly_for_subscription`), the weekly job is core/deliver/weekly.py. Like the commands
that change settings, `/weekly on` and `/weekly off` are for admins in groups. No platform library here.
"""

from __future__ import annotations

from bot.replies import Caller, Reply, info
from bot.texts import say
from core.build.weekly import chart_caption, weekly_blocks
from core.models import Subscription
from core.services import Services
from core.views import weekly_for_subscription

ON, OFF = frozenset({"on", "开", "开启"}), frozenset({"off", "关", "关闭", "stop"})  # the texts say Monday:
# core.deliver.weekly.WEEKLY_DAY


class WeeklyCommands:
    """`/weekly`, `/weekly on`, `/weekly off` over the Commands' services."""

    services: Services

    async def weekly_status(self, caller: Caller, sub: Subscription) -> str:
        """Whether the chat gets the weekly digest, in words for /settings."""
        if await self.services.store.weekly_enabled(caller.chat):
            return say(sub.lang, "weekly_status_on", time=sub.digest_time)
        return say(sub.lang, "weekly_status_off")

    async def cmd_weekly(self, arg: str, caller: Caller, sub: Subscription) -> Reply:
        lang = sub.lang
        word = arg.strip().lower()
        if not word:
            found = await weekly_for_subscription(self.services, sub, now=caller.now)
            if found is None:
                return info(say(lang, "weekly_none"))
            weekly, chart = found
            return Reply(tuple(weekly_blocks(weekly)), kind="digest", image=chart.png, caption=chart_caption(weekly))
        if word not in ON | OFF:
            return info(say(lang, "weekly_usage", arg=arg), kind="error")
        if caller.is_group and not await caller.is_admin():
            return info(say(lang, "admins_only"), kind="error")
        store = self.services.store
        was = await store.weekly_enabled(caller.chat)
        if word in ON:
            await store.set_weekly(caller.chat, True, caller.now)
            return info(say(lang, "weekly_already_on" if was else "weekly_on", time=sub.digest_time, tz=sub.timezone))
        await store.set_weekly(caller.chat, False, caller.now)
        return info(say(lang, "weekly_off" if was else "weekly_already_off"))
