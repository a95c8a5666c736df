"""Email's Sender: one multipart message per digest over SMTP (aiosmtplib), through a small pool of
connections; SMTP's replies become DeliveryError.

Owns the SMTP connections (SMTP_SECURITY: STARTTLS, implicit TLS or none; login when SMTP_USERNAME is
set), reusing each for many messages and reconnecting when the server closed one, and the meaning of
SMTP's replies: 4xx is transient (the ledger retries at the next tick), 5xx to the recipient's RCPT is
permanent (the subscription deactivates, settings kept, as a blocked chat does), and 5xx that is about
us, not the reader (authentication, relaying, policy on our sender) is logged for the operator and never
deactivates anyone. It formats nothing (format.py).

A message is sent as MAIL, RCPT, DATA on one connection. A reused connection the server closed while
idle fails at MAIL, before anything was sent, and is retried once on a fresh one. Nothing is retried
after DATA went out: whether the server took it is unknown, and the ledger's next pass sends it again
with the same Message-ID (the one duplicate the ledger allows, as for a part on the wire at a kill).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from datetime import datetime

import aiosmtplib

from bot.email.format import EmailContent, build_message, to_email
from bot.unsubscribe import unsubscribe_url
from core.config import Settings
from core.errors import DeliveryError
from core.models import Block, ChatRef

log = logging.getLogger(__name__)

PLATFORM = "email"
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
CONNECTIONS = 4  # SMTP connections at most, reused; most providers allow a handful per client
TIMEOUT = 30.0  # seconds per SMTP command
# Codes and enhanced status classes (RFC 3463) that are about us, not the recipient: a wrong login, relaying
# refused to an unauthenticated client, our sender's policy. Every recipient would get the same answer.
OUR_CODES = frozenset({530, 534, 535, 538})
OUR_WORDS = ("relay", "authenticat", "auth required", "sender")


class EmailSender:
    """core.deliver.delivery.Sender for email: each digest is one part, one message per recipient.

    `connect` builds an SMTP client (tests pass one for a server without TLS); `clock` stamps the Date header.
    """

    platform = PLATFORM

    def __init__(
        self, settings: Settings, *, clock: Callable[[], datetime], connections: int = CONNECTIONS,
        timeout: float = TIMEOUT, tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.timeout = timeout
        self.tls_context = tls_context
        self.envelope_from = _bare_address(settings.email_from)
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)

    def render(self, blocks: Sequence[Block], lang: str) -> list[EmailContent]:
        """A digest as one email's content, the same for every recipient of this rendering (pure)."""
        return [to_email(blocks, lang)]

    async def send_part(self, chat: ChatRef, part: object) -> None:
        """Send the digest to one address; return once the server accepted it, else raise DeliveryError."""
        if chat.platform != PLATFORM or not isinstance(part, EmailContent):
            raise TypeError(f"EmailSender cannot send {type(part).__name__} to {chat.platform}")
        s = self.settings
        message = build_message(
            part, chat=chat, sender=s.email_from, sent_at=self.clock(),
            unsubscribe_url=unsubscribe_url(s.web_base_url, s.unsubscribe_secret, chat),
        )
        raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        async with self._slots:
            await self._send(chat, raw)

    async def _send(self, chat: ChatRef, raw: bytes) -> None:
        for fresh in (False, True):
            smtp = await self._connection(chat, fresh=fresh)
            try:
                await smtp.mail(self.envelope_from)
            except aiosmtplib.SMTPServerDisconnected:
                await _close(smtp)
                if fresh:
                    raise DeliveryError(f"email to {chat.chat_id}: the SMTP server closed the connection") from None
                continue  # idle too long on a reused connection: nothing was sent, try once on a new one
            except aiosmtplib.SMTPResponseException as exc:
                await self._release(smtp, reset=True)
                raise self._refused(chat, exc, "MAIL FROM") from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                await _close(smtp)
                raise _unreachable(chat, exc) from exc
            break
        try:
            await smtp.rcpt(chat.chat_id)
        except aiosmtplib.SMTPResponseException as exc:
            await self._release(smtp, reset=True)
            raise self._refused(chat, exc, "RCPT TO") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            await _close(smtp)
            raise _unreachable(chat, exc) from exc
        try:
            await smtp.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            await self._release(smtp, reset=True)
            raise self._refused(chat, exc, "DATA") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            await _close(smtp)
            raise _unreachable(chat, exc) from exc
        await self._release(smtp)

    async def _connection(self, chat: ChatRef, *, fresh: bool) -> aiosmtplib.SMTP:
        if self._idle and not fresh:
            return self._idle.pop()
        s = self.settings
        security = s.smtp_security
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port or DEFAULT_PORTS[security], timeout=self.timeout,
            use_tls=security == "ssl", start_tls=True if security == "starttls" else False,
            tls_context=self.tls_context,
        )
        try:
            await smtp.connect()
            if s.smtp_username:
                await smtp.login(s.smtp_username, s.smtp_password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            await _close(smtp)
            log.error("the SMTP server refused the login of SMTP_USERNAME (%s): check SMTP_USERNAME and "
                      "SMTP_PASSWORD", exc.code)
            raise DeliveryError(f"email to {chat.chat_id}: SMTP login refused ({exc.code})") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            await _close(smtp)
            raise _unreachable(chat, exc) from exc
        return smtp

    async def _release(self, smtp: aiosmtplib.SMTP, *, reset: bool = False) -> None:
        """Keep a healthy connection for the next message (after RSET when a transaction failed)."""
        if reset:
            try:
                await smtp.rset()
            except (aiosmtplib.SMTPException, OSError):
                await _close(smtp)
                return
        if smtp.is_connected:
            self._idle.append(smtp)

    def _refused(self, chat: ChatRef, exc: aiosmtplib.SMTPResponseException, stage: str) -> DeliveryError:
        """Translate an SMTP reply: 5xx at RCPT about the recipient is permanent; everything else is not."""
        code, text = exc.code, " ".join(str(exc.message).split())
        what = f"email to {chat.chat_id}: {stage} refused: {code} {text}"[:400]
        if 400 <= code < 500:
            return DeliveryError(what)  # transient: greylisting, a full queue, rate limits
        about_us = code in OUR_CODES or text.startswith(("5.7.", "5.3.", "5.5.")) or any(
            word in text.lower() for word in OUR_WORDS)
        if stage == "RCPT TO" and not about_us:
            log.warning("email address refused, deactivating %s: %s %s", chat.chat_id, code, text)
            return DeliveryError(what, permanent=True)
        log.error("the SMTP server refused a message for a reason about this sender, not the reader (%s): %s",
                  stage, what)
        return DeliveryError(what)

    async def close(self) -> None:
        """Say QUIT on every idle connection."""
        idle, self._idle = self._idle, []
        for smtp in idle:
            await _close(smtp)


def _bare_address(sender: str) -> str:
    return sender.rpartition("<")[2].rstrip(">").strip() if "<" in sender else sender


def _unreachable(chat: ChatRef, exc: BaseException) -> DeliveryError:
    reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
    log.warning("the SMTP server could not be reached for %s: %s", chat.chat_id, reason)
    return DeliveryError(f"email to {chat.chat_id}: SMTP server unreachable ({reason})"[:400])


async def _close(smtp: aiosmtplib.SMTP) -> None:
    try:
        if smtp.is_connected:
            await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
