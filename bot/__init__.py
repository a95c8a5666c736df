"""Chat adapters and process wiring: the CLI, Telegram, Slack and the scheduler."""
