"""What a Feishu/Lark subscription is: a group custom bot's webhook URL, and its optional signing secret.

Owns the check of a webhook URL as an operator pastes it (`feishu:WEBHOOK_URL [--secret SECRET]` on the
command line) and how one is shown without its token. Pure: no IO, no store, no clock. The webhook URL is
the subscription's chat id (ChatRef("feishu", url)); the secret is stored apart (core/store/secrets.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from core.models import ChatRef

PLATFORM = "feishu"
EXAMPLE = "feishu:https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-..."
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})  # plain http only here (tests, a local relay)
MAX_URL = 2000
MAX_SECRET = 256
SHOWN_TOKEN = 6  # characters of the hook token shown in listings and logs
_TOKEN_CHAR = r"[^/\s?#\"'<>]"
_HOOK_TOKEN = re.compile(rf"(/hook/{_TOKEN_CHAR}{{{SHOWN_TOKEN}}}){_TOKEN_CHAR}+")


@dataclass(frozen=True, slots=True)
class FeishuTarget:
    """A parsed `feishu:` subscription: where it posts, and the secret that signs (None: unsigned)."""

    chat: ChatRef
    secret: str | None

    def __repr__(self) -> str:  # never the secret, never the whole token
        return f"FeishuTarget({show_webhook(self.chat.chat_id)}, signed={self.secret is not None})"


def parse_webhook_url(text: str) -> str:
    """The webhook URL as Feishu or Lark gives it, checked; else ValueError saying what is wrong.

    Any https URL with a host is accepted (open.feishu.cn, open.larksuite.com, a private deployment's);
    plain http only on a loopback host. The scheme and host are lower-cased; the path is kept as given.
    """
    url = text.strip()
    if not url:
        raise ValueError(f"no webhook URL given (expected {EXAMPLE})")
    if len(url) > MAX_URL:
        raise ValueError(f"the webhook URL is longer than {MAX_URL} characters")
    if any(c.isspace() for c in url):
        raise ValueError("the webhook URL holds a space; paste it as Feishu shows it")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise ValueError(f"not a URL: {url!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise ValueError(f"not a webhook URL: {show_webhook(url)} (expected {EXAMPLE})")
    if scheme == "http" and host not in LOOPBACK:
        raise ValueError(f"the webhook URL must be https: {show_webhook(url)}")
    if parts.username or parts.password:
        raise ValueError("the webhook URL must not hold a user name or password")
    if parts.fragment:
        raise ValueError("the webhook URL must not hold a #fragment")
    if parts.path.rstrip("/") in ("",):
        raise ValueError(f"the webhook URL has no path: {show_webhook(url)} (expected {EXAMPLE})")
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def parse_feishu_target(url: str, secret: str | None = None) -> FeishuTarget:
    """`feishu:URL` and its `--secret` as a subscription target; ValueError when either is malformed."""
    if secret is not None:
        secret = secret.strip()
        if len(secret) > MAX_SECRET:
            raise ValueError(f"the signing secret is longer than {MAX_SECRET} characters")
        if any(c.isspace() or not c.isprintable() for c in secret):
            raise ValueError("the signing secret holds a space or a control character; copy it again")
    return FeishuTarget(ChatRef(PLATFORM, parse_webhook_url(url)), secret or None)


def show_webhook(url: str) -> str:
    """The webhook URL with its token cut short, for listings and logs: anyone holding the URL may post."""
    head, slash, token = url.rstrip("/").rpartition("/")
    if not slash or len(token) <= SHOWN_TOKEN:
        return url
    return f"{head}/{token[:SHOWN_TOKEN]}…"


def hide_webhook_tokens(text: str) -> str:
    """`text` with every webhook token (the path segment after /hook/) cut short, as show_webhook does."""
    return _HOOK_TOKEN.sub(r"\1…", text)
