"""Logging for the processes: one JSON object per line on stderr, every configured secret redacted."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from core.config import SECRET_FIELDS, Settings


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and the exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RedactSecrets(logging.Filter):
    """Replace every configured secret with *** in log records, whatever logged it."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            redacted = text
            for secret in self.secrets:
                redacted = redacted.replace(secret, "***")
            if redacted != text:
                record.msg, record.args = redacted, None
        return True


def setup_logging(settings: Settings) -> None:
    """Structured (JSON lines) logs on stderr, secrets redacted, noisy libraries quieted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RedactSecrets([getattr(settings, name) for name in SECRET_FIELDS]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, settings.log_level, logging.INFO))
    # httpx logs every request URL at INFO, and a Telegram Bot API URL carries the bot token.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "telegram.ext.Updater", "apscheduler.executors",
                  "apscheduler.scheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
