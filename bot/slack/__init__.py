"""The Slack adapter: format.py (pure Block Kit formatter), sender.py (the Sender), app.py (the AsyncApp).

The names used elsewhere are re-exported here. Nothing under bot/slack/ touches the store: a channel
that is gone, and the App Home's list of channels, go through the command layer.
"""

from bot.slack.app import ACTION_ID, EVENTS_PATH, SlackBot, build_slack_app
from bot.slack.format import (
    MAX_BLOCKS,
    MAX_SECTION,
    SLASH,
    SlackMessage,
    command_line,
    escape_mrkdwn,
    home_view,
    slack_commands,
    slack_link,
    to_slack_messages,
)
from bot.slack.sender import CHANNEL_GONE, CHAT_INTERVAL, TOKEN_ERRORS, SlackSender, build_slack_client, delivery_error

__all__ = [
    "ACTION_ID", "CHANNEL_GONE", "CHAT_INTERVAL", "EVENTS_PATH", "MAX_BLOCKS", "MAX_SECTION", "SLASH", "TOKEN_ERRORS",
    "SlackBot", "SlackMessage", "SlackSender", "build_slack_app", "build_slack_client", "command_line",
    "delivery_error", "escape_mrkdwn", "home_view", "slack_commands", "slack_link", "to_slack_messages",
]
