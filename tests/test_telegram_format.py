"""The Telegram formatter (pure): escaping, layout, the 4096-unit split and the inline keyboards."""

from __future__ import annotations

import re
from datetime import date

from bot.commands import Button, Reply
from bot.telegram import (
    MAX_CALLBACK_DATA,
    MAX_MESSAGE_LENGTH,
    TelegramPart,
    decode_callback,
    encode_callback,
    render_reply,
    to_telegram_html,
    utf16_len,
)
from core.build.digest import digest_blocks
from core.models import Block, Heading, Note, PaperItem
from tests.fakes.telegram import parse_html
from tests.samples import sample_digest

DAY = date(2026, 1, 19)


def big_digest(n: int = 30, why: str = "") -> list[Block]:
    """A digest of `n` papers over three fields, with markup characters and long reasons."""
    blocks: list[Block] = [Heading("ArXiv Daily Digest - 2026-01-19"), Note("Read 900 new papers.")]
    for i in range(n):
        if i % 10 == 0:
            blocks.append(Heading(f"Field <{i // 10}> & friends", level=2))
        blocks.append(PaperItem(
            arxiv_id=f"2601.{i:05d}", title=f"Paper {i}: <Attention> & the x_{i} trick", url=f"https://arxiv.org/abs/2601.{i:05d}",
            authors=", ".join(f"Author {i}-{k}" for k in range(6)), published=DAY, score=9.0 - i / 10,
            why=why or f"Reason {i}: " + "it compresses the KV cache & keeps accuracy; " * 8, field_slug="f",
        ))
    blocks.append(Note("3 more papers reached the threshold but are not listed."))
    return blocks


def plain(part: TelegramPart) -> str:
    return parse_html(part.html)[0]


def test_sample_digest_is_one_escaped_message_with_a_vote_row_per_paper() -> None:
    [part] = to_telegram_html(digest_blocks(sample_digest("en")), "en")
    assert part.html.startswith("<b>ArXiv Daily Digest - 2026-01-19</b>\nUpdated (Beijing time): 2026-01-19 12:45:54\n")
    assert "\n\n<b>Efficient LLM training and inference</b>\n\n" in part.html
    assert ('1. <b>9.0</b> <a href="https://arxiv.org/abs/2601.00001">KV-cache &lt;compression&gt; &amp; the *fast* '
            'path</a>\n<i>Author 1-0, ') in part.html
    assert "\nCompresses the KV cache 8x." in part.html and "Score: 9" not in part.html
    assert "Quantized attention_kernels" in part.html and "Red-teaming [LLMs] at scale" in part.html
    assert "below the threshold" not in part.html
    assert "KV-cache <compression> & the *fast* path" in plain(part)  # what the reader sees
    assert [[(b.label, b.data) for b in row] for row in part.keyboard] == [
        [("1 👍", "v:+1:2601.00001"), ("1 👎", "v:-1:2601.00001")],
        [("2 👍", "v:+1:2601.00002"), ("2 👎", "v:-1:2601.00002")],
        [("3 👍", "v:+1:2601.00003"), ("3 👎", "v:-1:2601.00003")],
    ]
    markup = part.reply_markup()
    assert markup is not None and markup.inline_keyboard[0][0].callback_data == "v:+1:2601.00001"


def test_chinese_digest_parses_as_telegram_html() -> None:
    [part] = to_telegram_html(digest_blocks(sample_digest("zh")), "zh")
    text = plain(part)
    assert text.startswith("ArXiv 每日推荐 - 2026-01-19\n更新于北京时间")
    assert "高效大模型训练与推理" in text and "KV-cache <compression> & the *fast* path" in text


