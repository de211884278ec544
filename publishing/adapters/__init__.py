"""One module per provider; importing this package registers every adapter."""

from publishing.adapters import (
    resend,
    sendgrid,
    signed_webhook,
    slack_bot,
    slack_webhook,
    smtp,
    wordpress,
)

__all__ = [
    "resend",
    "sendgrid",
    "signed_webhook",
    "slack_bot",
    "slack_webhook",
    "smtp",
    "wordpress",
]
