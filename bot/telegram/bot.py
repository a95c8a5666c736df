"""The Telegram bot: the Application, its handlers and its lifecycle (polling or webhook).

Owns everything python-telegram-bot does on the way in: turning an update into a command line and a
Caller, asking the command layer (bot/commands.py) and sending its Reply through the TelegramSender.
A chat that is gone or moved is reported to the command layer (`chat_gone`, `chat_moved`); this module
never touches the store, decides nothing a command means, formats nothing itself (format.py) and
never imports slack. Time comes from the injected `clock`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from telegram import Bot as PTBBot
from telegram import BotCommand, Chat, Message, Update, User
from telegram.constants import CallbackQueryLimit, ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.commands import COMMANDS, Caller, Commands, IsAdmin, failure_text, menu
from bot.telegram.format import decode_callback, render_reply
from bot.telegram.sender import (
    CHAT_INTERVAL,
    NO_PREVIEW,
    PLATFORM,
    RATE_LIMIT_RETRIES,
    SharedRateLimiter,
    TelegramSender,
)
from core.config import Settings
from core.deliver.weekly import send_chart
from core.errors import ConfigError, DeliveryError, DigestError
from core.models import ChatRef

log = logging.getLogger(__name__)

MAX_TOAST = int(CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH)  # 200 characters
ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
GONE_STATUSES = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})
ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
POLL_TIMEOUT = timedelta(seconds=30)


def webhook_secret(settings: Settings) -> str:
    """TELEGRAM_WEBHOOK_SECRET, or one derived from the bot token: the same on every instance and restart
    (several instances behind one webhook URL must agree), and telling nothing about the token."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    return hmac.new(settings.telegram_bot_token.encode(), b"arxiv-digest webhook secret", hashlib.sha256).hexdigest()


def _admin_check(bot: PTBBot, chat: Chat, user: User | None, sender_chat: Chat | None) -> IsAdmin:
    """An `is_admin` that asks getChatMember once, only when the command layer needs to know."""
    answer: list[bool] = []

    async def is_admin() -> bool:
        if user is None or (sender_chat is not None and sender_chat.id == chat.id):
            return True  # a channel post, or an anonymous group admin posting as the group
        if not answer:
            try:
                member = await bot.get_chat_member(chat.id, user.id)
                answer.append(member.status in ADMIN_STATUSES)
            except TelegramError as exc:
                log.warning("getChatMember failed for telegram chat %s: %s", chat.id, exc)
                answer.append(False)
        return answer[0]

    return is_admin


