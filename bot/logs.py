"""Logging for the processes: one JSON object per line on stderr, every configured secret redacted.

Feishu/Lark webhook URLs (which let anyone holding them post to the group) are logged with their token cut short.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.feishu.target import hide_webhook_tokens
from core.config import SECRET_FIELDS, Settings, secret_texts

BODY_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Application", "slack_sdk", "slack_bolt",
                "aiosqlite")
MIN_SECRET = 6  # shorter values are not redacted: "***" in place of every "abc" would garble the logs


def redactor(secrets: Sequence[str]) -> Callable[[str], str]:
    """A function that replaces each of `secrets` (the non-trivial ones) with *** in a text."""
    found = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in found:
            text = text.replace(secret, "***")
        return hide_webhook_tokens(text)  # a Feishu/Lark webhook URL is a credential too

    return redact


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and the exception when there is one.

    With `secrets`, every part of the line (the message, the exception's text and traceback, a stack)
    is redacted: an exception's text often carries a URL or a request body the message never showed.
    """

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self.redact = redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exc"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


class RedactSecrets(logging.Filter):
    """Replace every configured secret with *** in log records, whatever logged it.

    The message is redacted in place, and an exception is formatted once and redacted into `exc_text`
    (its `exc_info` dropped), so any handler or formatter downstream sees no secret in a traceback either.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= MIN_SECRET]
        self.redact = redactor(self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = self.redact(text)
        if redacted != text:
            record.msg, record.args = redacted, None
        if not self.secrets:  # nothing configured to leak from a traceback: keep the exception as it is
            return True
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def setup_logging(settings: Settings) -> None:
    """Structured (JSON lines) logs on stderr, secrets redacted, noisy libraries quieted."""
    secrets = [part for name in SECRET_FIELDS for part in secret_texts(name, getattr(settings, name))]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter(secrets))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = getattr(logging, settings.log_level, logging.INFO)
    root.setLevel(level)
    # At DEBUG these log whole request and webhook bodies (Telegram updates, Slack events, message texts,
    # the SQL parameters that store them):
    # a body is never logged whole, so they stay at INFO or above whatever LOG_LEVEL says.
    for chatty in BODY_LOGGERS:
        logging.getLogger(chatty).setLevel(max(level, logging.INFO))
    # httpx logs every request URL at INFO, and a Telegram Bot API URL carries the bot token.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "telegram.ext.Updater", "apscheduler.executors",
                  "apscheduler.scheduler", "aiohttp.access", "alembic",
                  "sqlalchemy"):  # SQLAlchemy at INFO echoes every statement, and at DEBUG its parameters
        logging.getLogger(noisy).setLevel(logging.WARNING)
