"""A real SMTP server (aiosmtpd) in the test's event loop on 127.0.0.1, port 0, for tests and benchmarks.

It speaks real SMTP (EHLO, optional AUTH LOGIN/PLAIN without TLS, MAIL, RCPT, DATA, RSET, QUIT) to the real
aiosmtplib client, records every accepted message parsed as an EmailMessage, and can be told to refuse:
an address at RCPT (`refuse`), the next DATA commands (`fail_next_data`), or to answer DATA slowly
(`delay`). It never reaches the network.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USERNAME, PASSWORD = "digest", "s3cret-pass"


@dataclass
class Received:
    """One message the server accepted: its envelope and the parsed message."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes
    message: EmailMessage = field(init=False)

    def __post_init__(self) -> None:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.message = parsed


class FakeSMTP:
    """aiosmtpd's SMTP protocol served with `loop.create_server` in the running loop."""

    def __init__(self, *, auth: bool = False, security: str = "none", tls: ssl.SSLContext | None = None) -> None:
        """`security` is SMTP_SECURITY's: "starttls" requires STARTTLS, "ssl" speaks TLS from the start, both with
        the server context `tls` (see `tls_contexts`)."""
        self.auth = auth
        self.security = security
        self.tls = tls
        self.received: list[Received] = []
        self.refused: dict[str, str] = {}  # address -> the reply to its RCPT
        self.data_failures: list[str] = []  # replies to the next DATA commands
        self.rcpt_failures: list[str] = []  # replies to the next RCPT commands, whatever the address
        self.delay = 0.0  # seconds before answering DATA
        self.in_flight = 0  # DATA commands received and not yet answered
        self.connections = 0
        self.logins: list[str] = []
        self._server: asyncio.AbstractServer | None = None
        self._protocols: list[SMTP] = []
        self.host, self.port = "127.0.0.1", 0

    # -- what tests set and read -----------------------------------------------------------------------

    def refuse(self, address: str, reply: str = "550 5.1.1 <{address}>: Recipient address rejected: unknown") -> None:
        self.refused[address] = reply.format(address=address)

    def fail_next_data(self, reply: str = "451 4.3.0 Temporary server error, try again later", times: int = 1) -> None:
        self.data_failures += [reply] * times

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_to]

    def settings(self) -> dict[str, str]:
        """The settings that point the app's email at this server."""
        env = {"SMTP_HOST": self.host, "SMTP_PORT": str(self.port), "SMTP_SECURITY": self.security,
               "EMAIL_FROM": "arXiv digest <digest@example.org>", "WEB_BASE_URL": "https://digest.example.org",
               "UNSUBSCRIBE_SECRET": "test-unsubscribe-secret-0123456789"}
        if self.auth:
            env |= {"SMTP_USERNAME": USERNAME, "SMTP_PASSWORD": PASSWORD}
        return env

    # -- aiosmtpd's handler hooks ---------------------------------------------------------------------

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.rcpt_failures:
            return self.rcpt_failures.pop(0)
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.in_flight += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.data_failures:
                return self.data_failures.pop(0)
            content = envelope.original_content or b""
            self.received.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), content))
            return "250 2.0.0 OK: queued"
        finally:
            self.in_flight -= 1

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USERNAME \
            and auth_data.password.decode() == PASSWORD
        if ok:
            self.logins.append(USERNAME)
        return AuthResult(success=ok, handled=False)

    def _protocol(self) -> SMTP:
        self.connections += 1
        with warnings.catch_warnings():  # "AUTH without TLS": on 127.0.0.1, in a test, that is the point
            warnings.simplefilter("ignore", UserWarning)
            starttls = self.security == "starttls"
            protocol = SMTP(self, hostname="fake-smtp.test", ident="fake-smtp", auth_require_tls=False,
                            authenticator=self._authenticate if self.auth else None, auth_required=False,
                            tls_context=self.tls if starttls else None, require_starttls=starttls)
        self._protocols.append(protocol)
        return protocol

    async def start(self) -> FakeSMTP:
        loop = asyncio.get_running_loop()
        implicit = self.tls if self.security == "ssl" else None
        self._server = await loop.create_server(self._protocol, "127.0.0.1", 0, ssl=implicit)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for protocol in self._protocols:
                if protocol.transport is not None:
                    protocol.transport.close()
            await self._server.wait_closed()
            self._server = None


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts: a certificate for 127.0.0.1 from a throwaway CA the client alone trusts."""
    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@pytest.fixture
async def fake_smtp() -> AsyncIterator[FakeSMTP]:
    server = await FakeSMTP().start()
    try:
        yield server
    finally:
        await server.close()
