"""One module per provider; importing this package registers every adapter."""

from publishing.adapters import sendgrid, signed_webhook, slack_bot, slack_webhook, wordpress

__all__ = ["sendgrid", "signed_webhook", "slack_bot", "slack_webhook", "wordpress"]
