"""Telegram wiring: spell neutral blocks as Telegram HTML, send them, and route updates to bot.commands.

This module owns everything python-telegram-bot: the HTML formatter and its 4096-unit split, the
inline keyboards and their callback_data, the Sender that translates Telegram errors into
DeliveryError, the handlers, and the Application's lifecycle (polling or webhook). It decides nothing
a command means (that is bot/commands.py) and nothing a digest shows (core/build/digest.py), and it never
imports slack.
"""

from __future__ import annotations

import asyncio
import html
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from telegram import Bot as PTBBot
from telegram import (
    BotCommand,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
    User,
)
from telegram.constants import (
    CallbackQueryLimit,
    ChatMemberStatus,
    ChatType,
    InlineKeyboardButtonLimit,
    InlineKeyboardMarkupLimit,
    MessageLimit,
    ParseMode,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.commands import COMMANDS, Button, Caller, Commands, IsAdmin, Reply, menu, say
from core.build.digest import format_score
from core.config import Settings
from core.errors import ConfigError, DeliveryError, DigestError
from core.models import Block, ChatRef, Heading, Note, PaperItem

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_MESSAGE_LENGTH = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096 UTF-16 units after entity parsing
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64 bytes
MAX_BUTTONS = int(InlineKeyboardMarkupLimit.TOTAL_BUTTON_NUMBER)  # 100 per message
MAX_PAPERS_PER_PART = MAX_BUTTONS // 2  # a 👍 and a 👎 each
MAX_TOAST = int(CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH)  # 200 characters
# Caps on untrusted text (escaped length), so one entry always fits one message with room to spare.
MAX_TITLE, MAX_AUTHORS, MAX_WHY, MAX_HEADING = 500, 300, 1800, 300
CONTINUED = {"zh": "（续）", "en": " (continued)"}
ACTION_PREFIX = {"vote": "v", "field": "f"}
PREFIX_ACTION = {prefix: action for action, prefix in ACTION_PREFIX.items()}
ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
GONE_STATUSES = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})
ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
RATE_LIMIT_RETRIES = 2  # AIORateLimiter: a 429 waits retry_after, then retries, at most this often
SEND_TRIES = 3  # TelegramSender: tries per part on timeouts and network errors / 5xx
POLL_TIMEOUT = timedelta(seconds=30)


# -- formatting (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TelegramButton:
    """An inline button: its label and the callback_data Telegram sends back (<= 64 bytes)."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class TelegramPart:
    """One message: HTML within Telegram's length limit, and the inline keyboard under it."""

    html: str
    keyboard: tuple[tuple[TelegramButton, ...], ...] = ()

    def reply_markup(self) -> InlineKeyboardMarkup | None:
        if not self.keyboard:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in self.keyboard]
        )


@dataclass(slots=True)
class _Entry:
    """A piece of a message that is never split: a heading, a note line group, or a whole paper."""

    html: str
    sep: str  # what goes before it when it does not start a message
    kind: str  # "title" | "heading" | "note" | "paper"
    section: str = ""  # the escaped field heading a paper belongs to
    number: int = 0
    arxiv_id: str = ""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's message limit."""
    return len(text.encode("utf-16-le")) // 2


def _clip(text: str, limit: int, *, collapse: bool = True) -> str:
    """Escape `text` for Telegram HTML, cut (with "…") so the escaped result is at most `limit` units."""
    if collapse:
        text = " ".join(text.split())
    out = html.escape(text, quote=False)
    if utf16_len(out) <= limit:
        return out
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if utf16_len(html.escape(text[:mid], quote=False)) + 1 <= limit:
            lo = mid
        else:
            hi = mid - 1
    return html.escape(text[:lo].rstrip(), quote=False) + "…"


def encode_callback(button: Button) -> str | None:
    """callback_data for a command-layer button, e.g. "v:+1:2601.08151"; None when over 64 bytes."""
    data = f"{ACTION_PREFIX.get(button.action, button.action)}:{button.value}"
    if len(data.encode()) > MAX_CALLBACK_DATA:
        log.warning("dropped a button whose callback_data exceeds %d bytes: %r", MAX_CALLBACK_DATA, data)
        return None
    return data


def decode_callback(data: str) -> tuple[str, str]:
    """Split callback_data back into (action, value): "f:efficient-llm" -> ("field", "efficient-llm")."""
    prefix, _, value = data.partition(":")
    return PREFIX_ACTION.get(prefix, prefix), value


