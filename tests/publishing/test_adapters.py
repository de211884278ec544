"""Each adapter's requests against its documented API (the loopback fakes), and its rollback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from publishing import content, registry, services
from publishing.adapters.base import Message
from publishing.models import Destination, PublishAttempt
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fakes import SENDGRID_KEY, SLACK_TOKEN

pytestmark = pytest.mark.django_db


def publish_now(run, ws, user="manager"):
    services.run_publish(run=run, user=ws["users"][user], reason="Send", enqueue=False)
    return services.run_deliver(run_id=run.pk)


def unpublish(run, ws):
    return services.run_unpublish(run=run, user=ws["users"]["manager"], reason="Wrong offer")


def test_sendgrid_mail_send_has_the_documented_shape(audience_workspace, provider, awaiting):
    destination_for(audience_workspace, provider, "sendgrid")
    run = approve(awaiting, audience_workspace)

    publish_now(run, audience_workspace)

    sends = [r for r in provider.requests if r["path"] == "/v3/mail/send"]
    assert len(sends) == len(provider.mails) == 7  # one request per variant (each under 1,000)
    for request in sends:
        assert request["headers"]["authorization"] == f"Bearer {SENDGRID_KEY}"
        assert request["headers"]["content-type"] == "application/json"
        body = request["body"]
        assert body["from"] == {"email": "news@kestrel.example"}
        assert all(len(p["to"]) == 1 for p in body["personalizations"])  # nobody sees another
        assert body["content"][0]["type"] == "text/plain" and body["content"][0]["value"]
        assert body["custom_args"]["marketingai_key"].startswith("mai_")
        assert "send_at" not in body and "batch_id" not in body
    attempts = PublishAttempt.objects.filter(run=run)
    assert {a.external_ids["message_id"] for a in attempts} == {
        m["message_id"] for m in provider.mails
    }
    assert all(a.status == "delivered" for a in attempts)


def test_sendgrid_scheduled_send_uses_a_batch_and_unpublish_cancels_it(
    audience_workspace, provider, awaiting
):
    send_at = timezone.now() + timedelta(hours=5)
    destination_for(audience_workspace, provider, "sendgrid", schedule="at", send_at=send_at)
    run = approve(awaiting, audience_workspace)

    publish_now(run, audience_workspace)

    assert len(provider.batches) == 7
    for mail in provider.mails:
        assert mail["batch_id"] in provider.batches and mail["send_at"] == int(send_at.timestamp())
    run.trace.refresh_from_db()
    (entry,) = run.trace.document["publish"]["destinations"]
    assert entry["status"] == "scheduled" and entry["delivered"] > 40
    assert entry["scheduled_for"] == send_at.isoformat()
    results = unpublish(run, audience_workspace)

    assert sorted(provider.cancelled) == sorted(provider.batches)
    (result,) = results
    assert len(result.taken_back) == 7 and result.not_taken_back == []
    assert "was cancelled" in result.taken_back[0]
    assert set(PublishAttempt.objects.values_list("status", flat=True)) == {"rolled_back"}
    run.trace.refresh_from_db()
    requests = run.trace.document["publish"]["requests"]
    assert requests[-1]["action"] == "unpublish" and requests[-1]["reason"] == "Wrong offer"


def test_sendgrid_mail_sent_at_once_cannot_be_taken_back_and_says_so(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "sendgrid")
    run = approve(awaiting, audience_workspace)
    publish_now(run, audience_workspace)

    (result,) = unpublish(run, audience_workspace)

    assert result.taken_back == [] and len(result.not_taken_back) == 7
    assert "email cannot be taken back" in result.not_taken_back[0]
    assert provider.cancelled == []
    assert set(PublishAttempt.objects.values_list("status", flat=True)) == {"delivered"}


def test_slack_bot_posts_within_slacks_limits_and_unpublish_deletes_the_message(
    audience_workspace, provider, awaiting, valid_email
):
    from workflows.models import RunOutput

    bot = destination_for(audience_workspace, provider, "slack_bot")
    run = approve(awaiting, audience_workspace)  # published on approval: no gate
    long_body = "\n\n".join(f"Paragraph {i}. " + "word " * 150 for i in range(40))  # 30,000 chars
    # Longer than the email schema allows: written past the model, to test Slack's limits.
    RunOutput.objects.filter(run=run).update(content={**valid_email, "email_body": long_body})

    services.run_deliver(run_id=run.pk)

    (request,) = [r for r in provider.requests if r["path"] == "/api/chat.postMessage"]
    assert request["headers"]["authorization"] == f"Bearer {SLACK_TOKEN}"
    body = request["body"]
    assert body["channel"] == "C0LAUNCH" and body["text"]
    assert body["blocks"][0]["type"] == "header"
    assert len(body["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"] if b["type"] == "section")
    assert sum(len(b["text"]["text"]) for b in body["blocks"]) <= 12000
    attempt = PublishAttempt.objects.get(destination=bot)
    assert "beyond Slack's limits" in attempt.detail["cut"][0]
    assert attempt.external_ids == {"channel": "C0LAUNCH", "ts": next(iter(provider.messages))}

    (result,) = unpublish(run, audience_workspace)

    assert provider.deleted == [attempt.external_ids["ts"]]
    assert "was deleted" in result.taken_back[0]
    attempt.refresh_from_db()
    assert attempt.status == "rolled_back" and attempt.rolled_back_at
    assert attempt.history.latest("history_date", "history_id").history_change_reason == (
        "Unpublished by manager: Wrong offer"
    )


def test_slack_webhook_posts_and_says_a_post_cannot_be_taken_back(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "slack_webhook")
    run = approve(awaiting, audience_workspace)
    services.run_deliver(run_id=run.pk)

    (post,) = provider.hook_posts
    assert post["text"] and post["blocks"][0]["type"] == "header"
    (result,) = unpublish(run, audience_workspace)
    assert result.taken_back == []
    assert "can only post" in result.not_taken_back[0]
    assert PublishAttempt.objects.get().status == "delivered"


def test_slack_messages_are_cut_to_slacks_limits_and_say_what_was_cut():
    message = content.slack_message(
        Message(subject="S" * 400, text="\n\n".join("x" * 2900 for _ in range(80)))
    )
    blocks = message.document["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) == 150
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks[1:])
    assert sum(len(b["text"]["text"]) for b in blocks) <= 12000
    assert blocks[-1]["text"]["text"] == "(The rest did not fit in one Slack message.)"
    assert len(message.document["text"]) <= 3000
    assert any("150" in note for note in message.detail["cut"])
    assert any("beyond Slack's limits" in note for note in message.detail["cut"])
    short = content.slack_message(Message(subject="Hi", text="Short body.", call_to_action="Go"))
    assert (
        short.detail == {} and short.document["blocks"][1]["text"]["text"] == "Short body.\n\n*Go*"
    )


def test_a_destination_names_only_a_configured_secret_and_a_kind_that_exists(
    audience_workspace, provider, monkeypatch
):
    monkeypatch.delitem(registry._ADAPTERS, "wordpress")  # a kind no adapter delivers yet
    for values, field in [
        ({"kind": "sendgrid", "secret_name": "NOT_CONFIGURED"}, "secret_name"),
        ({"kind": "sendgrid", "secret_name": "OPENAI_API_KEY"}, "secret_name"),
        ({"kind": "wordpress", "secret_name": "SENDGRID_API_KEY"}, "kind"),
        (
            {
                "kind": "slack_webhook",
                "secret_name": "SLACK_WEBHOOK_URL",
                "schedule": "at",
                "send_at": timezone.now(),
            },
            "schedule",
        ),
        ({"kind": "sendgrid", "secret_name": "SENDGRID_API_KEY", "sender": ""}, "sender"),
    ]:
        destination = Destination(workflow=audience_workspace["workflow"], name="x", **values)
        with pytest.raises(ValidationError) as refused:
            destination.full_clean()
        assert field in refused.value.message_dict, values


def test_sendgrid_cannot_cancel_within_ten_minutes_of_the_send_and_says_so(
    audience_workspace, provider, awaiting
):
    send_at = timezone.now() + timedelta(minutes=5)
    destination_for(audience_workspace, provider, "sendgrid", schedule="at", send_at=send_at)
    run = approve(awaiting, audience_workspace)
    publish_now(run, audience_workspace)

    (result,) = unpublish(run, audience_workspace)

    assert result.taken_back == [] and provider.cancelled == []
    assert "only until 10 minutes before it goes out" in result.not_taken_back[0]


def test_sendgrid_schedules_at_most_72_hours_ahead(audience_workspace, provider):
    destination = Destination(
        workflow=audience_workspace["workflow"],
        name="Too far",
        kind="sendgrid",
        sender="news@kestrel.example",
        secret_name="SENDGRID_API_KEY",
        schedule="at",
        send_at=timezone.now() + timedelta(hours=80),
    )
    with pytest.raises(ValidationError, match="at most 72 hours ahead"):
        destination.full_clean()
