"""Signed webhooks (Standard Webhooks), end to end through the real services against a receiver
that verifies with the reference library: the event and its headers, signatures that verify only
with the right secret, one event however often it is sent, and the unpublished event."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from publishing import content, services
from publishing.models import Destination, PublishAttempt
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fake_webhook_receiver import (  # noqa: F401 - fixtures
    OTHER_SECRET,
    WEBHOOK_SECRET,
    webhook_receiver,
    webhook_receiver_process,
)

pytestmark = pytest.mark.django_db

PUBLISHED = "marketingai.run.published"
UNPUBLISHED = "marketingai.run.unpublished"


def middleware(ws, receiver, **values) -> Destination:
    return destination_for(
        ws,
        receiver,
        "signed_webhook",
        **{
            "name": "Ad platforms (middleware)",
            "secret_name": "WEBHOOK_SIGNING_SECRET",
            "api_base_url": receiver.url(),
            "requires_publish_gate": True,
            **values,
        },
    )


def publish(run, ws):
    """Approved, then Publish pressed by a manager, then the delivery task."""
    run = approve(run, ws)
    services.run_publish(run=run, user=ws["users"]["manager"], reason="Launch", enqueue=False)
    services.run_deliver(run_id=run.pk)
    return run


def unpublish(run, ws):
    (result,) = services.run_unpublish(run=run, user=ws["users"]["manager"], reason="Wrong offer")
    return result


def test_the_event_carries_the_run_and_its_copy_signed_per_standard_webhooks(
    audience_workspace, webhook_receiver, awaiting
):
    destination = middleware(audience_workspace, webhook_receiver)

    run = publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    (request,) = webhook_receiver.requests
    headers = request["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == attempt.idempotency_key
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-signature"].startswith("v1,")
    event = json.loads(request["raw"])
    parts = content.message_parts(run.output.content)
    assert event["type"] == PUBLISHED and event["timestamp"].endswith("Z")
    assert event["data"] == {
        "run_id": run.run_id,
        "workflow": run.workflow.slug,
        "destination": destination.name,
        "idempotency_key": attempt.idempotency_key,
        "variant_key": attempt.variant.key,
        "subject": parts["subject"],
        "text": parts["text"],
        "preview": parts["preview"],
        "call_to_action": parts["call_to_action"],
    }
    assert webhook_receiver.events == {attempt.idempotency_key: event}
    assert (attempt.status, attempt.sent_count) == ("delivered", 1)
    assert attempt.external_ids["webhook_id"] == attempt.idempotency_key
    raw = request["raw"].decode()
    assert WEBHOOK_SECRET not in raw and WEBHOOK_SECRET.removeprefix("whsec_") not in raw
    assert webhook_receiver.url() not in raw


def test_the_signature_verifies_with_the_reference_library_and_not_with_another_secret(
    audience_workspace, webhook_receiver, awaiting
):
    middleware(audience_workspace, webhook_receiver)
    publish(awaiting, audience_workspace)
    (request,) = webhook_receiver.requests

    assert Webhook(WEBHOOK_SECRET).verify(request["raw"], request["headers"])["type"] == PUBLISHED
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(request["raw"], request["headers"])
    with pytest.raises(WebhookVerificationError):  # the body is covered, byte for byte
        Webhook(WEBHOOK_SECRET).verify(
            request["raw"].replace(b'":"', b'": "', 1), request["headers"]
        )


def test_a_receiver_holding_another_secret_refuses_it_and_the_attempt_fails_without_the_secret(
    audience_workspace, webhook_receiver, awaiting
):
    webhook_receiver.secret = OTHER_SECRET
    destination = middleware(audience_workspace, webhook_receiver)

    run = publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "failed" and "HTTP 401" in attempt.error
    assert webhook_receiver.refused == ["No matching signature found"]
    assert webhook_receiver.events == {}
    run.trace.refresh_from_db()
    for text in (attempt.error, json.dumps(run.trace.document)):
        assert WEBHOOK_SECRET.removeprefix("whsec_") not in text


@pytest.mark.parametrize(
    "value",
    [
        "not-a-whsec-secret",
        "whsec_***not base64***",
        "whsec_c2hvcnQ=",  # 5 bytes: the spec asks for at least 24
    ],
    ids=["no prefix", "not base64", "too short"],
)
def test_a_malformed_signing_secret_is_refused_before_any_request(
    audience_workspace, webhook_receiver, awaiting, monkeypatch, value
):
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", value)
    destination = middleware(audience_workspace, webhook_receiver)

    publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "failed"
    assert "WEBHOOK_SIGNING_SECRET is not a Standard Webhooks signing secret" in attempt.error
    assert value not in attempt.error
    assert webhook_receiver.requests == []


@pytest.mark.parametrize(
    ("failure", "tries", "waited"),
    [("500", 2, [1.0]), (("429", 2), 2, [2.0]), ("accept_then_timeout", 2, [1.0])],
    ids=["500", "429", "accept_then_timeout"],
)
def test_retries_reuse_the_webhook_id_and_the_receiver_processes_the_event_once(
    audience_workspace, webhook_receiver, awaiting, waits, failure, tries, waited
):
    destination = middleware(audience_workspace, webhook_receiver)
    webhook_receiver.script(failure)

    publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert (attempt.status, attempt.tries) == ("delivered", tries)
    assert waits == waited
    ids = [r["headers"]["webhook-id"] for r in webhook_receiver.requests]
    assert ids == [attempt.idempotency_key] * 2
    assert list(webhook_receiver.events) == [attempt.idempotency_key]


def test_a_worker_stopped_mid_send_resends_with_the_same_id_and_the_receiver_drops_the_repeat(
    audience_workspace, webhook_receiver, awaiting
):
    destination = middleware(audience_workspace, webhook_receiver)
    run = publish(awaiting, audience_workspace)
    attempt = PublishAttempt.objects.get(destination=destination)
    # The worker was killed after the receiver took the event, before the answer was recorded.
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        status="sending", sending_started_at=timezone.now() - timedelta(hours=1)
    )

    services.run_deliver(run_id=run.pk)

    attempt.refresh_from_db()
    assert attempt.status == "delivered"
    assert dict(webhook_receiver.deliveries) == {attempt.idempotency_key: 2}
    assert len(webhook_receiver.events) == 1


def test_410_gone_fails_the_attempt_and_says_to_disable_the_destination(
    audience_workspace, webhook_receiver, awaiting, waits
):
    destination = middleware(audience_workspace, webhook_receiver)
    webhook_receiver.script("410")

    publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "failed" and "wants no more events" in attempt.error
    assert len(webhook_receiver.requests) == 1 and waits == []


def test_unpublish_sends_a_signed_unpublished_event_the_receiver_must_act_on(
    audience_workspace, webhook_receiver, awaiting
):
    destination = middleware(audience_workspace, webhook_receiver)
    run = publish(awaiting, audience_workspace)
    attempt = PublishAttempt.objects.get(destination=destination)

    result = unpublish(run, audience_workspace)

    request = webhook_receiver.requests[-1]
    assert Webhook(WEBHOOK_SECRET).verify(request["raw"], request["headers"])
    assert request["headers"]["webhook-id"] == f"{attempt.idempotency_key}_unpublished"
    (event,) = webhook_receiver.events_of(UNPUBLISHED)
    assert event["data"] == {
        "run_id": run.run_id,
        "workflow": run.workflow.slug,
        "destination": destination.name,
        "idempotency_key": attempt.idempotency_key,
        "variant_key": attempt.variant.key,
    }
    (said,) = result.taken_back
    assert "told to take the content down" in said and "until it acts on it" in said
    attempt.refresh_from_db()
    assert attempt.status == "rolled_back"


def test_unpublish_says_what_failed_when_the_receiver_does_not_take_the_event(
    audience_workspace, webhook_receiver, awaiting
):
    destination = middleware(audience_workspace, webhook_receiver)
    run = publish(awaiting, audience_workspace)
    webhook_receiver.script("500")

    result = unpublish(run, audience_workspace)

    assert result.taken_back == []
    (said,) = result.not_taken_back
    assert "could not be told to take it down" in said and "HTTP 500" in said
    assert webhook_receiver.events_of(UNPUBLISHED) == []
    assert PublishAttempt.objects.get(destination=destination).status == "delivered"


def test_a_signed_webhook_destination_needs_its_url_and_a_secret(
    audience_workspace, webhook_receiver
):
    for values, field in [
        ({"api_base_url": ""}, "api_base_url"),
        ({"secret_name": ""}, "secret_name"),
        ({"schedule": "at", "send_at": timezone.now() + timedelta(hours=1)}, "schedule"),
    ]:
        destination = Destination(
            workflow=audience_workspace["workflow"],
            name="x",
            kind="signed_webhook",
            **{
                "secret_name": "WEBHOOK_SIGNING_SECRET",
                "api_base_url": webhook_receiver.url(),
                **values,
            },
        )
        with pytest.raises(ValidationError) as refused:
            destination.full_clean()
        assert field in refused.value.message_dict, values
