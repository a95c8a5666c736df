"""Feishu/Lark group custom bots: target.py (what a subscription is), format.py (cards), sender.py (webhook)."""

from bot.feishu.format import FeishuCard, to_feishu_cards
from bot.feishu.sender import FeishuSender, sign
from bot.feishu.target import FeishuTarget, parse_feishu_target, show_webhook

__all__ = ["FeishuCard", "FeishuSender", "FeishuTarget", "parse_feishu_target", "show_webhook", "sign",
           "to_feishu_cards"]
