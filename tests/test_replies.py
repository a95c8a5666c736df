"""core/score/replies.py on the messy replies real models write: what is unambiguous is recovered."""

from __future__ import annotations

import pytest

from core.score.replies import json_values, parse_score_reply

SENT = ["2601.00001", "2601.00002", "2601.00003"]
FIELDS = ["efficient-llm", "safety-alignment"]


def _read(reply: str) -> dict[str, tuple[str, float, str]]:
    return {i: (e.field, e.score, e.reason) for i, e in parse_score_reply(reply, SENT, FIELDS).items()}


def test_a_fenced_block_with_prose_around_it_is_read() -> None:
    reply = ('Sure! Here are the scores:\n```json\n{"scores": [{"id": "2601.00001", "field": "efficient-llm",'
             ' "score": 8, "reason": "KV cache"}]}\n```\nLet me know if you need more.')
    assert _read(reply) == {"2601.00001": ("efficient-llm", 8.0, "KV cache")}


def test_a_fence_the_model_never_closed_is_read_to_the_end() -> None:
    reply = '```json\n{"scores": [{"id": "2601.00001", "field": "efficient-llm", "score": 9, "reason": "x"}]}'
    assert _read(reply) == {"2601.00001": ("efficient-llm", 9.0, "x")}


def test_single_quotes_and_trailing_commas_are_read_as_json5() -> None:
    reply = ("{'scores': [{'id': '2601.00001', 'field': 'safety-alignment', 'score': 7,"
             " 'reason': \"it's an audit\",},]}")
    assert _read(reply) == {"2601.00001": ("safety-alignment", 7.0, "it's an audit")}


def test_a_reply_cut_off_mid_array_keeps_every_entry_that_closed() -> None:
    reply = ('{"scores": [{"id": "2601.00001", "field": "efficient-llm", "score": 8, "reason": "a"},'
             ' {"id": "2601.00002", "field": "safety-alignment", "score": 6, "reason": "b"},'
             ' {"id": "2601.00003", "field": "efficient-llm", "sco')
    assert _read(reply) == {"2601.00001": ("efficient-llm", 8.0, "a"), "2601.00002": ("safety-alignment", 6.0, "b")}


@pytest.mark.parametrize(("written", "value"), [
    ("8", 8.0), ("8/10", 8.0), ("8 / 10", 8.0), ("7.5/10", 7.5), ("9 out of 10", 9.0), ("6分", 6.0),
])
def test_scores_written_as_text_out_of_ten_are_read(written: str, value: float) -> None:
    reply = f'{{"id": "2601.00002", "field": "efficient-llm", "score": "{written}", "reason": "r"}}'
    assert _read(reply) == {"2601.00002": ("efficient-llm", value, "r")}


@pytest.mark.parametrize("written", ["7-8", "high", "", "8/5", "about 8"])
def test_an_ambiguous_score_is_not_guessed(written: str) -> None:
    reply = f'{{"scores": [{{"id": "2601.00001", "field": "efficient-llm", "score": "{written}"}}]}}'
    assert _read(reply) == {}


def test_prose_with_a_stray_bracket_before_the_json_still_reads_it() -> None:
    reply = ('Scores [see below]: {"id": "2601.00003", "field": "efficient-llm", "score": 5,'
             ' "reason": "weak"} and that\'s all')
    assert _read(reply) == {"2601.00003": ("efficient-llm", 5.0, "weak")}


def test_salvage_never_takes_ids_or_fields_that_were_not_sent() -> None:
    reply = ('{"scores": [{"id": "9999.99999", "field": "efficient-llm", "score": 10},'
             ' {"id": "2601.00001", "field": "invented", "score": 10}, {"id": "2601.00002", "fie')
    assert _read(reply) == {}


def test_deeply_unclosed_junk_reads_as_nothing_quickly() -> None:
    assert json_values("{" * 100_000) == []
    assert json_values("[" * 50_000 + "'") == []
