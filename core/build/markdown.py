"""Spell neutral digest blocks as the Markdown file readers already know (pure).

Layout only: which papers and what they say is decided in core/build/digest.py. Untrusted text
(titles, authors, reasons) is escaped so it cannot open links, emphasis or headings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.build.links import link_label
from core.models import Block, Heading, Note, PaperItem

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def escape_md(text: str) -> str:
    """Escape the Markdown specials that could open emphasis, code, links or HTML in one line of text.

    Untrusted text never starts a line here (it follows `### `, `- **...:** ` or `> `), so `#`, `-`
    and `|` need no escaping.
    """
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def to_markdown(blocks: Sequence[Block]) -> str:
    """Render blocks: `#` title, `>` header notes, `##` per field, `###` per paper with its details."""
    labels = {
        "authors": "Authors",
        "published": "Published",
        "link": "Link",
        "reason": "Reason",
        "code": "Code",
    }
    out: list[str] = []
    in_header = True
    for block in blocks:
        if isinstance(block, Heading):
            if block.level == 1:
                out.append(f"# {escape_md(block.text)}")
            else:
                in_header = False
                out.extend(["", f"## {escape_md(block.text)}"])
        elif isinstance(block, Note):
            if in_header:
                out.append(f"> {escape_md(block.text)}")
            else:
                out.extend(["", f"_{escape_md(block.text)}_"])
        elif isinstance(block, PaperItem):
            in_header = False
            out.extend(
                [
                    "",
                    f"### [Score: {block.score:.1f}/10] {escape_md(block.title)}",
                    f"- **{labels['authors']}:** {escape_md(block.authors)}",
                    f"- **{labels['published']}:** {block.published.isoformat()}",
                    f"- **{labels['link']}:** [{block.url}]({block.url})",
                    f"- **{labels['reason']}:** {escape_md(block.why)}",
                ]
            )
            if block.code_url:
                out.append(f"- **{labels['code']}:** [{link_label(block.code_url)}](<{block.code_url}>)")
    return "\n".join(out).rstrip() + "\n"
