"""One module per provider; importing this package registers every adapter."""

from publishing.adapters import resend, sendgrid, slack_bot, slack_webhook, smtp

__all__ = ["resend", "sendgrid", "slack_bot", "slack_webhook", "smtp"]