def test_a_30_paper_digest_splits_between_entries_within_the_limit() -> None:
    parts = to_telegram_html(big_digest(30), "en")
    assert len(parts) > 1
    seen: list[int] = []
    for part in parts:
        assert utf16_len(part.html) <= MAX_MESSAGE_LENGTH
        text = plain(part)  # every part is well-formed on its own: no tag or entry cut in two
        numbers = [int(n) for n in re.findall(r"^(\d+)\. ", text, re.MULTILINE)]
        seen.extend(numbers)
        for n in numbers:
            i = n - 1
            title = f"Paper {i}: &lt;Attention&gt; &amp; the x_{i} trick"
            link = f'<a href="https://arxiv.org/abs/2601.{i:05d}">{title}</a>'
            assert link in part.html
            assert f"Reason {i}: " in text and f"Author {i}-5" in text
        assert [row[0].label for row in part.keyboard] == [f"{n} 👍" for n in numbers]
        assert not part.html.rstrip().endswith("friends</b>"), "a field heading must not end a message"
    assert seen == list(range(1, 31))
    assert any("(continued)" in plain(p) for p in parts[1:])
    assert plain(parts[-1]).endswith("3 more papers reached the threshold but are not listed.")


def test_the_limit_counts_utf16_units_not_characters() -> None:
    parts = to_telegram_html(big_digest(30, why="😀 emoji-heavy 理由 " * 60), "en")
    assert all(utf16_len(p.html) <= MAX_MESSAGE_LENGTH for p in parts)
    assert any(len(p.html) < utf16_len(p.html) for p in parts)


def test_overlong_fields_are_cut_so_one_entry_always_fits() -> None:
    item = PaperItem(arxiv_id="2601.00001", title="T&" * 3000, url="https://arxiv.org/abs/2601.00001",
                     authors="A, " * 2000, published=DAY, score=9.0, why="&<>" * 5000, field_slug="f")
    [part] = to_telegram_html([Heading("Field", level=2), item], "en")
    assert utf16_len(part.html) <= MAX_MESSAGE_LENGTH
    text = plain(part)
    assert text.endswith("…") and "T&T&" in text


def test_a_long_note_splits_at_line_breaks() -> None:
    lines = [f"line {i} <b> & more text to make it longer" for i in range(400)]
    parts = to_telegram_html([Note("\n".join(lines))], "en", votes=False)
    assert len(parts) > 1
    assert all(utf16_len(p.html) <= MAX_MESSAGE_LENGTH for p in parts)
    assert "\n".join(plain(p) for p in parts).split("\n") == lines


def test_info_replies_keep_their_own_buttons_and_no_vote_rows() -> None:
    reply = Reply((Note("This chat's fields: all fields."),),
                  buttons=((Button("✅ Efficient LLM", "field", "efficient-llm"),),
                           (Button("▫️ Safety", "field", "safety-alignment"),)))
    [part] = render_reply(reply, "en")
    assert part.html == "This chat's fields: all fields."
    assert [[(b.label, b.data) for b in row] for row in part.keyboard] == [
        [("✅ Efficient LLM", "f:efficient-llm")], [("▫️ Safety", "f:safety-alignment")]]


def test_search_results_are_not_numbered_and_digest_replies_are() -> None:
    item = PaperItem(arxiv_id="2601.00001", title="T", url="https://arxiv.org/abs/2601.00001", authors="A",
                     published=DAY, score=8.0, why="W", field_slug="f")
    [info] = render_reply(Reply((Heading("Results for \"t\":", level=2), item)), "en")
    assert info.html == '<b>Results for "t":</b>\n\n<b>8.0</b> <a href="https://arxiv.org/abs/2601.00001">T</a>\n<i>A</i>\nW'
    assert info.keyboard == ()
    [digest] = render_reply(Reply((item,), kind="digest"), "en")
    assert digest.html.startswith("1. <b>8.0</b>") and len(digest.keyboard) == 1


def test_callback_data_round_trips_and_oversized_data_is_dropped() -> None:
    assert encode_callback(Button("👍", "vote", "+1:2601.08151")) == "v:+1:2601.08151"
    assert decode_callback("v:+1:2601.08151") == ("vote", "+1:2601.08151")
    assert decode_callback("f:efficient-llm") == ("field", "efficient-llm")
    assert encode_callback(Button("x", "field", "s" * MAX_CALLBACK_DATA)) is None
    [part] = to_telegram_html([Note("n")], "en", buttons=((Button("x", "field", "s" * 80),),))
    assert part.keyboard == ()


def test_no_blocks_give_no_messages() -> None:
    assert to_telegram_html([], "en") == []
