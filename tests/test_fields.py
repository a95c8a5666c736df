"""Field definitions: parsing the TOML, the optional weighted `terms`, and the shipped defaults."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.fields import load_fields, parse_fields, parse_term

ROOT = Path(__file__).resolve().parent.parent

ONE_FIELD = """
[[field]]
slug = "efficient-llm"
name_en = "Efficient LLM training and inference"
description_en = "Making LLM training and inference faster and cheaper."
keywords = ["LLM infra"]
ignore = ["medical/health"]
terms = ["KV cache^3", "quantiz*^2.5", "throughput", "random forest^-1"]
"""


def test_parse_fields_reads_terms_as_written() -> None:
    [field] = parse_fields(ONE_FIELD)
    assert field.terms == ("KV cache^3", "quantiz*^2.5", "throughput", "random forest^-1")
    assert field.keywords == ("LLM infra",)
    assert field.name_zh == field.name_en  # falls back to English


def test_a_field_without_terms_gets_an_empty_tuple() -> None:
    [field] = parse_fields(ONE_FIELD.replace('terms = ["KV cache^3", "quantiz*^2.5", "throughput", '
                                             '"random forest^-1"]\n', ""))
    assert field.terms == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KV cache^3", ("KV cache", 3.0)),
        ("quantiz*", ("quantiz*", 1.0)),
        ("  speculative decoding ^ 2.5 ", ("speculative decoding", 2.5)),
        ("random forest^-1", ("random forest", -1.0)),
        ("C++", ("C++", 1.0)),
    ],
)
def test_parse_term_splits_phrase_and_weight(text: str, expected: tuple[str, float]) -> None:
    assert parse_term(text) == expected


@pytest.mark.parametrize("term", ["^2", "a^b^2", "quan*tiz", "*", "x^20", "KV cache^"])
def test_a_malformed_term_is_a_config_error_naming_the_field(term: str) -> None:
    text = ONE_FIELD.replace('"throughput"', f'"{term}"')
    with pytest.raises(ConfigError, match=r"efficient-llm"):
        parse_fields(text, "fields.toml")


def test_terms_must_be_a_list() -> None:
    text = ONE_FIELD.split("terms =")[0] + 'terms = "KV cache"\n'
    with pytest.raises(ConfigError, match="terms must be a list"):
        parse_fields(text)


def test_editing_terms_changes_the_fingerprint_and_a_field_without_terms_keeps_its_old_one() -> None:
    [field] = parse_fields(ONE_FIELD)
    assert replace(field, terms=("KV cache^2",)).fingerprint != field.fingerprint
    bare = replace(field, terms=())
    old_blob = json.dumps(
        [bare.slug, bare.name_en, bare.description_en, bare.description_zh, bare.keywords, bare.ignore],
        ensure_ascii=False,
    )
    assert bare.fingerprint == hashlib.sha256(old_blob.encode()).hexdigest()[:16]


def test_the_default_fields_load_and_each_has_terms() -> None:
    fields = load_fields(ROOT / "data" / "fields" / "default.toml")
    assert [f.slug for f in fields] == [
        "dl-theory", "interpretability", "native-multimodal", "efficient-llm",
        "multimodal-agents", "safety-alignment", "llm-new-tech",
    ]
    for field in fields:
        assert field.terms, field.slug
        assert all(parse_term(t)[1] != 0 for t in field.terms)
