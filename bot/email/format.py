"""Email's formatter (pure): neutral blocks as one digest's subject, plain text and inline-CSS HTML, and the
multipart message one recipient gets.

Owns escaping for HTML (every title, author list, reason and heading is untrusted), the layout mail
clients render alike (one centred table, inline styles only: Gmail and Outlook drop <style> blocks in
part), the footer with the recipient's unsubscribe link, and the headers: List-Unsubscribe with
List-Unsubscribe-Post (RFC 8058 one-click) and a Message-ID derived from the subscription and the day,
so a message resent after a crash is recognisable as the same one. It does no IO: no SMTP, no store, no clock.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from core.build.digest import format_score
from core.models import Block, ChatRef, Heading, Note, PaperItem

FOOTER = {
    "zh": {
        "why": "你收到这封邮件，是因为 {address} 订阅了 arXiv 每日推荐。",
        "unsubscribe": "退订",
        "score": "评分",
    },
    "en": {
        "why": "You get this email because {address} is subscribed to the arXiv daily digest.",
        "unsubscribe": "Unsubscribe",
        "score": "score",
    },
}
TEXT_WIDTH_RULE = "=" * 60
# Inline styles: mail clients ignore or strip <style>, so every element carries its own.
FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,'PingFang SC','Microsoft YaHei',sans-serif"
STYLE = {
    "body": f"margin:0;padding:0;background:#f4f5f7;{FONT}",
    "table": "max-width:640px;width:100%;margin:0 auto;background:#ffffff;border-collapse:collapse",
    "cell": "padding:20px 24px",
    "h1": "margin:0 0 8px 0;font-size:22px;line-height:1.3;color:#1a1a1a",
    "note": "margin:0;font-size:13px;line-height:1.5;color:#5f6368",
    "h2": "margin:24px 0 8px 0;padding-bottom:4px;font-size:17px;color:#b31b1b;border-bottom:1px solid #e0e0e0",
    "paper": "margin:0 0 16px 0",
    "title": "font-size:15px;font-weight:bold;line-height:1.4;color:#1a0dab;text-decoration:underline",
    "score": "display:inline-block;margin-left:6px;padding:1px 6px;border-radius:3px;background:#e8f0fe;"
             "color:#1a1a1a;font-size:12px;font-weight:bold",
    "authors": "margin:2px 0 0 0;font-size:13px;color:#5f6368",
    "why": "margin:4px 0 0 0;font-size:14px;line-height:1.5;color:#202124",
    "footer": "padding:16px 24px;font-size:12px;line-height:1.5;color:#80868b;border-top:1px solid #e0e0e0",
    "link": "color:#5f6368",
}


@dataclass(frozen=True, slots=True)
class EmailContent:
    """One digest as email, before it has a recipient: the same for every subscriber of one rendering."""

    subject: str
    text: str
    html: str  # the body's inner HTML; `build_message` wraps it with the recipient's footer
    lang: str
    day: date | None  # the digest's listing day (its papers'), for the Message-ID


def _e(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=True)


def _safe_url(url: str) -> str:
    """A link target: only http(s), escaped for an attribute (a title is never a URL, but a URL may be odd)."""
    return html.escape(url, quote=True) if url.startswith(("https://", "http://")) else "#"


def to_email(blocks: Sequence[Block], lang: str) -> EmailContent:
    """Spell a digest's blocks as an email's subject, text part and HTML part (pure)."""
    words = FOOTER.get(lang, FOOTER["en"])
    subject = ""
    text: list[str] = []
    body: list[str] = []
    days: list[date] = []
    notes: list[str] = []

    def flush_notes() -> None:
        if notes:
            body.append("".join(f'<p style="{STYLE["note"]}">{_e(n)}</p>' for n in notes))
            notes.clear()

    for block in blocks:
        if isinstance(block, Heading) and block.level == 1:
            flush_notes()
            subject = subject or " ".join(block.text.split())
            text += [block.text, TEXT_WIDTH_RULE]
            body.append(f'<h1 style="{STYLE["h1"]}">{_e(block.text)}</h1>')
        elif isinstance(block, Heading):
            flush_notes()
            text += ["", f"## {block.text}", ""]
            body.append(f'<h2 style="{STYLE["h2"]}">{_e(block.text)}</h2>')
        elif isinstance(block, Note):
            text.append(block.text)
            notes.append(block.text)
        elif isinstance(block, PaperItem):
            flush_notes()
            days.append(block.published)
            score = format_score(block.score)
            text += [f"* {' '.join(block.title.split())}  [{score}]", f"  {block.url}"]
            if block.authors:
                text.append(f"  {block.authors}")
            if block.why:
                text.append(f"  {block.why}")
            text.append("")
            body.append(
                f'<div style="{STYLE["paper"]}">'
                f'<a href="{_safe_url(block.url)}" style="{STYLE["title"]}">{_e(block.title)}</a>'
                f'<span style="{STYLE["score"]}" title="{_e(words["score"])}">{_e(score)}</span>'
                + (f'<p style="{STYLE["authors"]}">{_e(block.authors)}</p>' if block.authors else "")
                + (f'<p style="{STYLE["why"]}">{_e(block.why)}</p>' if block.why else "")
                + "</div>"
            )
    flush_notes()
    return EmailContent(subject=subject or "arXiv digest", text="\n".join(text).rstrip() + "\n",
                        html="\n".join(body), lang=lang, day=max(days) if days else None)


def message_id(chat: ChatRef, day: date | None, content: EmailContent, domain: str) -> str:
    """`<digest.DAY.HASH@domain>`: the same for every send of one subscription's digest of one day."""
    what = day.isoformat() if day is not None else hashlib.sha256(content.text.encode()).hexdigest()[:12]
    who = hashlib.sha256(f"{chat.platform}:{chat.chat_id}".encode()).hexdigest()[:16]
    return f"<digest.{what}.{who}@{domain}>"


def build_message(
    content: EmailContent, *, chat: ChatRef, sender: str, unsubscribe_url: str, sent_at: datetime,
) -> EmailMessage:
    """The multipart/alternative message for one recipient: text, then HTML, with unsubscribe headers (pure)."""
    words = FOOTER.get(content.lang, FOOTER["en"])
    address = chat.chat_id
    domain = sender.rpartition("@")[2].rstrip(">").strip() or "localhost"
    why = words["why"].format(address=address)
    msg = EmailMessage()
    msg["Subject"] = content.subject
    msg["From"] = sender
    msg["To"] = address
    msg["Date"] = format_datetime(sent_at)
    msg["Message-ID"] = message_id(chat, content.day, content, domain)
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Id"] = f"arXiv digest <digest.{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a digest
    msg.set_content(f"{content.text}\n-- \n{why}\n{words['unsubscribe']}: {unsubscribe_url}\n")
    page = (
        f'<!DOCTYPE html><html lang="{_e(content.lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(content.subject)}</title></head>"
        f'<body style="{STYLE["body"]}">'
        f'<table role="presentation" style="{STYLE["table"]}" cellpadding="0" cellspacing="0">'
        f'<tr><td style="{STYLE["cell"]}">{content.html}</td></tr>'
        f'<tr><td style="{STYLE["footer"]}">{_e(why)} '
        f'<a href="{_safe_url(unsubscribe_url)}" style="{STYLE["link"]}">{_e(words["unsubscribe"])}</a></td></tr>'
        "</table></body></html>\n"
    )
    msg.add_alternative(page, subtype="html")
    return msg
