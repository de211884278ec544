"""SendGrid's signed Event Webhook: verified, replays refused, events mapped, deduplicated by sg_event_id."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest

from measurement import selectors, sendgrid
from measurement.models import CampaignEvent, EventIngest, EventWebhook
from publishing.models import SuppressedAddress
from tests.factories.measurement import sent_run
from tests.factories.workspace import workspace
from tests.measurement.signing import SigningKey

# SendGrid's own published test vector (sendgrid-python, test/unit/test_eventwebhook.py).
DOC_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw"
    "+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
DOC_SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
DOC_TIMESTAMP = "1600112502"
DOC_PAYLOAD = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"
).encode()
DOC_NOW = datetime.fromtimestamp(int(DOC_TIMESTAMP), tz=dt_timezone.utc)


def test_sendgrids_published_signature_verifies():
    sendgrid.verify(
        key=sendgrid.public_key(DOC_PUBLIC_KEY),
        signature=DOC_SIGNATURE,
        timestamp=DOC_TIMESTAMP,
        body=DOC_PAYLOAD,
        now=DOC_NOW,
        tolerance_seconds=600,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"body": b"payload"},
        {"timestamp": "1600112503"},
        # A signature of something else (the SDK's own "bad signature" case).
        {
            "signature": "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQs"
            "bVRamr2nlxFDWYNH3j/0="
        },
        {"signature": "not base64!"},
    ],
)
def test_sendgrids_signature_fails_for_another_body_timestamp_or_signature(change):
    given = {"signature": DOC_SIGNATURE, "timestamp": DOC_TIMESTAMP, "body": DOC_PAYLOAD, **change}
    with pytest.raises(sendgrid.SignatureError, match="does not match"):
        sendgrid.verify(
            key=sendgrid.public_key(DOC_PUBLIC_KEY), now=DOC_NOW, tolerance_seconds=600, **given
        )


def test_a_key_that_is_not_p256_is_refused():
    with pytest.raises(sendgrid.SignatureError, match="not a base64 or PEM public key"):
        sendgrid.public_key("bm90IGEga2V5")


# --- The endpoint ---------------------------------------------------------------------------

KEY_NAME = "SENDGRID_WEBHOOK_KEY"


@pytest.fixture
def signing():
    return SigningKey.generate()


@pytest.fixture
def ws(db):
    return workspace()


@pytest.fixture
def hook(db, signing, settings, monkeypatch):
    settings.MARKETINGAI_SECRETS = [*settings.MARKETINGAI_SECRETS, KEY_NAME]
    monkeypatch.setenv(KEY_NAME, signing.public_b64)
    return EventWebhook.objects.create(name="SendGrid events", verification_key_name=KEY_NAME)


def documented_batch(sent, now: int) -> list[dict]:
    """Events shaped as SendGrid's Event Webhook reference shows them, with publishing's custom args."""
    args = {"marketingai_key": sent.key, "marketingai_variant": "admins"}

    def ev(sg_id, name, who, **more):
        return {
            "email": f"{who}@example.com",
            "timestamp": now - 60,
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "event": name,
            "category": "cat facts",
            "sg_event_id": sg_id,
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "marketingai_recipient": who,
            **args,
            **more,
        }

    return [
        ev("ev-processed", "processed", "cus_1"),
        ev("ev-deferred", "deferred", "cus_1", response="400 try again later", attempt="5"),
        ev("ev-delivered-1", "delivered", "cus_1", response="250 OK"),
        ev("ev-delivered-2", "delivered", "cus_2", response="250 OK"),
        ev("ev-open-1", "open", "cus_1", useragent="Mozilla/4.0", ip="255.255.255.255"),
        ev("ev-open-2", "open", "cus_1", useragent="Mozilla/4.0", ip="255.255.255.255"),
        ev("ev-click", "click", "cus_1", url="http://www.sendgrid.com/"),
        ev("ev-bounce", "bounce", "cus_3", reason="500 unknown recipient", status="5.0.0"),
        ev("ev-unsub", "unsubscribe", "cus_2"),
        ev("ev-group-unsub", "group_unsubscribe", "cus_4", asm_group_id=10),
        ev("ev-spam", "spamreport", "cus_5"),
    ]


def post(client, hook, body: bytes, headers: dict, *, path=None):
    return client.post(
        path or hook.get_absolute_url(),
        data=body,
        content_type="application/json",
        headers=headers,
    )


def test_a_signed_batch_is_stored_counted_and_suppressed_and_answered_with_its_counts(
    client, ws, hook, signing
):
    sent = sent_run(ws)
    now = int(time.time())
    body = json.dumps(documented_batch(sent, now)).encode()

    answer = post(client, hook, body, signing.headers(body, now))

    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "stored": 8,
        "duplicates": 0,
        "unattributed": 0,
        "ignored": 3,  # processed, deferred, bounce
        "refused": [],
    }
    assert selectors.totals(run_ids=[sent.run.pk]) == selectors.Totals(
        delivered=2, opened=1, clicked=1, unsubscribed=2, complained=1
    )
    assert set(SuppressedAddress.objects.values_list("email", flat=True)) == {
        "cus_2@example.com",
        "cus_4@example.com",
        "cus_5@example.com",
    }
    ingest = EventIngest.objects.get()
    assert (ingest.channel, ingest.source, ingest.stored_count) == ("webhook", "sendgrid", 8)
    assert CampaignEvent.objects.get(event_id="ev-group-unsub").extra["asm_group_id"] == 10


def test_a_delivery_sent_again_stores_nothing_twice(client, ws, hook, signing):
    sent = sent_run(ws)
    now = int(time.time())
    body = json.dumps(documented_batch(sent, now)).encode()
    post(client, hook, body, signing.headers(body, now))

    again = post(client, hook, body, signing.headers(body, now + 5))

    assert again.json()["duplicates"] == 8
    assert again.json()["stored"] == 0
    assert CampaignEvent.objects.count() == 8
    assert selectors.totals(run_ids=[sent.run.pk]).delivered == 2


def test_a_signature_by_another_key_is_refused_with_401_a_reason_and_a_log_line(
    client, ws, hook, caplog
):
    now = int(time.time())
    body = json.dumps(documented_batch(sent_run(ws), now)).encode()
    with caplog.at_level(logging.WARNING, logger="measurement.webhooks"):
        answer = post(client, hook, body, SigningKey.generate().headers(body, now))
    assert answer.status_code == 401
    assert answer.json() == {"error": "The signature does not match the body and timestamp."}
    assert "SendGrid events" in caplog.text and "does not match" in caplog.text
    assert not CampaignEvent.objects.exists()


def test_a_body_changed_after_signing_is_refused(client, ws, hook, signing):
    now = int(time.time())
    body = json.dumps(documented_batch(sent_run(ws), now)).encode()
    headers = signing.headers(body, now)
    answer = post(client, hook, body.replace(b"cus_1", b"cus_9"), headers)
    assert answer.status_code == 401
    assert not CampaignEvent.objects.exists()


def test_a_stale_timestamp_is_refused_as_a_replay(client, ws, hook, signing, settings):
    old = int(time.time()) - settings.MARKETINGAI_MEASUREMENT["WEBHOOK_TOLERANCE_SECONDS"] - 30
    body = json.dumps(documented_batch(sent_run(ws), old)).encode()
    answer = post(client, hook, body, signing.headers(body, old))
    assert answer.status_code == 401
    assert "replayed request is refused" in answer.json()["error"]
    assert not CampaignEvent.objects.exists()


def test_a_timestamp_from_the_future_is_refused(client, ws, hook, signing):
    later = int(time.time()) + 3600
    body = json.dumps(documented_batch(sent_run(ws), later)).encode()
    answer = post(client, hook, body, signing.headers(body, later))
    assert answer.status_code == 401
    assert "future" in answer.json()["error"]


def test_a_request_without_the_signature_headers_is_refused(client, hook):
    answer = post(client, hook, b"[]", {})
    assert answer.status_code == 401
    assert "X-Twilio-Email-Event-Webhook-Signature" in answer.json()["error"]


def test_a_signed_body_that_is_not_a_list_of_events_is_refused_with_400(client, hook, signing):
    now = int(time.time())
    body = b'{"event": "open"}'
    answer = post(client, hook, body, signing.headers(body, now))
    assert answer.status_code == 400
    assert answer.json() == {"error": "The body must be a JSON list of events."}


def test_events_without_an_id_are_refused_by_name_and_the_rest_stored(client, ws, hook, signing):
    sent = sent_run(ws)
    now = int(time.time())
    batch = documented_batch(sent, now)[2:4]
    batch[1].pop("sg_event_id")
    body = json.dumps(batch).encode()
    answer = post(client, hook, body, signing.headers(body, now))
    assert answer.json()["stored"] == 1
    assert answer.json()["refused"] == ["event 2: has no sg_event_id"]
    assert EventIngest.objects.get().errors == ["event 2: has no sg_event_id"]


def test_events_of_an_unknown_send_are_kept_unattributed(client, ws, hook, signing):
    sent = sent_run(ws)
    now = int(time.time())
    batch = documented_batch(sent, now)[2:3]
    batch[0]["marketingai_key"] = "mai_not_ours"
    body = json.dumps(batch).encode()
    answer = post(client, hook, body, signing.headers(body, now))
    assert answer.json()["unattributed"] == 1
    assert CampaignEvent.objects.get().run_id is None


def test_an_unknown_or_disabled_webhook_is_404_and_a_get_is_405(client, hook, signing):
    now = int(time.time())
    headers = signing.headers(b"[]", now)
    assert post(client, hook, b"[]", headers, path="/measurement/events/nope/").status_code == 404
    assert client.get(hook.get_absolute_url()).status_code == 405
    hook.enabled = False
    hook.save()
    assert post(client, hook, b"[]", headers).status_code == 404


def test_the_url_without_its_trailing_slash_is_served_too(client, hook, signing):
    now = int(time.time())
    answer = post(
        client, hook, b"[]", signing.headers(b"[]", now), path=hook.get_absolute_url()[:-1]
    )
    assert answer.status_code == 200


def test_a_webhook_whose_key_is_not_set_answers_503_so_the_platform_retries(
    client, hook, signing, monkeypatch
):
    monkeypatch.delenv(KEY_NAME)
    now = int(time.time())
    answer = post(client, hook, b"[]", signing.headers(b"[]", now))
    assert answer.status_code == 503
    assert "verification key" in answer.json()["error"]


def test_a_body_over_the_limit_is_refused_with_413(client, hook, signing, settings):
    settings.MARKETINGAI_MEASUREMENT = {**settings.MARKETINGAI_MEASUREMENT, "MAX_BODY_BYTES": 10}
    now = int(time.time())
    body = b"[" + b" " * 20 + b"]"
    assert post(client, hook, body, signing.headers(body, now)).status_code == 413


def test_a_webhook_whose_key_is_not_set_is_a_system_check_warning(hook, monkeypatch):
    from measurement.checks import check_webhook_keys

    assert check_webhook_keys(databases=["default"]) == []
    monkeypatch.delenv(KEY_NAME)
    warnings = check_webhook_keys(databases=["default"])
    assert [w.id for w in warnings] == ["measurement.W001"]
    assert "SendGrid events" in warnings[0].msg
