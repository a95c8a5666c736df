"""Email delivery against a real SMTP server (aiosmtpd) on 127.0.0.1, through the real aiosmtplib client:
one multipart message per digest with its headers, escaping, SMTP's 4xx and 5xx, logins, connection reuse,
and the unsubscribe link working on the web server `serve` runs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.email.format import to_email
from bot.email.sender import EmailSender
from bot.unsubscribe import PREFIX, read_token, unsubscribe_app, unsubscribe_token
from bot.web import SiteServer
from core.build.digest import digest_blocks
from core.config import Settings
from core.deliver.delivery import deliver_due
from core.models import ChatRef, Subscription
from core.services import Services
from tests.fakes.smtp import FakeSMTP, fake_smtp, tls_contexts  # noqa: F401
from tests.samples import sample_digest, scored_sample

DAY = date(2025, 12, 22)
NOW = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)
READER = ChatRef("email", "reader@example.org")


def clock() -> datetime:
    return NOW


@pytest.fixture
async def email_day(tmp_path: Path, fake_smtp: FakeSMTP) -> AsyncIterator[tuple[Services, EmailSender]]:
    """The sample day scored, and an EmailSender pointed at the fake server."""
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_DIR": str(tmp_path / "digests"),
                                  **fake_smtp.settings()})
    async with scored_sample(settings, NOW) as services:
        sender = EmailSender(settings, clock=clock)
        try:
            yield services, sender
        finally:
            await sender.close()


async def subscribe(services: Services, *addresses: str, **settings: object) -> None:
    for address in addresses:
        sub = Subscription(ChatRef("email", address), min_score=5.0, lang="en")
        await services.store.save_subscription(replace(sub, **settings), NOW)  # type: ignore[arg-type]


def parts(message: object) -> tuple[str, str]:
    """The text and HTML parts' decoded content."""
    text = message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    html = message.get_body(("html",)).get_content()  # type: ignore[attr-defined]
    return text, html


