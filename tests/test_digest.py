"""Digest choice and layout (pure), and the Markdown file against a stored expected copy."""

from __future__ import annotations

from pathlib import Path

from core.build.digest import build_digest, clean_reason, digest_blocks, short_authors
from core.build.markdown import escape_md, to_markdown
from core.models import Heading, Note, PaperItem
from tests.samples import DAY, FIELDS, sample_digest

EXPECTED = Path(__file__).parent / "data" / "expected_digest_zh.md"


def test_papers_are_grouped_by_field_highest_first_and_filtered_by_threshold() -> None:
    digest = sample_digest()
    assert [s.field.slug for s in digest.sections] == ["efficient-llm", "safety-alignment"]
    assert [p.arxiv_id for p, _ in digest.sections[0].items] == ["2601.00001", "2601.00002"]
    assert [p.arxiv_id for p, _ in digest.sections[1].items] == ["2601.00003"]
    high = sample_digest(min_score=7.6)
    assert [s.field.slug for s in high.sections] == ["efficient-llm"]


def test_a_capped_field_says_how_many_papers_were_left_out() -> None:
    digest = sample_digest(max_per_field=1, lang="en")
    assert len(digest.sections[0].items) == 1
    assert any("1 more papers" in n for n in digest.notes)


def test_reasons_lose_stray_score_and_field_lines() -> None:
    assert clean_reason("Score: 9\nCompresses the KV cache.\n**Field:** x\n评分：8") == "Compresses the KV cache."
    items = [b for b in digest_blocks(sample_digest()) if isinstance(b, PaperItem)]
    assert all("Score" not in i.why and "Field" not in i.why for i in items)


def test_authors_are_shortened_after_six() -> None:
    names = [f"A{i}" for i in range(8)]
    assert short_authors(names, "en") == "A0, A1, A2, A3, A4, A5, et al."
    assert short_authors(names[:6], "en") == "A0, A1, A2, A3, A4, A5"


def test_header_names_day_papers_model_and_tokens_in_each_language() -> None:
    zh = digest_blocks(sample_digest("zh"))
    assert zh[0] == Heading("ArXiv 每日推荐 - 2026-01-19", 1)
    notes = [b.text for b in zh if isinstance(b, Note)]
    assert notes[:3] == ["更新于北京时间：2026-01-19 12:45:54", "已自动阅读了 251 篇最新的论文。",
                         "使用模型：deepseek-chat | 消耗 Tokens：12,345"]
    en = digest_blocks(sample_digest("en"), timezone="Europe/Berlin")
    assert en[0] == Heading("ArXiv Daily Digest - 2026-01-19", 1)
    assert [b.text for b in en if isinstance(b, Note)][:3] == [
        "Updated (Europe/Berlin): 2026-01-19 05:45:54", "Read 251 new papers.", "Model: deepseek-chat | Tokens: 12,345"]
    assert Heading("Efficient LLM training and inference", 2) in en


def test_an_offline_digest_says_no_llm_was_used() -> None:
    digest = build_digest(DAY, FIELDS, [], lang="en", min_score=7, max_per_field=10, papers_read=3,
                          model="offline", tokens=0, updated_at=None)
    text = [b.text for b in digest_blocks(digest) if isinstance(b, Note)]
    assert "Model: offline scorer (no LLM configured) | Tokens: 0" in text
    assert "No paper reached the threshold of 7.0 today." in text


def test_a_day_without_announcement_says_so_and_lists_nothing() -> None:
    digest = build_digest(DAY, FIELDS, [], lang="zh", min_score=7, max_per_field=10, papers_read=0,
                          model="offline", tokens=0, updated_at=None, announced=False)
    blocks = digest_blocks(digest)
    assert not any(isinstance(b, PaperItem) for b in blocks)
    assert any(isinstance(b, Note) and "没有发布新论文" in b.text for b in blocks)


def test_markdown_escapes_untrusted_text() -> None:
    assert escape_md("a *b* [c](d) <e> _f_ `g`") == r"a \*b\* \[c\](d) \<e\> \_f\_ \`g\`"
    assert escape_md("line\nbreak") == "line break"


def test_markdown_matches_the_stored_expected_file() -> None:
    rendered = to_markdown(digest_blocks(sample_digest("zh")))
    assert rendered == EXPECTED.read_text(encoding="utf-8")
