"""Settings: one frozen dataclass built from a mapping (the environment plus `.env`).

This module never reads `os.environ` itself; `bot/__main__.py` passes the mapping in, tests pass a dict.
Secrets are redacted from the repr so a logged Settings never leaks them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError
from core.models import LANGUAGES

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SECRET_FIELDS = frozenset(
    {"openai_api_key", "telegram_bot_token", "slack_bot_token", "slack_signing_secret", "slack_app_token",
     "telegram_webhook_secret"}
)


@dataclass(frozen=True, slots=True)
class SettingSpec:
    env: str
    attr: str
    default: str
    help: str


# Every variable the app reads. `.env.example` must list exactly these (a test checks it).
SPECS: tuple[SettingSpec, ...] = (
    # storage and data
    SettingSpec("DATABASE_PATH", "database_path", "data/arxiv_digest.db", "SQLite database file"),
    SettingSpec("FIELDS_PATH", "fields_path", "data/fields", "a field .toml file or a folder of them"),
    SettingSpec("DIGEST_DIR", "digest_dir", "data/digests", "where Markdown digests are written"),
    SettingSpec("SAMPLE_INPUT", "sample_input", "data/arxiv/2025-12-22.jsonl", "the sample day `make run` reads"),
    # arXiv
    SettingSpec("ARXIV_RSS_URL", "arxiv_rss_url", "https://rss.arxiv.org/rss", "arXiv RSS base URL"),
    SettingSpec("ARXIV_API_URL", "arxiv_api_url", "https://export.arxiv.org/api/query", "arXiv export API"),
    SettingSpec("ARXIV_CATEGORIES", "arxiv_categories", "cs.AI,cs.CL,cs.CV,cs.LG", "categories, comma-separated"),
    SettingSpec("ARXIV_ANNOUNCE_TYPES", "arxiv_announce_types", "new,cross", "announce types to keep"),
    SettingSpec("ARXIV_REQUEST_DELAY", "arxiv_request_delay", "3", "seconds between arXiv requests"),
    SettingSpec("ARXIV_MAX_TRIES", "arxiv_max_tries", "4", "tries per arXiv request (429/5xx/timeouts)"),
    SettingSpec("ARXIV_TIMEOUT", "arxiv_timeout", "60", "seconds per arXiv request"),
    # digest
    SettingSpec("DIGEST_LANGUAGE", "digest_language", "zh", "zh or en"),
    SettingSpec("MIN_SCORE", "min_score", "7", "default threshold, 1-10"),
    SettingSpec("DIGEST_MAX_PER_FIELD", "digest_max_per_field", "10", "most papers per field section"),
    SettingSpec("DIGEST_TIMEZONE", "digest_timezone", "Asia/Shanghai", "timezone of the digest header"),
    SettingSpec("DIGEST_TIME", "digest_time", "09:00", "default delivery time, HH:MM local"),
    # LLM
    SettingSpec("OPENAI_API_KEY", "openai_api_key", "", "LLM key; empty: offline scorer"),
    SettingSpec("OPENAI_BASE_URL", "openai_base_url", "https://api.openai.com/v1", "OpenAI-compatible endpoint"),
    SettingSpec("LLM_MODEL", "llm_model", "gpt-4o-mini", "chat model (or Ark endpoint id)"),
    SettingSpec("LLM_JSON_MODE", "llm_json_mode", "json_schema", "json_schema or json_object"),
    SettingSpec("LLM_BATCH_SIZE", "llm_batch_size", "25", "papers per LLM request"),
    SettingSpec("LLM_ABSTRACT_CHARS", "llm_abstract_chars", "450", "abstract characters sent per paper"),
    SettingSpec("LLM_CONCURRENCY", "llm_concurrency", "4", "LLM requests in flight"),
    SettingSpec("LLM_TIMEOUT", "llm_timeout", "120", "seconds per LLM request"),
    SettingSpec("LLM_MAX_RETRIES", "llm_max_retries", "3", "retries per LLM request (429/5xx/timeouts)"),
    SettingSpec("LLM_DAILY_TOKEN_BUDGET", "llm_daily_token_budget", "0", "tokens per day; 0: no limit"),
    SettingSpec("LLM_PASS_RATE", "llm_pass_rate", "0.55", "share of papers the cheap stage passes to the LLM"),
    SettingSpec("EMBEDDING_MODEL", "embedding_model", "", "use /v1/embeddings as the cheap stage"),
    # Telegram
    SettingSpec("TELEGRAM_BOT_TOKEN", "telegram_bot_token", "", "from @BotFather; empty: no Telegram"),
    SettingSpec("TELEGRAM_API_BASE_URL", "telegram_api_base_url", "https://api.telegram.org/bot", "Bot API base"),
    SettingSpec("TELEGRAM_WEBHOOK_URL", "telegram_webhook_url", "", "public HTTPS URL; empty: long polling"),
    SettingSpec("TELEGRAM_WEBHOOK_SECRET", "telegram_webhook_secret", "", "webhook secret_token"),
    SettingSpec("TELEGRAM_WEBHOOK_PORT", "telegram_webhook_port", "8443", "local port for webhook mode"),
    # Slack
    SettingSpec("SLACK_BOT_TOKEN", "slack_bot_token", "", "xoxb- token; empty: no Slack"),
    SettingSpec("SLACK_SIGNING_SECRET", "slack_signing_secret", "", "HTTP mode request signing secret"),
    SettingSpec("SLACK_APP_TOKEN", "slack_app_token", "", "xapp- token; set: Socket Mode"),
    SettingSpec("SLACK_API_BASE_URL", "slack_api_base_url", "https://slack.com/api/", "Slack Web API base"),
    SettingSpec("SLACK_PORT", "slack_port", "3000", "HTTP mode port for /slack/events"),
    # scheduling
    SettingSpec("SCORING_TIME", "scoring_time", "20:30", "daily fetch and scoring, HH:MM"),
    SettingSpec("SCORING_TIMEZONE", "scoring_timezone", "America/New_York", "timezone of SCORING_TIME"),
    SettingSpec("SCORING_DAYS", "scoring_days", "sun,mon,tue,wed,thu", "days the scoring job runs"),
    SettingSpec("LOG_LEVEL", "log_level", "INFO", "DEBUG, INFO, WARNING or ERROR"),
)


def _parse_hhmm(value: str, env: str) -> str:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"{env} must be HH:MM, got {value!r}")
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ConfigError(f"{env} must be HH:MM, got {value!r}")
    return f"{hour:02d}:{minute:02d}"


@dataclass(frozen=True, slots=True)
class Settings:
    database_path: Path
    fields_path: Path
    digest_dir: Path
    sample_input: Path
    arxiv_rss_url: str
    arxiv_api_url: str
    arxiv_categories: tuple[str, ...]
    arxiv_announce_types: tuple[str, ...]
    arxiv_request_delay: float
    arxiv_max_tries: int
    arxiv_timeout: float
    digest_language: str
    min_score: float
    digest_max_per_field: int
    digest_timezone: str
    digest_time: str
    openai_api_key: str
    openai_base_url: str
    llm_model: str
    llm_json_mode: str
    llm_batch_size: int
    llm_abstract_chars: int
    llm_concurrency: int
    llm_timeout: float
    llm_max_retries: int
    llm_daily_token_budget: int
    llm_pass_rate: float
    embedding_model: str
    telegram_bot_token: str
    telegram_api_base_url: str
    telegram_webhook_url: str
    telegram_webhook_secret: str
    telegram_webhook_port: int
    slack_bot_token: str
    slack_signing_secret: str
    slack_app_token: str
    slack_api_base_url: str
    slack_port: int
    scoring_time: str
    scoring_timezone: str
    scoring_days: tuple[str, ...]
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, root: Path = PROJECT_ROOT) -> Settings:
        """Build settings from a mapping; collect every problem and raise them in one ConfigError."""
        raw = {s.attr: (env.get(s.env) or s.default).strip() for s in SPECS}
        env_of = {s.attr: s.env for s in SPECS}
        problems: list[str] = []
        values: dict[str, object] = {}

        def number(attr: str, kind: type, lo: float, hi: float) -> None:
            try:
                val = kind(raw[attr])
            except ValueError:
                problems.append(f"{env_of[attr]} must be a number, got {raw[attr]!r}")
                return
            if not lo <= val <= hi:
                problems.append(f"{env_of[attr]} must be between {lo} and {hi}, got {raw[attr]!r}")
                return
            values[attr] = val

        def path(attr: str) -> None:
            p = Path(raw[attr]).expanduser()
            values[attr] = p if p.is_absolute() else root / p

        def csv(attr: str) -> tuple[str, ...]:
            return tuple(x.strip() for x in raw[attr].split(",") if x.strip())

        def tz(attr: str) -> None:
            try:
                ZoneInfo(raw[attr])
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"{env_of[attr]} is not a known timezone: {raw[attr]!r}")
            values[attr] = raw[attr]

        def hhmm(attr: str) -> None:
            try:
                values[attr] = _parse_hhmm(raw[attr], env_of[attr])
            except ConfigError as exc:
                problems.append(str(exc))

        for attr in ("database_path", "fields_path", "digest_dir", "sample_input"):
            path(attr)
        for attr in ("arxiv_rss_url", "arxiv_api_url", "openai_api_key", "openai_base_url", "llm_model",
                     "embedding_model", "telegram_bot_token", "telegram_api_base_url", "telegram_webhook_url",
                     "telegram_webhook_secret", "slack_bot_token", "slack_signing_secret", "slack_app_token",
                     "slack_api_base_url"):
            values[attr] = raw[attr]
        values["arxiv_categories"] = csv("arxiv_categories")
        if not values["arxiv_categories"]:
            problems.append("ARXIV_CATEGORIES must name at least one category")
        values["arxiv_announce_types"] = csv("arxiv_announce_types")
        bad_types = set(values["arxiv_announce_types"]) - {"new", "cross", "replace", "replace-cross"}  # type: ignore[call-overload]
        if bad_types:
            problems.append(f"ARXIV_ANNOUNCE_TYPES has unknown types: {', '.join(sorted(bad_types))}")
        number("arxiv_request_delay", float, 0, 3600)
        number("arxiv_max_tries", int, 1, 20)
        number("arxiv_timeout", float, 1, 3600)
        values["digest_language"] = raw["digest_language"].lower()
        if values["digest_language"] not in LANGUAGES:
            problems.append(f"DIGEST_LANGUAGE must be zh or en, got {raw['digest_language']!r}")
        number("min_score", float, 1, 10)
        number("digest_max_per_field", int, 1, 1000)
        tz("digest_timezone")
        hhmm("digest_time")
        values["llm_json_mode"] = raw["llm_json_mode"]
        if raw["llm_json_mode"] not in ("json_schema", "json_object"):
            problems.append(f"LLM_JSON_MODE must be json_schema or json_object, got {raw['llm_json_mode']!r}")
        number("llm_batch_size", int, 1, 200)
        number("llm_abstract_chars", int, 200, 5000)
        number("llm_concurrency", int, 1, 64)
        number("llm_timeout", float, 1, 3600)
        number("llm_max_retries", int, 0, 10)
        number("llm_daily_token_budget", int, 0, 10**12)
        number("llm_pass_rate", float, 0.01, 1.0)
        number("telegram_webhook_port", int, 1, 65535)
        number("slack_port", int, 1, 65535)
        hhmm("scoring_time")
        tz("scoring_timezone")
        values["scoring_days"] = tuple(d.lower()[:3] for d in csv("scoring_days"))
        bad_days = set(values["scoring_days"]) - {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}  # type: ignore[call-overload]
        if bad_days or not values["scoring_days"]:
            problems.append(f"SCORING_DAYS must be day names like sun,mon,tue, got {raw['scoring_days']!r}")
        values["log_level"] = raw["log_level"].upper()
        if values["log_level"] not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {raw['log_level']!r}")
        if problems:
            raise ConfigError("invalid settings:\n  - " + "\n  - ".join(problems))
        return cls(**values)  # type: ignore[arg-type]

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key)

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            val = getattr(self, f.name)
            if f.name in SECRET_FIELDS and val:
                val = "***"
            parts.append(f"{f.name}={val!r}")
        return f"Settings({', '.join(parts)})"


def render_env_example() -> str:
    """Spell `.env.example` from SPECS, so the file and the code cannot drift."""
    lines = ["# arxiv-digest settings. Copy to .env and fill in what you use; every value shown is the default.", ""]
    for spec in SPECS:
        lines.append(f"# {spec.help}")
        lines.append(f"{spec.env}={spec.default}")
    return "\n".join(lines) + "\n"
