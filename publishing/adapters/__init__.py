"""One module per provider; importing this package registers every adapter."""

from publishing.adapters import sendgrid, slack_bot, slack_webhook

__all__ = ["sendgrid", "slack_bot", "slack_webhook"]
