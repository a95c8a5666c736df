"""The error tree every caller above a library boundary sees.

    DigestError
    ├── ConfigError      settings, field files or prompt templates are wrong or missing
    ├── SourceError      arXiv could not be read (network, HTTP status, malformed feed)
    │   └── SourceUnavailable   arXiv did not answer, or refused the request (try again later)
    ├── ScoringError     the LLM endpoint failed in a way no fallback can absorb
    ├── DeliveryError    a chat platform refused or failed a message
    └── StoreError       the database is unusable (bad path, newer schema)

Library exceptions (aiohttp, openai, telegram, slack) are translated where the library is called
and never travel above that line.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(DigestError):
    """A setting, field definition or prompt template is missing or invalid."""


class SourceError(DigestError):
    """arXiv could not be read, or answered with something that is not a feed."""


class SourceUnavailable(SourceError):
    """arXiv could not be reached, timed out, or answered with an error status: worth trying again later."""


class ScoringError(DigestError):
    """The scorer failed in a way no fallback can absorb."""


class DeliveryError(DigestError):
    """A chat platform refused or failed a message."""

    def __init__(self, message: str, *, permanent: bool = False, migrate_to: str | None = None) -> None:
        super().__init__(message)
        # permanent: the chat is gone for us (blocked the bot, deleted, archived, bot removed);
        # deactivate the subscription instead of retrying.
        self.permanent = permanent
        # migrate_to: the chat moved to a new id (a Telegram group became a supergroup).
        self.migrate_to = migrate_to


class StoreError(DigestError):
    """The database cannot be opened or migrated."""
