"""The Telegram adapter: format.py (pure HTML formatter), sender.py (the Sender), bot.py (the Application).

The names used elsewhere are re-exported here. Nothing under bot/telegram/ touches the store: chats
that are gone or moved go through the command layer.
"""

from bot.telegram.bot import ALLOWED_UPDATES, GONE_STATUSES, MAX_TOAST, TelegramBot
from bot.telegram.format import (
    MAX_BUTTONS,
    MAX_CALLBACK_DATA,
    MAX_MESSAGE_LENGTH,
    MAX_PAPERS_PER_PART,
    TelegramButton,
    TelegramPart,
    decode_callback,
    encode_callback,
    render_reply,
    to_telegram_html,
    utf16_len,
)
from bot.telegram.sender import CHAT_INTERVAL, PLATFORM, RATE_LIMIT_RETRIES, SEND_TRIES, TelegramSender

__all__ = [
    "ALLOWED_UPDATES", "CHAT_INTERVAL", "GONE_STATUSES", "MAX_BUTTONS", "MAX_CALLBACK_DATA", "MAX_MESSAGE_LENGTH",
    "MAX_PAPERS_PER_PART", "MAX_TOAST", "PLATFORM", "RATE_LIMIT_RETRIES", "SEND_TRIES", "TelegramBot",
    "TelegramButton", "TelegramPart", "TelegramSender", "decode_callback", "encode_callback", "render_reply",
    "to_telegram_html", "utf16_len",
]
