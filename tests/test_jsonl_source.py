"""core/fetch/jsonl.py on the shipped sample days and on broken files."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from core.errors import SourceError
from core.fetch.jsonl import load_papers
from core.models import Paper

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "id": "2512.16928", "title": "Dion2: A Simple Method", "abstract": "An abstract.",
    "authors": ["Kwangjun Ahn"], "categories": ["cs.LG", "cs.DC"], "primary_category": "cs.LG",
    "published": "2025-12-22",
}
GOOD_PAPER = Paper(
    arxiv_id="2512.16928", title="Dion2: A Simple Method", abstract="An abstract.", authors=("Kwangjun Ahn",),
    categories=("cs.LG", "cs.DC"), primary_category="cs.LG", published=date(2025, 12, 22),
)


def write_lines(path: Path, *records: object) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_load_papers_reads_every_sample_day_in_date_order() -> None:
    papers = load_papers(ROOT / "data" / "arxiv")

    assert len(papers) == 505
    assert Counter(p.published for p in papers) == {
        date(2025, 12, 8): 123, date(2025, 12, 10): 144, date(2025, 12, 11): 122, date(2025, 12, 22): 116,
    }
    assert [p.published for p in papers] == sorted(p.published for p in papers)
    assert len({p.arxiv_id for p in papers}) == 505
    assert all(p.version == 1 and p.announce_type == "new" for p in papers)
    assert all(p.primary_category == p.categories[0] for p in papers)


def test_load_papers_reads_one_file_into_papers() -> None:
    papers = load_papers(ROOT / "data" / "arxiv" / "2025-12-22.jsonl")

    assert len(papers) == 116
    first = papers[0]
    assert first.arxiv_id == "2512.16928"
    assert first.title.startswith("Dion2")
    assert first.authors[0] == "Kwangjun Ahn"
    assert first.published == date(2025, 12, 22)


def test_load_papers_accepts_the_dev_labelled_format() -> None:
    papers = load_papers(ROOT / "data" / "dev-labelled")

    assert len(papers) == 375
    assert {p.published for p in papers} == {date(2026, 1, 19), date(2026, 1, 22)}


def test_load_papers_skips_blank_lines_and_ignores_extra_keys(tmp_path: Path) -> None:
    label = {"field": "dl-theory", "score": 8.0, "reason_zh": "好"}
    labelled = {**GOOD, "id": "2601.10781v2", "label": label}
    path = write_lines(tmp_path / "day.jsonl", GOOD, "", "   ", labelled)

    papers = load_papers(path)

    assert papers == [GOOD_PAPER, replace(GOOD_PAPER, arxiv_id="2601.10781")]  # version dropped


def test_load_papers_keeps_line_separators_inside_strings(tmp_path: Path) -> None:
    record = {**GOOD, "abstract": "One\u2028two\u0085three"}
    path = tmp_path / "day.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")

    [paper] = load_papers(path)

    assert paper.abstract == "One\u2028two\u0085three"


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("{not json", "Expecting property name"),
        ("[1, 2]", "expected a JSON object"),
        ({**GOOD, "id": "not-an-id"}, "not an arXiv id"),
        ({k: v for k, v in GOOD.items() if k != "title"}, "'title' must be a non-empty string"),
        ({**GOOD, "authors": "Kwangjun Ahn"}, "'authors' must be a list of strings"),
        ({**GOOD, "categories": [], "primary_category": ""}, "no 'primary_category'"),
        ({**GOOD, "published": "22/12/2025"}, "'published' must be a date"),
    ],
)
def test_a_bad_line_raises_source_error_naming_file_and_line(
    tmp_path: Path, bad: object, problem: str
) -> None:
    path = write_lines(tmp_path / "2025-12-22.jsonl", GOOD, "", bad)

    with pytest.raises(SourceError, match=problem) as err:
        load_papers(tmp_path)

    assert str(err.value).startswith(f"{path}:3: ")


def test_missing_path_and_empty_folder_raise_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_papers(tmp_path / "missing.jsonl")
    with pytest.raises(SourceError, match=r"no \*\.jsonl files"):
        load_papers(tmp_path)


def test_a_file_that_is_not_utf8_raises_source_error(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_bytes(b'{"id": "\xff"}\n')

    with pytest.raises(SourceError, match="cannot read"):
        load_papers(path)
