"""Settings: one frozen pydantic-settings model, each setting defined once (name, type, default, meaning, check).

Owns every setting the app reads: its env name (the field name in capitals), type, default, one-line
description and validation, plus `.env.example`'s text (`render_env_example`). It must not read
`os.environ` or a `.env` file itself: every pydantic-settings source except the init arguments is
switched off, `bot/wiring.py` passes the mapping in, tests pass a dict. Secrets are redacted from the
repr so a logged Settings never leaks them, and never echoed in a ConfigError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import ConfigError
from core.models import LANGUAGES

# The source checkout (tests and tools read the repo through it). The product never resolves a setting
# against it: relative paths are the working folder's, prompts and default fields are package data.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PATH_SETTINGS = ("database_path", "fields_path", "digest_dir")

SECRET_FIELDS = frozenset(
    {"openai_api_key", "telegram_bot_token", "slack_bot_token", "slack_signing_secret", "slack_app_token",
     "telegram_webhook_secret", "smtp_password", "unsubscribe_secret", "database_url"}
)



def secret_texts(name: str, value: object) -> list[str]:
    """The parts of setting `name`'s value that must never be printed: all of it for a token or key, only
    the password of DATABASE_URL, as written and decoded (its host and database name are what an operator
    needs to read)."""
    text = str(value or "").strip()
    if name == "database_url" and text:
        try:
            written = urlsplit(text).password or ""
        except ValueError:  # not a URL at all: keep all of it out
            return [text]
        return [written, unquote(written)] if written else []
    return [text]


ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# LLM_JSON_MODE: auto finds what the server accepts (core/score/jsonmode.py); the others are used as given.
JSON_MODES = ("auto", "json_schema", "json_object_schema", "json_object", "none")
# Telegram's rule for setWebhook's secret_token: 1-256 characters, only A-Z, a-z, 0-9, _ and -.
WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
SMTP_SECURITY = ("starttls", "ssl", "none")
MIN_UNSUBSCRIBE_SECRET = 16  # characters: the key that signs every unsubscribe link


def _csv(value: object) -> object:
    """Split a comma-separated string into a tuple of its non-empty items; pass other values through."""
    if isinstance(value, str):
        return tuple(x.strip() for x in value.split(",") if x.strip())
    return value


def _hhmm(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError("must be HH:MM")
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError("must be HH:MM")
    return f"{hour:02d}:{minute:02d}"


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, e.g. "America"
        raise ValueError("is not a known timezone") from None
    return value


class Settings(BaseSettings):
    """Every setting; build it with `Settings.from_env(mapping)`, change it with `replace(...)`."""

    model_config = SettingsConfigDict(
        frozen=True, alias_generator=str.upper, extra="ignore", validate_default=True, case_sensitive=True,
    )

    # storage and data
    database_path: Path = Field(Path("data/arxiv_digest.db"), description="SQLite database file")
    database_url: str = Field("", description="PostgreSQL URL (postgresql://user:password@host:5432/name);"
                                              " empty: SQLite at DATABASE_PATH")
    fields_path: Path | None = Field(None,
                                     description="a field .toml file or a folder of them; empty: the shipped defaults")
    digest_dir: Path = Field(Path("data/digests"), description="where Markdown digests are written")
    # arXiv
    arxiv_rss_url: str = Field("https://rss.arxiv.org/rss", description="arXiv RSS base URL")
    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", description="arXiv export API")
    arxiv_categories: tuple[str, ...] = Field(("cs.AI", "cs.CL", "cs.CV", "cs.LG"),
                                              description="categories, comma-separated")
    arxiv_announce_types: tuple[str, ...] = Field(("new", "cross"), description="announce types to keep")
    arxiv_request_delay: float = Field(3.0, ge=0, le=3600, description="seconds between arXiv requests")
    arxiv_max_tries: int = Field(4, ge=1, le=20, description="tries per arXiv request (429/5xx/timeouts)")
    arxiv_timeout: float = Field(60.0, ge=1, le=3600, description="seconds per arXiv request")
    # digest
    digest_language: str = Field("zh", description="zh or en: a new chat's and the written digest's language")
    min_score: float = Field(7.0, ge=1, le=10, description="a new chat's and the written digest's threshold, 1-10")
    digest_max_per_field: int = Field(10, ge=1, le=1000, description="most papers per field section")
    digest_timezone: str = Field("Asia/Shanghai", description="a new chat's timezone; also the digest header's")
    digest_time: str = Field("09:00", description="a new chat's delivery time, HH:MM in its timezone")
    # LLM
    openai_api_key: str = Field("", description="LLM key; empty: offline scorer")
    openai_base_url: str = Field("https://api.openai.com/v1", description="OpenAI-compatible endpoint")
    llm_model: str = Field("gpt-4o-mini", description="chat model (or Ark endpoint id)")
    llm_json_mode: str = Field(
        "auto", description="auto, json_schema, json_object_schema, json_object or none (response_format sent)")
    llm_batch_size: int = Field(25, ge=1, le=200, description="papers per LLM request")
    llm_abstract_chars: int = Field(450, ge=200, le=5000, description="abstract characters sent per paper")
    llm_concurrency: int = Field(4, ge=1, le=64, description="LLM requests in flight")
    llm_timeout: float = Field(120.0, ge=1, le=3600, description="seconds per LLM request")
    llm_max_retries: int = Field(3, ge=0, le=10, description="retries per LLM request (429/5xx/timeouts)")
    llm_daily_token_budget: int = Field(0, ge=0, le=10**12, description="tokens per day; 0: no limit")
    llm_pass_rate: float = Field(0.53, ge=0.01, le=1.0, description="share of papers the cheap stage passes to the LLM")
    embedding_model: str = Field("", description="/v1/embeddings model for the cheap stage; empty: the offline scorer")
    # Telegram
    telegram_bot_token: str = Field("", description="from @BotFather; empty: no Telegram")
    telegram_api_base_url: str = Field("https://api.telegram.org/bot", description="Bot API base")
    telegram_webhook_url: str = Field("", description="public HTTPS URL; empty: long polling")
    telegram_webhook_secret: str = Field("", description="webhook secret_token; empty: derived from the bot token")
    telegram_webhook_port: int = Field(8443, ge=1, le=65535, description="local port for webhook mode")
    telegram_messages_per_second: int = Field(30, ge=1, le=1000,
                                              description="messages per second from all instances of the bot together")
    # Slack
    slack_bot_token: str = Field("", description="xoxb- token; empty: no Slack")
    slack_signing_secret: str = Field("", description="HTTP mode request signing secret")
    slack_app_token: str = Field("", description="xapp- token; set: Socket Mode")
    slack_api_base_url: str = Field("https://slack.com/api/", description="Slack Web API base")
    slack_port: int = Field(3000, ge=1, le=65535, description="HTTP mode port for /slack/events")
    # the static site
    web_port: int = Field(0, ge=0, le=65535, description="serve's port for the static site; 0: no web server")
    web_host: str = Field("127.0.0.1", description="address the site is served on; 0.0.0.0: every interface")
    # scheduling
    scoring_time: str = Field("20:30", description="daily fetch and scoring, HH:MM")
    scoring_timezone: str = Field("America/New_York", description="timezone of SCORING_TIME")
    scoring_days: tuple[str, ...] = Field(("sun", "mon", "tue", "wed", "thu"), description="days the scoring job runs")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    leader_retry_seconds: float = Field(15.0, ge=0.1, le=3600,
                                        description="seconds between a standby serve's tries to become the leader")
    # email
    smtp_host: str = Field("", description="SMTP server host; empty: no email")
    smtp_port: int | None = Field(None, ge=1, le=65535,
                                  description="SMTP port; empty: 587 for starttls, 465 for ssl, 25 for none")
    smtp_username: str = Field("", description="SMTP login; empty: no login")
    smtp_password: str = Field("", description="SMTP password")
    smtp_security: str = Field("starttls", description="starttls, ssl (implicit TLS) or none")
    email_from: str = Field("", description="the From address, e.g. arXiv digest <digest@example.org>")
    web_base_url: str = Field("", description="public URL that reaches WEB_PORT, for unsubscribe links")
    unsubscribe_secret: str = Field("", description="key that signs unsubscribe links, 16+ characters")

    @field_validator(*PATH_SETTINGS)
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("arxiv_categories", "arxiv_announce_types", "scoring_days", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        return _csv(value)

    @field_validator("arxiv_categories")
    @classmethod
    def _some_category(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one category")
        return value

    @field_validator("arxiv_announce_types")
    @classmethod
    def _known_announce_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(ANNOUNCE_TYPES))
        if unknown:
            raise ValueError(f"has unknown types: {', '.join(unknown)}")
        return value

    @field_validator("scoring_days")
    @classmethod
    def _weekdays(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(d.lower()[:3] for d in value)
        if not days or set(days) - set(WEEKDAYS):
            raise ValueError("must be day names like sun,mon,tue")
        return days

    @field_validator("digest_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value.lower() not in LANGUAGES:
            raise ValueError(f"must be {' or '.join(LANGUAGES)}")
        return value.lower()

    @field_validator("digest_timezone", "scoring_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _timezone(value)

    @field_validator("digest_time", "scoring_time")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        return _hhmm(value)

    @field_validator("llm_json_mode")
    @classmethod
    def _json_mode(cls, value: str) -> str:
        if value not in JSON_MODES:
            raise ValueError(f"must be one of {', '.join(JSON_MODES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be {', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}")
        return value.upper()

    @field_validator("arxiv_rss_url", "arxiv_api_url", "openai_base_url", "telegram_api_base_url", "slack_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme != "https" or not parts.netloc):
            raise ValueError("must be a public https:// URL (Telegram posts updates only over HTTPS), or empty")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else None
        if value and scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError("must be a postgresql://user:password@host:5432/name URL, or empty for SQLite")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str) -> str:
        if value and not WEBHOOK_SECRET_RE.fullmatch(value):
            bad = sorted({ch for ch in value if not WEBHOOK_SECRET_RE.fullmatch(ch)})
            what = f"{len(value)} characters" if len(value) > 256 else f"{len(bad)} character(s) Telegram refuses"
            raise ValueError(f"must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule); it has {what}")
        return value

    @field_validator("smtp_security")
    @classmethod
    def _smtp_security(cls, value: str) -> str:
        if value.lower() not in SMTP_SECURITY:
            raise ValueError(f"must be {', '.join(SMTP_SECURITY[:-1])} or {SMTP_SECURITY[-1]}")
        return value.lower()

    @field_validator("email_from")
    @classmethod
    def _email_from(cls, value: str) -> str:
        if not value:
            return value
        name, address = parseaddr(value)
        local, at, domain = address.rpartition("@")
        if not at or not local or "." not in domain or any(ch.isspace() for ch in address):
            raise ValueError("must be an address like digest@example.org or Name <digest@example.org>")
        return formataddr((name, address)) if name else address

    @field_validator("web_base_url")
    @classmethod
    def _web_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment):
            raise ValueError("must be an http:// or https:// URL with a host (and no query), or empty")
        return value.rstrip("/")

    @field_validator("unsubscribe_secret")
    @classmethod
    def _unsubscribe_secret(cls, value: str) -> str:
        if value and len(value) < MIN_UNSUBSCRIBE_SECRET:
            raise ValueError(f"must be at least {MIN_UNSUBSCRIBE_SECRET} characters (it has {len(value)})")
        return value

    @model_validator(mode="after")
    def _email_complete(self) -> Settings:
        """Email needs a From address, and every message an unsubscribe link that works."""
        if self.smtp_host:
            missing = [env for env, value in (("EMAIL_FROM", self.email_from), ("WEB_BASE_URL", self.web_base_url),
                                              ("UNSUBSCRIBE_SECRET", self.unsubscribe_secret)) if not value]
            if missing:
                raise ValueError(f"SMTP_HOST is set, so email needs {', '.join(missing)} too"
                                 " (every digest carries a signed unsubscribe link)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values `from_env` hands in: never os.environ, a `.env` file or a secrets folder."""
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, root: Path | None = None) -> Settings:
        """Build settings from a mapping; collect every problem and raise them in one ConfigError.

        Names match exactly (upper case); an empty or blank value means the default. Relative paths
        resolve against `root`, by default the working folder at this call (as a shell would read them),
        and are stored absolute so a later change of folder cannot move them.
        """
        names = [info.alias or name.upper() for name, info in cls.model_fields.items()]
        given = {name: value.strip() for name in names if (value := env.get(name, "")).strip()}
        try:
            settings = cls.model_validate(given)
        except ValidationError as exc:
            raise ConfigError("invalid settings:\n  - " + "\n  - ".join(_problems(exc))) from None
        base = Path.cwd() if root is None else root
        paths = {name: p for name in PATH_SETTINGS if (p := getattr(settings, name)) is not None}
        return settings.replace(**{name: p if p.is_absolute() else base / p for name, p in paths.items()})

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key)

    def replace(self, **changes: object) -> Settings:
        """A copy with `changes` applied as given (not validated, like `dataclasses.replace`)."""
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise TypeError(f"Settings has no setting {', '.join(unknown)}")
        return self.model_copy(update=changes)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        """What repr() and str() show: every setting, secrets as '***' when set."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            yield name, "***" if name in SECRET_FIELDS and value else value


def _problems(exc: ValidationError) -> list[str]:
    """Write one line per bad setting, naming its env variable; never echo a secret's value."""
    secret_envs = {Settings.model_fields[name].alias for name in SECRET_FIELDS}
    lines = []
    for error in exc.errors(include_url=False):
        env = str(error["loc"][0]) if error["loc"] else "settings"
        ctx = error.get("ctx") or {}
        message = str(ctx["error"]) if error["type"] == "value_error" and "error" in ctx else error["msg"]
        if not error["loc"]:  # a rule across settings: its input is every setting, secrets included
            lines.append(message.removeprefix("Value error, "))
            continue
        got = "" if env in secret_envs else f", got {error['input']!r}"
        lines.append(f"{env}: {message[0].lower()}{message[1:]}{got}")
    return lines


def env_text(value: object) -> str:
    """Spell a default as it would be written in the environment."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path):
        return value.as_posix()
    return str(value)


def documented_settings() -> list[tuple[str, str, str]]:
    """List (env name, default as written in the environment, description) for every setting, in order."""
    return [(info.alias or name.upper(), env_text(info.default), info.description or "")
            for name, info in Settings.model_fields.items()]


def render_env_example() -> str:
    """Spell `.env.example` from the Settings fields, so the file and the code cannot drift."""
    lines = ["# arxiv-digest settings. Copy to .env and fill in what you use; every value shown is the default.", ""]
    for env, default, description in documented_settings():
        lines.append(f"# {description}")
        lines.append(f"{env}={default}")
    return "\n".join(lines) + "\n"