async def test_a_digest_arrives_as_one_multipart_message_with_unsubscribe_headers(
    email_day: tuple[Services, EmailSender], fake_smtp: FakeSMTP,
) -> None:
    services, sender = email_day
    await subscribe(services, READER.chat_id)
    report = await deliver_due(services, {"email": sender}, now=NOW, force=True)
    assert (report.sent, report.failed, report.parts) == (1, 0, 1)
    [got] = fake_smtp.received
    msg = got.message
    assert got.mail_from == "digest@example.org" and got.rcpt_to == (READER.chat_id,)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["To"] == READER.chat_id and msg["From"] == "arXiv digest <digest@example.org>"
    assert msg["Subject"] == "ArXiv Daily Digest - 2025-12-22"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(https://digest\.example\.org/unsubscribe/([^>]+))>", msg["List-Unsubscribe"])
    assert link and read_token("test-unsubscribe-secret-0123456789", link[2]) == READER
    assert re.fullmatch(r"<digest\.2025-12-22\.[0-9a-f]{16}@example\.org>", msg["Message-ID"])
    text, html = parts(msg)
    stored = await services.store.scored_papers(DAY, (await services.store.runs_of_day(DAY))[0].scorer_key)
    best = max(stored, key=lambda ps: ps[1].value or 0)[0]
    assert best.title.split()[0] in text and best.url in text and f'href="{best.url}"' in html
    assert link[1] in text and f'href="{link[1]}"' in html, "both parts carry the unsubscribe link"
    assert "<style" not in html and 'style="' in html, "inline CSS only"
    row = await services.store.get_delivery(READER, DAY)
    assert row is not None and row.state == "sent"


async def test_titles_with_markup_are_escaped_in_the_html_and_plain_in_the_text(
    email_day: tuple[Services, EmailSender], fake_smtp: FakeSMTP,
) -> None:
    _, sender = email_day
    [content] = sender.render(digest_blocks(sample_digest("en")), "en")
    assert content.subject == "ArXiv Daily Digest - 2026-01-19"
    await sender.send_part(READER, content)
    text, html = parts(fake_smtp.received[0].message)
    assert "KV-cache &lt;compression&gt; &amp; the *fast* path" in html
    assert "<compression>" not in html and "Red-teaming [LLMs] at scale" in html
    assert "KV-cache <compression> & the *fast* path" in text
    assert "Score: 9" not in text and "Compresses the KV cache 8x." in html


def test_an_address_or_reason_with_markup_never_breaks_out_of_the_html() -> None:
    digest = sample_digest("en")
    blocks = [replace(b, why='"><script>alert(1)</script>') if hasattr(b, "why") else b
              for b in digest_blocks(digest)]
    content = to_email(blocks, "en")
    assert "<script>" not in content.html and "&lt;script&gt;" in content.html


async def test_the_message_id_is_the_same_for_a_resend_and_differs_per_subscription_and_day(
    email_day: tuple[Services, EmailSender], fake_smtp: FakeSMTP,
) -> None:
    _, sender = email_day
    [content] = sender.render(digest_blocks(sample_digest("en")), "en")
    [other_day] = sender.render(digest_blocks(replace(sample_digest("en"), day=date(2026, 1, 20))), "en")
    await sender.send_part(READER, content)
    await sender.send_part(READER, content)
    await sender.send_part(ChatRef("email", "other@example.org"), content)
    first, again, other = (r.message["Message-ID"] for r in fake_smtp.received)
    assert first == again and first != other
    assert content.day == date(2026, 1, 19) and other_day.day == date(2026, 1, 19), "the papers' day"


async def test_a_4xx_is_retried_at_the_next_tick_and_then_succeeds(
    email_day: tuple[Services, EmailSender], fake_smtp: FakeSMTP,
) -> None:
    services, sender = email_day
    await subscribe(services, READER.chat_id)
    fake_smtp.fail_next_data("451 4.3.0 Temporary server error, try again later")
    first = await deliver_due(services, {"email": sender}, now=NOW, force=True)
    assert (first.sent, first.failed, first.deactivated) == (0, 1, 0) and fake_smtp.received == []
    row = await services.store.get_delivery(READER, DAY)
    assert row is not None and row.state == "failed" and "451" in row.last_error
    fake_smtp.rcpt_failures.append("450 4.2.1 Mailbox busy, try again later")
    second = await deliver_due(services, {"email": sender}, now=NOW, force=True)
    assert (second.sent, second.failed) == (0, 1)
    third = await deliver_due(services, {"email": sender}, now=NOW, force=True)
    assert (third.sent, third.failed) == (1, 0)
    assert len(fake_smtp.to(READER.chat_id)) == 1
    sub = await services.store.get_subscription(READER)
    assert sub is not None and sub.active


async def test_a_5xx_recipient_is_deactivated_with_its_settings_kept_and_the_others_still_get_theirs(
    email_day: tuple[Services, EmailSender], fake_smtp: FakeSMTP,
) -> None:
    services, sender = email_day
    await subscribe(services, "gone@example.org", "reader@example.org", digest_time="07:30",
                    timezone="Europe/Berlin", fields=("efficient-llm",))
    fake_smtp.refuse("gone@example.org")
    report = await deliver_due(services, {"email": sender}, now=NOW, force=True)
    assert (report.sent, report.deactivated, report.failed) == (1, 1, 0)
    gone = await services.store.get_subscription(ChatRef("email", "gone@example.org"))
    assert gone is not None and not gone.active
    assert (gone.digest_time, gone.timezone, gone.fields, gone.min_score) == ("07:30", "Europe/Berlin",
                                                                              ("efficient-llm",), 5.0)
    assert len(fake_smtp.to("reader@example.org")) == 1 and fake_smtp.to("gone@example.org") == []
    again = await deliver_due(services, {"email": sender}, now=NOW, force=True)
    assert again.sent == 0 and len(fake_smtp.received) == 1, "an inactive address gets nothing more"


@pytest.mark.parametrize("reply", ["550 5.7.1 Relaying denied", "530 5.7.0 Authentication required",
                                   "554 5.7.1 Sender address rejected: not owned by user"])
async def test_a_5xx_about_the_sender_fails_the_delivery_and_deactivates_nobody(
    email_day: tuple[Services, EmailSender], fake_smtp: FakeSMTP, reply: str,
) -> None:
    services, sender = email_day
    await subscribe(services, READER.chat_id)
    fake_smtp.rcpt_failures.append(reply)
    report = await deliver_due(services, {"email": sender}, now=NOW, force=True)
    assert (report.failed, report.deactivated) == (1, 0)
    sub = await services.store.get_subscription(READER)
    assert sub is not None and sub.active


async def test_a_login_is_used_when_set_and_a_refused_login_deactivates_nobody(tmp_path: Path) -> None:
    server = await FakeSMTP(auth=True).start()
    try:
        env = {"DATABASE_PATH": str(tmp_path / "db.sqlite"), **server.settings()}
        async with scored_sample(Settings.from_env(env), NOW) as services:
            await subscribe(services, READER.chat_id)
            wrong = EmailSender(services.settings.replace(smtp_password="wrong-password"), clock=clock)
            report = await deliver_due(services, {"email": wrong}, now=NOW, force=True)
            assert (report.failed, report.deactivated) == (1, 0) and server.received == []
            right = EmailSender(services.settings, clock=clock)
            report = await deliver_due(services, {"email": right}, now=NOW, force=True)
            await right.close()
            assert report.sent == 1 and server.logins == ["digest"] and len(server.received) == 1
    finally:
        await server.close()


async def test_one_connection_carries_many_messages_and_a_closed_one_is_reopened(
    email_day: tuple[Services, EmailSender], fake_smtp: FakeSMTP,
) -> None:
    services, sender = email_day
    [content] = sender.render(digest_blocks(sample_digest("en")), "en")
    for i in range(3):
        await sender.send_part(ChatRef("email", f"r{i}@example.org"), content)
    assert fake_smtp.connections == 1
    for protocol in fake_smtp._protocols:  # the server drops idle connections (a timeout)
        assert protocol.transport is not None
        protocol.transport.close()
    await sender.send_part(ChatRef("email", "r3@example.org"), content)
    assert fake_smtp.connections == 2 and len(fake_smtp.received) == 4


@pytest.mark.parametrize("security", ["starttls", "ssl"])
async def test_starttls_and_implicit_tls_deliver_over_a_verified_connection(tmp_path: Path, security: str) -> None:
    server_tls, client_tls = tls_contexts()
    server = await FakeSMTP(auth=True, security=security, tls=server_tls).start()
    try:
        env = {"DATABASE_PATH": str(tmp_path / "db.sqlite"), **server.settings()}
        async with scored_sample(Settings.from_env(env), NOW) as services:
            await subscribe(services, READER.chat_id)
            untrusting = EmailSender(services.settings, clock=clock)  # the system's CAs: not our test CA
            report = await deliver_due(services, {"email": untrusting}, now=NOW, force=True)
            assert (report.failed, report.deactivated) == (1, 0) and server.received == []
            assert "SMTP server unreachable" in report.errors[0]
            sender = EmailSender(services.settings, clock=clock, tls_context=client_tls)
            report = await deliver_due(services, {"email": sender}, now=NOW, force=True)
            await sender.close()
            assert report.sent == 1 and server.logins == ["digest"] and len(server.received) == 1
    finally:
        await server.close()


# -- the unsubscribe link -------------------------------------------------------------------------------


def test_a_token_names_its_subscription_and_a_changed_one_names_none() -> None:
    secret = "0123456789abcdef-secret"
    token = unsubscribe_token(secret, READER)
    assert read_token(secret, token) == READER
    other = unsubscribe_token(secret, ChatRef("email", "other@example.org"))
    forged = other.split(".")[0] + "." + token.split(".")[1]
    assert read_token(secret, forged) is None
    assert read_token("another-secret-of-16+", token) is None
    assert read_token(secret, "garbage") is None and read_token(secret, "!!.??") is None


async def test_the_link_in_the_email_unsubscribes_with_one_click_and_a_plain_visit_changes_nothing(
    email_day: tuple[Services, EmailSender], fake_smtp: FakeSMTP, unused_tcp_port: int,
) -> None:
    services, sender = email_day
    await subscribe(services, READER.chat_id)
    await deliver_due(services, {"email": sender}, now=NOW, force=True)
    header = fake_smtp.received[0].message["List-Unsubscribe"].strip("<>")
    local = header.replace("https://digest.example.org", f"http://127.0.0.1:{unused_tcp_port}")
    server = SiteServer(services, root=services.settings.digest_dir / "site",
                        mounts={PREFIX: unsubscribe_app(services, clock)})
    await server.start(port=unused_tcp_port)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(local) as resp:  # a link scanner, or the reader's first click
                page = await resp.text()
                assert resp.status == 200 and '<form method="post">' in page and READER.chat_id in page
            sub = await services.store.get_subscription(READER)
            assert sub is not None and sub.active, "a GET never unsubscribes"
            async with http.post(local, data={"List-Unsubscribe": "One-Click"}) as resp:  # RFC 8058
                assert resp.status == 200 and "Unsubscribed" in await resp.text()
            sub = await services.store.get_subscription(READER)
            assert sub is not None and not sub.active and sub.min_score == 5.0
            async with http.post(local.replace(local[-4:], "AAAA")) as resp:
                assert resp.status == 404
    finally:
        await server.stop()
    report = await deliver_due(services, {"email": sender}, now=NOW, force=True, day=DAY)
    assert report.sent == 0 and len(fake_smtp.received) == 1