def _entries(blocks: Sequence[Block], numbered: bool) -> list[_Entry]:
    out: list[_Entry] = []
    in_header, has_title, section, number = True, False, "", 0
    for block in blocks:
        if isinstance(block, Heading):
            text = _clip(block.text, MAX_HEADING)
            if block.level == 1:
                has_title = True
                out.append(_Entry(f"<b>{text}</b>", "\n\n", "title"))
            else:
                in_header, section = False, text
                out.append(_Entry(f"<b>{text}</b>", "\n\n", "heading", section=section))
        elif isinstance(block, Note):
            wrap = (lambda s: s) if in_header else (lambda s: f"<i>{s}</i>")
            sep = "\n" if in_header and has_title and out else "\n\n"
            for i, piece in enumerate(_note_pieces(block.text, MAX_MESSAGE_LENGTH - len("<i></i>"))):
                out.append(_Entry(wrap(piece), "\n" if i else sep, "note", section=section))
        elif isinstance(block, PaperItem):
            in_header = False
            number += 1
            head = f"{number}. " if numbered else ""
            href = html.escape(block.url, quote=True)
            lines = [f'{head}<b>{format_score(block.score)}</b> <a href="{href}">{_clip(block.title, MAX_TITLE)}</a>']
            if block.authors.strip():
                lines.append(f"<i>{_clip(block.authors, MAX_AUTHORS)}</i>")
            if block.why.strip():
                lines.append(_clip(block.why, MAX_WHY))
            out.append(_Entry("\n".join(lines), "\n\n", "paper", section, number, block.arxiv_id))
    return out


def _note_pieces(text: str, limit: int) -> list[str]:
    """Escape a note, grouping its lines into pieces of at most `limit` units (a long line is cut)."""
    pieces: list[str] = []
    current = ""
    for line in text.strip().split("\n"):
        escaped = _clip(line, limit, collapse=False)
        if current and utf16_len(current) + 1 + utf16_len(escaped) > limit:
            pieces.append(current)
            current = escaped
        else:
            current = f"{current}\n{escaped}" if current else escaped
    if current.strip():
        pieces.append(current)
    return pieces


def _joined(entries: Sequence[_Entry]) -> str:
    return "".join((e.sep if i else "") + e.html for i, e in enumerate(entries))


def _pack(entries: Sequence[_Entry], lang: str, limit: int) -> list[list[_Entry]]:
    """Fill messages entry by entry; never end a message on a field heading; repeat it when a field continues."""
    groups: list[list[_Entry]] = []
    current: list[_Entry] = []
    for entry in entries:
        papers = sum(1 for e in current if e.kind == "paper")
        too_long = utf16_len(_joined([*current, entry])) > limit
        if current and (too_long or (entry.kind == "paper" and papers >= MAX_PAPERS_PER_PART)):
            carry = [current.pop()] if current[-1].kind == "heading" and len(current) > 1 else []
            groups.append(current)
            current = carry
            if not carry and entry.kind == "paper" and entry.section:
                cont = _Entry(f"<b>{entry.section}{CONTINUED.get(lang, CONTINUED['en'])}</b>", "\n\n", "heading")
                if utf16_len(_joined([cont, entry])) <= limit:
                    current = [cont]
        current.append(entry)
    if current:
        groups.append(current)
    return groups


def to_telegram_html(
    blocks: Sequence[Block],
    lang: str,
    *,
    votes: bool = True,
    buttons: Sequence[Sequence[Button]] = (),
    limit: int = MAX_MESSAGE_LENGTH,
) -> list[TelegramPart]:
    """Spell blocks as Telegram HTML messages of at most `limit` UTF-16 units, split between entries.

    With `votes`, papers are numbered and each message carries a "n 👍" / "n 👎" row per paper in it.
    `buttons` (a Reply's own buttons) go under the last message.
    """
    groups = _pack(_entries(blocks, numbered=votes), lang, limit)
    parts: list[TelegramPart] = []
    for i, group in enumerate(groups):
        rows: list[tuple[TelegramButton, ...]] = []
        if votes:
            for e in group:
                if e.kind == "paper":
                    row = [(f"{e.number} 👍", f"+1:{e.arxiv_id}"), (f"{e.number} 👎", f"-1:{e.arxiv_id}")]
                    rows.append(_row([Button(label, "vote", value) for label, value in row]))
        if i == len(groups) - 1:
            rows.extend(_row(row) for row in buttons)
        rows = [r for r in rows if r]
        while sum(len(r) for r in rows) > MAX_BUTTONS:
            log.warning("dropped an inline keyboard row: more than %d buttons", MAX_BUTTONS)
            rows.pop()
        parts.append(TelegramPart(_joined(group), tuple(rows)))
    return parts


def _row(buttons: Sequence[Button]) -> tuple[TelegramButton, ...]:
    out = []
    for button in buttons:
        data = encode_callback(button)
        if data is not None:
            out.append(TelegramButton(button.label, data))
    return tuple(out)


