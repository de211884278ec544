"""Slack incoming webhook: post only (https://api.slack.com/messaging/webhooks).

``POST <webhook URL>`` with ``{"text", "blocks"}``; Slack answers 200 with the body ``ok``, or
400/403/404 with a reason (``invalid_payload``, ``channel_not_found``), 429 when rate limited.
The webhook URL is itself the credential: it is the named secret's value, never stored.
A webhook post cannot be deleted through the webhook.
"""

from __future__ import annotations

from publishing import content, registry
from publishing.adapters.base import Adapter, Outcome, Payload, RollbackOutcome


@registry.register
class SlackWebhookAdapter(Adapter):
    kind = "slack_webhook"

    def send(self, attempt, payload: Payload) -> Outcome:
        destination = attempt.destination
        url = self.secret(destination)
        message = content.slack_message(payload.message)
        self.post(url, message.document, destination=destination, secret=url)
        return Outcome(sent=1, external_ids={}, detail=message.detail)

    def rollback(self, attempt) -> RollbackOutcome:
        return RollbackOutcome(
            False,
            "An incoming webhook can only post: delete the message in Slack by hand.",
        )
