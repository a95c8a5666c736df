"""Settings come from a mapping, fail with one message listing every problem, and never show secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import PROJECT_ROOT, SECRET_FIELDS, Settings, _problems, documented_settings, render_env_example
from core.errors import ConfigError


def test_defaults_build_with_an_empty_environment() -> None:
    s = Settings.from_env({})
    assert s.arxiv_rss_url == "https://rss.arxiv.org/rss"
    assert s.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert s.arxiv_categories == ("cs.AI", "cs.CL", "cs.CV", "cs.LG")
    assert s.arxiv_announce_types == ("new", "cross")
    assert s.database_path == Path.cwd() / "data" / "arxiv_digest.db"
    assert s.fields_path is None  # the shipped default fields
    assert s.digest_language == "zh" and s.min_score == 7.0
    assert s.llm_json_mode == "auto"
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


def test_relative_paths_resolve_against_the_given_root(tmp_path: Path) -> None:
    s = Settings.from_env({"DATABASE_PATH": "x/y.db", "DIGEST_DIR": str(tmp_path)}, root=tmp_path / "r")
    assert s.database_path == tmp_path / "r" / "x" / "y.db"
    assert s.digest_dir == tmp_path


def test_env_example_lists_exactly_the_settings_with_their_defaults() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    assert example == render_env_example(), "regenerate .env.example from core.config.render_env_example()"
    pairs = dict(re.findall(r"^([A-Z_]+)=(.*)$", example, re.MULTILINE))
    assert pairs == {env: default for env, default, _ in documented_settings()}
    assert {env.lower() for env in pairs} == set(Settings.model_fields)


def test_each_setting_is_named_by_its_field_in_capitals_and_described() -> None:
    for name, info in Settings.model_fields.items():
        assert info.alias == name.upper()
        assert info.description, f"{name} has no description"
    assert SECRET_FIELDS <= set(Settings.model_fields)


def test_only_the_mapping_is_read_never_the_process_environment_or_a_dotenv(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIN_SCORE", "3")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-process")
    (tmp_path / ".env").write_text("DIGEST_LANGUAGE=en\nLLM_BATCH_SIZE=5\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({"LLM_MODEL": "m"})
    assert (s.min_score, s.openai_api_key, s.digest_language, s.llm_batch_size, s.llm_model) == (7.0, "", "zh", 25, "m")


def test_names_match_exactly_and_blank_values_mean_the_default() -> None:
    s = Settings.from_env({"min_score": "3", "MIN_SCORE ": "4", "DIGEST_MAX_PER_FIELD": "  ", "LLM_MODEL": " m ",
                           "SAMPLE_INPUT": "gone.jsonl", "PATH": "/usr/bin"})
    assert (s.min_score, s.digest_max_per_field, s.llm_model) == (7.0, 10, "m")
    assert not hasattr(s, "sample_input")


def test_values_are_parsed_and_normalised() -> None:
    s = Settings.from_env({"ARXIV_CATEGORIES": " cs.LG , ,math.OC", "SCORING_DAYS": "Monday,TUE", "DIGEST_TIME": "9:5",
                           "DIGEST_LANGUAGE": "EN", "LOG_LEVEL": "debug", "ARXIV_REQUEST_DELAY": "0.5",
                           "LLM_DAILY_TOKEN_BUDGET": "5000", "DIGEST_DIR": "~/digests"})
    assert s.arxiv_categories == ("cs.LG", "math.OC") and s.scoring_days == ("mon", "tue")
    assert (s.digest_time, s.digest_language, s.log_level) == ("09:05", "en", "DEBUG")
    assert s.arxiv_request_delay == 0.5 and s.llm_daily_token_budget == 5000
    assert s.digest_dir == Path.home() / "digests"


def test_every_rule_names_its_variable() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"ARXIV_CATEGORIES": ",", "ARXIV_ANNOUNCE_TYPES": "new,bogus", "SCORING_DAYS": "mon,someday",
                           "LOG_LEVEL": "loud", "LLM_JSON_MODE": "xml", "SLACK_PORT": "0", "SCORING_TIME": "8pm",
                           "SCORING_TIMEZONE": "Nowhere", "LLM_PASS_RATE": "2"})
    lines = str(err.value).splitlines()[1:]
    assert sorted(line.split(":")[0].strip(" -") for line in lines) == sorted([
        "ARXIV_CATEGORIES", "ARXIV_ANNOUNCE_TYPES", "LLM_PASS_RATE", "SLACK_PORT", "SCORING_TIME", "SCORING_TIMEZONE",
        "SCORING_DAYS", "LOG_LEVEL", "LLM_JSON_MODE"])
    assert "bogus" in str(err.value) and "'8pm'" in str(err.value)


def test_a_bad_secret_is_named_but_its_value_never_shown() -> None:
    with pytest.raises(ValidationError) as err:
        Settings.model_validate({"OPENAI_API_KEY": 123456789, "MIN_SCORE": "0"})
    problems = _problems(err.value)
    assert any(p.startswith("OPENAI_API_KEY:") for p in problems)
    assert any(p.startswith("MIN_SCORE:") and "'0'" in p for p in problems)
    assert "123456789" not in "\n".join(problems)


def test_replace_changes_a_copy_without_validating_and_rejects_unknown_names() -> None:
    s = Settings.from_env({})
    t = s.replace(slack_port=0, digest_language="en")
    assert (t.slack_port, t.digest_language) == (0, "en") and (s.slack_port, s.digest_language) == (3000, "zh")
    with pytest.raises(TypeError, match="sample_input"):
        s.replace(sample_input=Path("x"))
    with pytest.raises(ValidationError):
        s.min_score = 3  # type: ignore[misc]


def test_str_redacts_secrets_too() -> None:
    s = Settings.from_env({"OPENAI_API_KEY": "sk-live-123", "TELEGRAM_WEBHOOK_SECRET": "hook-secret"})
    assert repr(s).startswith("Settings(database_path=")
    for text in (repr(s), str(s), f"{s}"):
        assert "sk-live-123" not in text and "hook-secret" not in text and "openai_api_key='***'" in text


def test_a_folder_of_time_zones_is_a_clear_error_not_a_traceback() -> None:
    with pytest.raises(ConfigError, match="DIGEST_TIMEZONE"):
        Settings.from_env({"DIGEST_TIMEZONE": "America"})
