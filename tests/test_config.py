"""Settings come from a mapping, fail with one message listing every problem, and never show secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT, SPECS, Settings, render_env_example
from core.errors import ConfigError


def test_defaults_build_with_an_empty_environment() -> None:
    s = Settings.from_env({})
    assert s.arxiv_rss_url == "https://rss.arxiv.org/rss"
    assert s.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert s.arxiv_categories == ("cs.AI", "cs.CL", "cs.CV", "cs.LG")
    assert s.arxiv_announce_types == ("new", "cross")
    assert s.database_path == PROJECT_ROOT / "data" / "arxiv_digest.db"
    assert s.digest_language == "zh" and s.min_score == 7.0
    assert s.llm_json_mode == "json_schema"
    assert not s.llm_enabled


def test_every_problem_is_reported_in_one_error() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"MIN_SCORE": "11", "DIGEST_LANGUAGE": "fr", "LLM_BATCH_SIZE": "many",
                           "DIGEST_TIMEZONE": "Mars/Olympus", "DIGEST_TIME": "25:00"})
    message = str(err.value)
    for name in ("MIN_SCORE", "DIGEST_LANGUAGE", "LLM_BATCH_SIZE", "DIGEST_TIMEZONE", "DIGEST_TIME"):
        assert name in message


def test_repr_redacts_every_secret() -> None:
    s = Settings.from_env({"OPENAI_API_KEY": "sk-live-123", "TELEGRAM_BOT_TOKEN": "123:abc",
                           "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "sig", "SLACK_APP_TOKEN": "xapp-1"})
    text = repr(s)
    for secret in ("sk-live-123", "123:abc", "xoxb-1", "'sig'", "xapp-1"):
        assert secret not in text
    assert s.openai_api_key == "sk-live-123"


def test_relative_paths_resolve_against_the_project_root(tmp_path: Path) -> None:
    s = Settings.from_env({"DATABASE_PATH": "x/y.db", "DIGEST_DIR": str(tmp_path)})
    assert s.database_path == PROJECT_ROOT / "x" / "y.db"
    assert s.digest_dir == tmp_path


def test_env_example_lists_exactly_the_settings_with_their_defaults() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    assert example == render_env_example(), "regenerate .env.example from core.config.render_env_example()"
    pairs = dict(re.findall(r"^([A-Z_]+)=(.*)$", example, re.MULTILINE))
    assert pairs == {spec.env: spec.default for spec in SPECS}
    assert {spec.attr for spec in SPECS} == set(Settings.__dataclass_fields__)
