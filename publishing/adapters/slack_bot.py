"""Slack with a bot token: chat.postMessage, and chat.delete as rollback.

- ``POST https://slack.com/api/chat.postMessage`` with ``Authorization: Bearer xoxb-...`` and a
  JSON body ``{"channel", "text", "blocks"}``; Slack answers HTTP 200 with ``{"ok": true,
  "channel", "ts"}``, or ``{"ok": false, "error": "channel_not_found"}``; 429 with Retry-After
  when rate limited. Blocks stay within Slack's limits (``publishing.content``).
- Rollback: ``POST https://slack.com/api/chat.delete`` ``{"channel", "ts"}``.

Slack takes no idempotency key: a post whose answer never came is left for a person.
"""

from __future__ import annotations

from publishing import content, registry
from publishing.adapters.base import (
    Adapter,
    Outcome,
    Payload,
    Rejected,
    RollbackOutcome,
    SendError,
    json_body,
)


def _answer(response) -> dict:
    answer = json_body(response)
    if not isinstance(answer, dict):
        raise Rejected("Slack answered something other than JSON.")
    if not answer.get("ok"):
        raise Rejected(
            f"Slack refused the request: {str(answer.get('error') or 'no reason')[:100]}."
        )
    return answer


@registry.register
class SlackBotAdapter(Adapter):
    kind = "slack_bot"
    default_base_url = "https://slack.com/api"

    def send(self, attempt, payload: Payload) -> Outcome:
        destination = attempt.destination
        token = self.secret(destination)
        message = content.slack_message(payload.message)
        response = self.post(
            f"{self.base_url(destination)}/chat.postMessage",
            {"channel": destination.target, **message.document},
            destination=destination,
            secret=token,
            headers={"Authorization": f"Bearer {token}"},
        )
        answer = _answer(response)
        return Outcome(
            sent=1,
            external_ids={
                "channel": answer.get("channel") or destination.target,
                "ts": answer.get("ts"),
            },
            detail=message.detail,
        )

    def rollback(self, attempt) -> RollbackOutcome:
        ids = attempt.external_ids or {}
        if not ids.get("ts"):
            return RollbackOutcome(
                False, "Slack gave no message timestamp, so nothing can be deleted."
            )
        destination = attempt.destination
        try:
            token = self.secret(destination)
            _answer(
                self.post(
                    f"{self.base_url(destination)}/chat.delete",
                    {"channel": ids["channel"], "ts": ids["ts"]},
                    destination=destination,
                    secret=token,
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
        except SendError as exc:
            return RollbackOutcome(False, f"Deleting the Slack message failed: {exc}")
        return RollbackOutcome(
            True, f"The Slack message {ids['ts']} in {ids['channel']} was deleted."
        )
