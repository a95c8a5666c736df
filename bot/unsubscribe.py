"""One-click unsubscribe: signed tokens, and the small aiohttp app `serve` mounts at /unsubscribe/ on WEB_PORT.

Owns the token (the subscription, HMAC-SHA256-signed with UNSUBSCRIBE_SECRET: a link cannot be forged
for another address, and never expires, so an old email's link still works), the link built from
WEB_BASE_URL, and the two requests: POST (RFC 8058's one-click, sent by the mail client from the
List-Unsubscribe-Post header, and the button on the page) deactivates the subscription, keeping its
settings; GET only shows that button, because mail scanners and link previews fetch every link in a
message and must never unsubscribe anyone. It formats no digest and sends nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from core.models import ChatRef
from core.services import Services

log = logging.getLogger(__name__)

PREFIX = "/unsubscribe"
SERVICES_KEY = web.AppKey("services", Services)
CLOCK_KEY: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
PAGE = {
    "zh": {"ask": "退订 {address} 的 arXiv 每日推荐？", "button": "退订",
           "done": "已退订：{address} 不会再收到 arXiv 每日推荐。", "already": "{address} 已经退订。",
           "bad": "这个退订链接无效或已损坏。", "title": "退订"},
    "en": {"ask": "Unsubscribe {address} from the arXiv daily digest?", "button": "Unsubscribe",
           "done": "Unsubscribed: {address} will get no more arXiv digests.",
           "already": "{address} is already unsubscribed.",
           "bad": "This unsubscribe link is not valid (it may have been cut or changed).", "title": "Unsubscribe"},
}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, chat: ChatRef) -> bytes:
    return hmac.new(secret.encode(), f"unsubscribe\n{chat.platform}\n{chat.chat_id}".encode(), hashlib.sha256).digest()


def unsubscribe_token(secret: str, chat: ChatRef) -> str:
    """The subscription and its signature, URL-safe: `<base64 platform:chat_id>.<base64 HMAC>`."""
    return f"{_b64(f'{chat.platform}:{chat.chat_id}'.encode())}.{_b64(_signature(secret, chat))}"


def read_token(secret: str, token: str) -> ChatRef | None:
    """The subscription a token names, or None when it is malformed or its signature does not match."""
    who, dot, signature = token.partition(".")
    if not dot or not secret:
        return None
    try:
        platform, colon, chat_id = _unb64(who).decode("utf-8").partition(":")
        given = _unb64(signature)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not colon or not platform or not chat_id:
        return None
    chat = ChatRef(platform, chat_id)
    return chat if hmac.compare_digest(given, _signature(secret, chat)) else None


def unsubscribe_url(base_url: str, secret: str, chat: ChatRef) -> str:
    """The link a subscriber follows (and the List-Unsubscribe target): WEB_BASE_URL/unsubscribe/TOKEN."""
    return f"{base_url.rstrip('/')}{PREFIX}/{unsubscribe_token(secret, chat)}"


def _page(lang: str, message: str, *, form: str = "") -> str:
    title = html.escape(PAGE[lang]["title"])
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
            '<body style="font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em;line-height:1.5">'
            f"<p>{html.escape(message)}</p>{form}</body></html>\n")


async def _lookup(request: web.Request) -> tuple[ChatRef | None, str, bool]:
    """The token's subscription, the page language, and whether it is active."""
    services = request.app[SERVICES_KEY]
    chat = read_token(services.settings.unsubscribe_secret, request.match_info["token"])
    if chat is None:
        return None, "en", False
    sub = await services.store.get_subscription(chat)
    if sub is None:
        return chat, services.settings.digest_language, False
    return chat, sub.lang if sub.lang in PAGE else "en", sub.active


async def _ask(request: web.Request) -> web.Response:
    chat, lang, active = await _lookup(request)
    if chat is None:
        return web.Response(status=404, text=_page("en", PAGE["en"]["bad"]), content_type="text/html")
    words = PAGE[lang]
    if not active:
        return web.Response(text=_page(lang, words["already"].format(address=chat.chat_id)), content_type="text/html")
    form = (f'<form method="post"><button type="submit" style="font-size:1.1em;padding:.4em 1.2em">'
            f'{html.escape(words["button"])}</button></form>')
    return web.Response(text=_page(lang, words["ask"].format(address=chat.chat_id), form=form),
                        content_type="text/html", headers={"Cache-Control": "no-store"})


async def _unsubscribe(request: web.Request) -> web.Response:
    chat, lang, active = await _lookup(request)
    if chat is None:
        return web.Response(status=404, text=_page("en", PAGE["en"]["bad"]), content_type="text/html")
    if active:
        services = request.app[SERVICES_KEY]
        await services.store.set_active(chat, False, request.app[CLOCK_KEY]())
        log.info("unsubscribed by link chat=%s:%s", chat.platform, chat.chat_id)
    words = PAGE[lang]
    return web.Response(text=_page(lang, words["done" if active else "already"].format(address=chat.chat_id)),
                        content_type="text/html")


def unsubscribe_app(services: Services, clock: Callable[[], datetime]) -> web.Application:
    """The sub-app to mount at PREFIX: GET shows the button, POST (one-click) unsubscribes."""
    app = web.Application()
    app[SERVICES_KEY] = services
    app[CLOCK_KEY] = clock
    app.router.add_get("/{token}", _ask)
    app.router.add_post("/{token}", _unsubscribe)
    return app