class TelegramBot:
    """The Telegram side of `arxiv-digest serve`: build the Application, start it, stop it."""

    def __init__(
        self,
        settings: Settings,
        commands: Commands,
        *,
        webhook_listen: str = "0.0.0.0",
        clock: Callable[[], datetime] | None = None,
        min_interval: float = CHAT_INTERVAL,
        send_turn: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`send_turn`, when given, is awaited before every request to a chat: the bot's rate shared with
        the other processes sending as it (bot/service.py builds it)."""
        if not settings.telegram_bot_token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is empty: create a bot with @BotFather and set it")
        # httpx logs every request URL at INFO, and a Bot API URL contains the token.
        for name in ("httpx", "httpcore"):
            if logging.getLogger(name).level < logging.WARNING:
                logging.getLogger(name).setLevel(logging.WARNING)
        self.settings = settings
        self.commands = commands
        self.webhook_listen = webhook_listen
        self.clock = clock or (lambda: datetime.now(UTC))
        self.application: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_api_base_url)
            .rate_limiter(SharedRateLimiter(send_turn, max_retries=RATE_LIMIT_RETRIES))
            .job_queue(None)  # scheduling is bot/schedule.py's, for both platforms
            .build()
        )
        self._sender = TelegramSender(self.application.bot, min_interval=min_interval)
        self._register()

    @property
    def sender(self) -> TelegramSender:
        """A Sender over this bot's Bot (same rate limiter), for the delivery layer."""
        return self._sender

    def _register(self) -> None:
        app = self.application
        # First, before any handler: an update another instance (or an earlier delivery) claimed is dropped.
        app.add_handler(TypeHandler(Update, self.on_any_update), group=-1)
        posts = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        app.add_handler(CommandHandler([name for name, _, _ in COMMANDS], self.on_command, filters=posts))
        # In a private chat an unknown /command gets the command layer's "unknown command" answer.
        app.add_handler(MessageHandler(
            filters.COMMAND & filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE, self.on_command))
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.on_migration))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(ChatMemberHandler(self.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_error_handler(self.on_error)

    # -- lifecycle --

    async def start(self) -> None:
        """Initialize (getMe), publish the command menu, then poll, or serve the webhook when configured."""
        app = self.application
        try:
            await app.initialize()
        except TelegramError as exc:
            await app.bot.shutdown()  # initialize() failed halfway: close the HTTP clients it opened
            if isinstance(exc, InvalidToken):
                raise ConfigError(f"Telegram rejected TELEGRAM_BOT_TOKEN: {exc}") from exc
            raise DeliveryError(f"cannot reach the Telegram Bot API: {exc}") from exc
        try:
            await self.set_menu()
            await app.start()
            assert app.updater is not None
            url = self.settings.telegram_webhook_url
            if url:
                secret = webhook_secret(self.settings)
                await app.updater.start_webhook(
                    listen=self.webhook_listen, port=self.settings.telegram_webhook_port,
                    url_path=urlsplit(url).path.lstrip("/"), webhook_url=url, secret_token=secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
                log.info("Telegram webhook serving on %s:%d", self.webhook_listen, self.settings.telegram_webhook_port)
            else:
                await app.updater.start_polling(poll_interval=0.0, timeout=POLL_TIMEOUT,
                                                allowed_updates=list(ALLOWED_UPDATES))
                log.info("Telegram long polling started as @%s", app.bot.username)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop receiving updates, finish the running handlers, and close the HTTP clients."""
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    async def set_menu(self) -> None:
        """setMyCommands: English by default, Chinese for clients set to zh. A failure is only logged."""
        bot = self.application.bot
        try:
            await bot.set_my_commands([BotCommand(name, text) for name, text in menu("en")])
            await bot.set_my_commands([BotCommand(name, text) for name, text in menu("zh")], language_code="zh")
        except TelegramError as exc:
            log.warning("setMyCommands failed: %s", exc)

    # -- handlers --

    async def on_any_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Claim the update for this instance; one already claimed (Telegram redelivered it, perhaps to
        another instance behind the same webhook) stops here, so it has one effect."""
        source = f"{PLATFORM}:{context.bot.id}"
        if not await self.commands.claim_update(source, str(update.update_id), self.clock()):
            log.info("telegram update %s was already handled: skipped", update.update_id)
            raise ApplicationHandlerStop

    def _caller(self, bot: PTBBot, chat: Chat, user: User | None, sender_chat: Chat | None, *,
                is_group: bool) -> Caller:
        return Caller(
            chat=ChatRef(PLATFORM, str(chat.id)), now=self.clock(), is_group=is_group,
            is_admin=_admin_check(bot, chat, user, sender_chat),
            language_hint=(user.language_code or "") if user else "",
        )

    async def _lang(self, caller: Caller) -> str:
        return (await self.commands.subscription(caller)).lang

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Route a /command (private chat, group, supergroup or channel post) to the command layer."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or not message.text:
            return
        is_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        caller = self._caller(context.bot, chat, message.from_user, message.sender_chat, is_group=is_group)
        reply = await self.commands.handle(message.text, caller)
        if reply.image:
            await send_chart(self._sender, caller.chat, reply.image, reply.caption)
        for part in render_reply(reply, await self._lang(caller)):
            await self._sender.send_part(caller.chat, part)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A tap on an inline button: a vote or a field toggle; answer with a toast, update the keyboard."""
        query = update.callback_query
        if query is None:
            return
        if query.message is None or not query.data:
            await query.answer()
            return
        chat = query.message.chat
        # Anyone can tap a button under a channel post, so outside private chats a change needs an admin.
        caller = self._caller(context.bot, chat, query.from_user, None, is_group=chat.type != ChatType.PRIVATE)
        action, value = decode_callback(query.data)
        result = await self.commands.handle_action(action, value, caller)
        toast = result.toast if len(result.toast) <= MAX_TOAST else result.toast[: MAX_TOAST - 1] + "…"
        await query.answer(toast)
        if result.reply is None or not isinstance(query.message, Message):
            return
        parts = render_reply(result.reply, await self._lang(caller))
        if not parts:
            return
        try:
            await query.edit_message_text(parts[0].html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                                          reply_markup=parts[0].reply_markup())
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def on_migration(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup: move its subscription, votes and deliveries to the new id."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        await self.commands.chat_moved(ChatRef(PLATFORM, str(old)), ChatRef(PLATFORM, str(new)), self.clock())

    async def on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot was blocked, kicked or left: deactivate the chat's subscription, keeping its settings."""
        change = update.my_chat_member
        if change is None or change.new_chat_member.status not in GONE_STATUSES:
            return
        await self.commands.chat_gone(ChatRef(PLATFORM, str(change.chat.id)), self.clock(),
                                      f"bot removed ({change.new_chat_member.status})")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one error handler: log with the traceback; answer a DigestError with a short message."""
        exc = context.error
        chat = update.effective_chat if isinstance(update, Update) else None
        log.error("telegram update failed (chat %s)", chat.id if chat else "-", exc_info=exc)
        gone = isinstance(exc, DeliveryError) and (exc.permanent or exc.migrate_to)
        if not isinstance(exc, DigestError) or chat is None or gone:
            return
        user = update.effective_user if isinstance(update, Update) else None
        lang = "zh" if user is not None and (user.language_code or "").startswith("zh") else "en"
        try:
            await context.bot.send_message(chat.id, failure_text(lang, exc))
        except TelegramError as send_exc:
            log.warning("could not report an error to telegram chat %s: %s", chat.id, send_exc)