def render_reply(reply: Reply, lang: str) -> list[TelegramPart]:
    """A command's Reply as messages: digests get vote rows per paper, others the Reply's own buttons."""
    return to_telegram_html(reply.blocks, lang, votes=reply.kind == "digest", buttons=reply.buttons)


# -- sending ---------------------------------------------------------------------------------------


class TelegramSender:
    """core.deliver.delivery.Sender for Telegram: one part per sendMessage, Telegram errors become DeliveryError.

    A 429 is retried by the Bot's AIORateLimiter (it waits retry_after); timeouts, network errors and
    5xx are retried here, bounded, with jittered backoff.
    """

    platform = PLATFORM

    def __init__(self, bot: PTBBot, *, tries: int = SEND_TRIES, retry_delay: float = 1.0) -> None:
        self.bot = bot
        self.tries = tries
        self.retry_delay = retry_delay

    def render(self, blocks: Sequence[Block], lang: str) -> list[TelegramPart]:
        """Spell a digest as Telegram messages with vote buttons (pure)."""
        return to_telegram_html(blocks, lang)

    async def send_part(self, chat: ChatRef, part: object) -> None:
        """Send one message; raise DeliveryError (permanent / migrate_to) when Telegram refuses it."""
        if not isinstance(part, TelegramPart):
            raise TypeError(f"TelegramSender cannot send {type(part).__name__}")
        await self.call(chat, lambda: self.bot.send_message(
            chat_id=chat.chat_id, text=part.html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
            reply_markup=part.reply_markup(),
        ))

    async def call(self, chat: ChatRef, request: Callable[[], Awaitable[object]]) -> object:
        """Run one Bot API request for `chat` with bounded retries, translating Telegram's errors."""
        where = f"telegram chat {chat.chat_id}"
        for attempt in range(1, self.tries + 1):
            try:
                return await request()
            except Forbidden as exc:
                raise DeliveryError(f"{where}: {exc}", permanent=True) from exc
            except ChatMigrated as exc:
                raise DeliveryError(f"{where} moved to {exc.new_chat_id}", migrate_to=str(exc.new_chat_id)) from exc
            except BadRequest as exc:
                if "chat not found" in str(exc).lower():
                    raise DeliveryError(f"{where}: {exc}", permanent=True) from exc
                log.warning("Telegram refused a message to %s: %s", where, exc)
                raise DeliveryError(f"{where}: {exc}") from exc
            except RetryAfter as exc:
                raise DeliveryError(f"{where}: still rate limited after {RATE_LIMIT_RETRIES} retries") from exc
            except (TimedOut, NetworkError) as exc:
                if attempt == self.tries:
                    raise DeliveryError(f"{where}: {exc} (after {self.tries} tries)") from exc
                delay = self.retry_delay * 2 ** (attempt - 1) * (1 + random.random() / 2)
                log.info("%s: %s; retrying in %.1fs", where, exc, delay)
                await asyncio.sleep(delay)
            except TelegramError as exc:
                raise DeliveryError(f"{where}: {exc}") from exc
        raise AssertionError("unreachable")


# -- the bot ---------------------------------------------------------------------------------------


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
    ) -> None:
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
            .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
            .job_queue(None)  # scheduling is bot/schedule.py's, for both platforms
            .build()
        )
        self._sender = TelegramSender(self.application.bot)
        self._register()

    @property
    def sender(self) -> TelegramSender:
        """A Sender over this bot's Bot (same rate limiter), for the delivery layer."""
        return self._sender

    def _register(self) -> None:
        app = self.application
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
                secret = self.settings.telegram_webhook_secret or secrets.token_urlsafe(32)
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
        log.info("telegram chat %s migrated to %s", old, new)
        await self.commands.services.store.move_subscription(
            ChatRef(PLATFORM, str(old)), ChatRef(PLATFORM, str(new)), self.clock())

    async def on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot was blocked, kicked or left: deactivate the chat's subscription, keeping its settings."""
        change = update.my_chat_member
        if change is None or change.new_chat_member.status not in GONE_STATUSES:
            return
        store = self.commands.services.store
        chat = ChatRef(PLATFORM, str(change.chat.id))
        sub = await store.get_subscription(chat)
        if sub is not None and sub.active:
            log.info("bot removed from %s (%s): subscription deactivated", chat, change.new_chat_member.status)
            await store.set_active(chat, False, self.clock())

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
            await context.bot.send_message(chat.id, say(lang, "error", error=str(exc)))
        except TelegramError as send_exc:
            log.warning("could not report an error to telegram chat %s: %s", chat.id, send_exc)

