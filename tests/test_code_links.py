"""Code links: found in abstracts (and comments), shown in every digest format and in /paper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.commands import Commands
from bot.slack import to_slack_messages
from bot.telegram.format import to_telegram_html
from core.build.digest import build_digest, digest_blocks
from core.build.links import CodeLink, find_code_link, find_links, link_label
from core.build.markdown import to_markdown
from core.models import PaperItem
from tests.samples import DAY, FIELDS, UPDATED, paper, score
from tests.test_commands import caller, commands  # noqa: F401  (the fixture)


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("Code is available at https://github.com/AMAAI-Lab/MineROI-Net.", "https://github.com/AMAAI-Lab/MineROI-Net"),
        ("Our model is available at: github.com/zalishmahmud/impugan", "https://github.com/zalishmahmud/impugan"),
        ("See https://github.com/a/b/tree/main/src for details", "https://github.com/a/b"),
        (r"Code: \href{https://github.com/a/b.git}{this link}", "https://github.com/a/b"),
        ("weights (https://huggingface.co/org/model-7b).", "https://huggingface.co/org/model-7b"),
        ("data at https://huggingface.co/datasets/org/set, code soon", "https://huggingface.co/datasets/org/set"),
        ("Project page: https://whj363636.github.io/GSPN2/", "https://whj363636.github.io/GSPN2"),
        ("The website is available at treegrpo.github.io.", "https://treegrpo.github.io"),
        ("Project page: http://example.com/proj.", "https://example.com/proj"),
        ("Our project page is at https://jianglongye.com/power-to-precision", "https://jianglongye.com/power-to-precision"),
        ("Code is publicly available at https://github. com/AIPMLab/Gazeformer.", "https://github.com/AIPMLab/Gazeformer"),
        ("Code is available at https://github.com/ncsu-dk-lab.", "https://github.com/ncsu-dk-lab"),
        ("We open-source our models on https://huggingface.co/nri-ai", "https://huggingface.co/nri-ai"),
        ("a web interface at https://wwwy1031-avp-pro.hf.space.", "https://wwwy1031-avp-pro.hf.space"),
        ("A demo video is available at https://youtu.be/vexXXhv99oQ.", ""),
        ("It outperforms https://example.com/baseline in our tests", ""),
        ("See https://doi.org/10.1/x and https://github.com/features", ""),
        ("No link at all; e-mail me at someone@github.com", ""),
    ],
)
def test_code_links_are_found_and_normalised(text: str, url: str) -> None:
    assert find_code_link(text) == url


def test_a_repository_beats_a_model_and_a_project_page_and_comments_count() -> None:
    text = "Page: https://x.github.io/p/ weights: https://huggingface.co/o/m code https://github.com/o/r"
    assert [link.kind for link in find_links(text)] == ["code", "model", "project"]
    assert find_links("nothing here", "Comments: 12 pages; code at https://gitlab.com/g/r") == [
        CodeLink("https://gitlab.com/g/r", "code")]
    assert find_code_link("see https://github.com/o/r and https://GitHub.com/o/r") == "https://github.com/o/r"
    assert link_label("https://huggingface.co/o/m") == "Hugging Face"
    assert link_label("https://x.github.io/p") == "Project page"


def _digest_with_code() -> list[object]:
    with_code = paper(1, "Has <code> & more", abstract="We release it at https://github.com/org/repo.")
    without = paper(2, "No code here")
    scored = [(with_code, score(with_code, "efficient-llm", 9.0)), (without, score(without, "efficient-llm", 8.0))]
    digest = build_digest(DAY, FIELDS, scored, lang="en", min_score=7, max_per_field=10, papers_read=2,
                          model="offline", tokens=0, updated_at=UPDATED)
    return list(digest_blocks(digest))


def test_every_digest_format_shows_the_code_link() -> None:
    blocks = _digest_with_code()
    items = [b for b in blocks if isinstance(b, PaperItem)]
    assert [i.code_url for i in items] == ["https://github.com/org/repo", ""]
    markdown = to_markdown(blocks)  # type: ignore[arg-type]
    assert "- **Code:** [GitHub](<https://github.com/org/repo>)" in markdown
    assert markdown.count("**Code:**") == 1
    [part] = to_telegram_html(blocks, "en")  # type: ignore[arg-type]
    assert '💻 <a href="https://github.com/org/repo">GitHub</a>' in part.html
    [message] = to_slack_messages(blocks, "en")  # type: ignore[arg-type]
    assert "💻 <https://github.com/org/repo|GitHub>" in json.dumps(message["blocks"], ensure_ascii=False)


async def test_paper_command_shows_the_code_link(commands: Commands) -> None:  # noqa: F811
    from core.daily import run_day
    from tests.test_commands import NOW, SAMPLE

    await run_day(commands.services, now=NOW, input_path=SAMPLE, offline=True, write_markdown=False)
    reply = await commands.handle("/paper 2512.17065", caller())
    [item] = [b for b in reply.blocks if isinstance(b, PaperItem)]
    assert item.code_url == "https://github.com/dhruvdcoder/xlm-core"
    # every reply about a paper is the digest's own block: /search and /why show the link too
    found = await commands.handle(f"/search {item.title}", caller())
    assert [b.code_url for b in found.blocks if isinstance(b, PaperItem) and b.arxiv_id == "2512.17065"] == \
        ["https://github.com/dhruvdcoder/xlm-core"]
    why = await commands.handle("/why 2512.17065", caller())
    [explained] = [b for b in why.blocks if isinstance(b, PaperItem)]
    assert explained.code_url == "https://github.com/dhruvdcoder/xlm-core" and explained.why == ""


async def test_a_link_given_only_in_the_comment_is_stored_and_shown(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from core.store import Store

    commented = replace(paper(3, abstract="We study scaling. It helps."), comment="9 pages; code: github.com/org/x")
    async with Store.open(tmp_path / "db.sqlite") as store:
        await store.save_papers([commented], datetime(2026, 1, 19, tzinfo=UTC))
        stored = await store.get_paper(commented.arxiv_id)
    assert stored is not None and stored.comment == commented.comment
    digest = build_digest(DAY, FIELDS, [(stored, score(stored, "efficient-llm", 9.0))], lang="en", min_score=7,
                          max_per_field=10, papers_read=1, model="offline", tokens=0, updated_at=UPDATED)
    [item] = [b for b in digest_blocks(digest) if isinstance(b, PaperItem)]
    assert item.code_url == "https://github.com/org/x"
