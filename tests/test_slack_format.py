"""The Slack formatter (pure): Block Kit within Slack's limits, escaped, split, with buttons."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.commands import Button, vote_buttons
from bot.slack import command_line, escape_mrkdwn, slack_commands, slack_link, to_slack_messages
from core.build.digest import build_digest, digest_blocks
from core.models import Block, Heading, Note, PaperItem
from tests.fakes.slack import check_blocks
from tests.samples import DAY, FIELDS, paper, sample_digest, score


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "text" and isinstance(v, str)] + [
            t for k, v in node.items() if not (k == "text" and isinstance(v, str)) for t in _texts(v)]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _long_digest(n: int = 60) -> list[Any]:
    papers = [paper(i, f"Paper {i} on KV caches & <things>", authors=9) for i in range(1, n + 1)]
    scored = [(p, score(p, FIELDS[i % 2].slug, 7 + (i % 3), "A fitting reason. " * 20)) for i, p in enumerate(papers)]
    digest = build_digest(DAY, FIELDS, scored, lang="en", min_score=7, max_per_field=100, papers_read=n,
                          model="offline", tokens=0, updated_at=None)
    return digest_blocks(digest)


def test_sample_digest_is_one_message_with_header_field_sections_papers_and_votes() -> None:
    [message] = to_slack_messages(digest_blocks(sample_digest("en")), "en")
    blocks = message["blocks"]
    assert check_blocks(blocks) is None
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "ArXiv Daily Digest - 2026-01-19",
                                                     "emoji": True}}
    assert blocks[1]["type"] == "context" and "Read 251 new papers." in _texts(blocks[1])
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sections[0] == "*Efficient LLM training and inference*"
    assert sections[1].startswith("<https://arxiv.org/abs/2601.00001|")
    assert "Score *9.0*/10 · Author 1-0" in sections[1] and "et al." in sections[1]
    assert sections[1].endswith("Compresses the KV cache 8x.")  # the stray "Score: 9" line is gone
    votes = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [e["value"] for e in votes[:2]] == ["+1:2601.00001", "-1:2601.00001"]
    assert [e["text"]["text"] for e in votes[:2]] == ["👍", "👎"]
    assert len(votes) == 6 and len(set(_action_ids(blocks))) == 6
    assert message["text"].startswith("ArXiv Daily Digest - 2026-01-19\n")


def test_titles_are_escaped_everywhere_and_link_labels_keep_out_pipes() -> None:
    messages = to_slack_messages(digest_blocks(sample_digest("zh")), "zh")
    everything = [t for m in messages for t in _texts(m["blocks"])] + [m["text"] for m in messages]
    assert any("KV-cache &lt;compression&gt; &amp; the *fast* path" in t for t in everything)
    assert not any("<compression>" in t or "& the" in t for t in everything)
    assert "评分 *9.0*/10" in "\n".join(everything)
    assert escape_mrkdwn("a & <b> > c") == "a &amp; &lt;b&gt; &gt; c"
    assert slack_link("https://arxiv.org/abs/1|x", "A | B > C <@U1>") == (
        "<https://arxiv.org/abs/1%7Cx|A ¦ B &gt; C &lt;@U1&gt;>")
    item = PaperItem("2601.00009", "Pipes | and <!channel> & co", "https://arxiv.org/abs/2601.00009",
                     "A <b>", date(2026, 1, 19), 8.0, "Why > because & <http://evil|click>", "efficient-llm")
    [message] = to_slack_messages([item], "en")
    text = message["blocks"][0]["text"]["text"]
    label = text[text.index("|") + 1 : text.index(">")]
    assert label == "Pipes ¦ and &lt;!channel&gt; &amp; co"
    assert text.count("<") == 1 and text.count(">") == 1  # the link itself is the only markup
    assert "<!channel>" not in message["text"] and "&lt;!channel&gt;" in message["text"]


def test_a_long_digest_is_split_within_slack_limits_and_keeps_every_paper_once() -> None:
    messages = to_slack_messages(_long_digest(60), "en")
    assert len(messages) > 1
    seen: list[str] = []
    for k, message in enumerate(messages, 1):
        blocks = message["blocks"]
        assert check_blocks(blocks) is None, k
        assert len(blocks) <= 50 and sum(len(t) for t in _texts(blocks)) <= 8000
        assert len(set(_action_ids(blocks))) == len(_action_ids(blocks))
        assert message["text"] and len(message["text"]) <= 3000
        if k > 1:
            assert message["text"].startswith(f"ArXiv Daily Digest - 2026-01-19 ({k}/{len(messages)})")
        # a paper's buttons travel with it, and a field heading is never the last block of a message
        assert blocks[-1]["type"] == "actions"
        seen += [e["value"][3:] for b in blocks if b["type"] == "actions" for e in b["elements"]][::2]
    assert sorted(seen) == sorted(f"2601.{i:05d}" for i in range(1, 61))


def test_oversized_texts_are_clipped_to_the_block_limits() -> None:
    huge = PaperItem("2601.00001", "&" * 5000, "https://arxiv.org/abs/2601.00001", "An Author, " * 500,
                     DAY, 9.0, "reason " * 2000, "efficient-llm")
    blocks: list[Block] = [Heading("T" * 400), Note("short"), Heading("F" * 4000, level=2), huge,
              Note("\n".join(f"line {i} " + "x" * 90 for i in range(200)))]
    messages = to_slack_messages(blocks, "en")
    for message in messages:
        assert check_blocks(message["blocks"]) is None
    first = messages[0]["blocks"]
    assert len(first[0]["text"]["text"]) == 150 and first[0]["text"]["text"].endswith("…")
    paper_text = next(b["text"]["text"] for b in first if b["type"] == "section" and "arxiv.org" in b["text"]["text"])
    assert len(paper_text) <= 3000 and "&amp;&amp;" in paper_text and "&am…" not in paper_text
    sections = [b for m in messages for b in m["blocks"] if b["type"] == "section"]
    note_sections = [b for b in sections if "line " in b["text"]["text"]]
    assert len(note_sections) > 1 and all(len(b["text"]["text"]) <= 3000 for b in note_sections)


def test_reply_buttons_are_rendered_and_commands_are_spelled_for_slack() -> None:
    rows = ((Button("✅ Efficient LLM", "field", "efficient-llm"),), (Button("▫️ Safety", "field", "safety-alignment"),))
    [message] = to_slack_messages([Note("Change it with /min_score 7.5 or /field. See https://arxiv.org/abs/x")],
                                  "en", buttons=rows, votes=False)
    section, actions = message["blocks"]
    assert section["text"]["text"] == "Change it with /arxiv min_score 7.5 or /arxiv field. See https://arxiv.org/abs/x"
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("field-1", "efficient-llm"), ("field-2", "safety-alignment")]
    item = next(b for b in digest_blocks(sample_digest("en")) if isinstance(b, PaperItem))
    [paper_message] = to_slack_messages([item], "en", buttons=(vote_buttons(item.arxiv_id),), votes=False)
    assert [e["value"] for e in paper_message["blocks"][1]["elements"]] == ["+1:2601.00001", "-1:2601.00001"]
    assert len(paper_message["blocks"]) == 2  # the reply's own vote row, not a second one
    assert slack_commands("data/fields and /fields and /field_x") == "data/fields and /arxiv fields and /field_x"


def test_the_text_after_arxiv_becomes_a_command_line() -> None:
    assert command_line("") == "/help"
    assert command_line("  field efficient-llm safety-alignment ") == "/field efficient-llm safety-alignment"
    assert command_line("/min_score 8") == "/min_score 8"
