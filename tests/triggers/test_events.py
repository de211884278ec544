"""Event triggers: a signed Standard Webhooks delivery starts one run; everything else is
refused with a clear reason, recorded, and starts nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from tests.factories.workflows import CampaignBriefFactory
from tests.triggers.conftest import (
    OTHER_SECRET,
    SECRET,
    SECRET_NAME,
    good_payload,
    post,
    signed,
)
from triggers import services
from triggers.models import Trigger, TriggerFiring
from workflows.models import Run

pytestmark = pytest.mark.django_db


def refusal_of(trigger) -> TriggerFiring:
    return trigger.firings.get()


def assert_nothing_started(trigger, *, outcome="refused", reason_part=""):
    assert not Run.objects.exists()
    firing = refusal_of(trigger)
    assert firing.outcome == outcome
    assert firing.run is None
    assert reason_part in firing.reason
    return firing


# --- Accepted ---------------------------------------------------------------------------------


def test_a_signed_delivery_starts_a_run_as_the_service_account_whose_trace_names_the_event(
    client, event_trigger, service_account
):
    delivery = signed(good_payload(campaign="winter"), msg_id="msg_2Lq8trial")

    response = post(client, event_trigger, delivery)

    assert response.status_code == 202, response.content
    run = Run.objects.get()
    assert response.json() == {
        "status": "started",
        "run_id": run.run_id,
        "delivery_id": "msg_2Lq8trial",
    }
    assert run.started_by == service_account
    assert run.as_of.isoformat() == "2026-11-30"
    trigger_section = run.trace.document["trigger"]
    assert trigger_section["kind"] == "event"
    assert trigger_section["trigger"] == "Trial ending (webhook)"
    assert trigger_section["trigger_id"] == event_trigger.pk
    assert trigger_section["delivery_id"] == "msg_2Lq8trial"
    assert trigger_section["by"] == service_account.username
    assert trigger_section["inputs"] == {"campaign": "winter"}
    assert trigger_section["at"] and trigger_section["signed_at"]
    assert run.trace.document["as_of"] == "2026-11-30"
    firing = event_trigger.firings.get()
    assert (firing.outcome, firing.key, firing.run) == ("started", "msg_2Lq8trial", run)
    assert trigger_section["firing_id"] == firing.pk
    # History names the service account and the trigger.
    assert run.history.earliest().history_user == service_account
    assert "trigger: event" in run.history.earliest().history_change_reason


def test_the_payload_names_the_brief_by_name_or_id(client, event_trigger, workspace):
    other = CampaignBriefFactory(
        workflow=workspace["workflow"],
        audience_segment=workspace["segment"],
        created_by=workspace["users"]["ops"],
        name="Winter promo",
    )
    assert event_trigger.run_brief() == other  # the newest brief, unless the payload says

    post(client, event_trigger, signed(good_payload(brief=workspace["brief"].name)))
    post(client, event_trigger, signed(good_payload(brief=f"brief_{workspace['brief'].pk}")))
    post(client, event_trigger, signed(good_payload(brief=str(other.pk))))
    post(client, event_trigger, signed(good_payload()))

    briefs = list(Run.objects.order_by("pk").values_list("brief_id", flat=True))
    assert briefs == [workspace["brief"].pk, workspace["brief"].pk, other.pk, other.pk]


def test_a_delivery_needs_no_csrf_token(event_trigger):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post(strict, event_trigger, signed(good_payload())).status_code == 202


def test_the_url_without_its_trailing_slash_is_served_too(client, event_trigger):
    path = reverse("triggers:event", args=[event_trigger.token]).rstrip("/")
    response = post(client, event_trigger, signed(good_payload()), path=path)
    assert response.status_code == 202


# --- Signatures and timestamps ------------------------------------------------------------------


def test_a_signature_made_with_another_secret_is_refused_with_401(client, event_trigger):
    delivery = signed(good_payload(), secret=OTHER_SECRET)

    response = post(client, event_trigger, delivery)

    assert response.status_code == 401
    assert "No webhook-signature matches" in response.json()["error"]
    firing = assert_nothing_started(event_trigger, reason_part="No webhook-signature matches")
    stored = json.dumps([firing.reason, firing.details, firing.key])
    assert delivery.headers["webhook-signature"].split(",", 1)[1] not in stored
    assert SECRET.removeprefix("whsec_") not in stored


def test_a_body_changed_after_signing_is_refused(client, event_trigger):
    delivery = signed(good_payload())
    delivery.body = delivery.body.replace(b"2026-11-30", b"2026-12-01")
    assert post(client, event_trigger, delivery).status_code == 401
    assert_nothing_started(event_trigger, reason_part="No webhook-signature matches")


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_delivery_missing_a_signature_header_is_refused(client, event_trigger, missing):
    delivery = signed(good_payload())
    del delivery.headers[missing]

    response = post(client, event_trigger, delivery)

    assert response.status_code == 401
    assert "header is missing" in response.json()["error"]
    assert_nothing_started(event_trigger)


def test_a_malformed_signature_header_is_refused(client, event_trigger):
    delivery = signed(good_payload())
    delivery.headers["webhook-signature"] = "not-a-signature"
    response = post(client, event_trigger, delivery)
    assert response.status_code == 401
    assert "malformed" in response.json()["error"]
    assert_nothing_started(event_trigger)


def test_a_stale_timestamp_is_refused_even_with_a_good_signature(client, event_trigger):
    stale = datetime.now(UTC) - timedelta(minutes=6)
    response = post(client, event_trigger, signed(good_payload(), timestamp=stale))
    assert response.status_code == 401
    assert "more than 5 minutes old" in response.json()["error"]
    assert_nothing_started(event_trigger, reason_part="more than 5 minutes old")


def test_a_timestamp_from_the_future_is_refused(client, event_trigger):
    future = datetime.now(UTC) + timedelta(minutes=6)
    response = post(client, event_trigger, signed(good_payload(), timestamp=future))
    assert response.status_code == 401
    assert "in the future" in response.json()["error"]
    assert_nothing_started(event_trigger)


def test_a_timestamp_within_the_tolerance_is_accepted(client, event_trigger):
    recent = datetime.now(UTC) - timedelta(minutes=4)
    assert post(client, event_trigger, signed(good_payload(), timestamp=recent)).status_code == 202


# --- Replays -------------------------------------------------------------------------------------


def test_a_replayed_webhook_id_starts_nothing_and_is_answered_409_with_the_first_run(
    client, event_trigger
):
    delivery = signed(good_payload(), msg_id="msg_once")
    first = post(client, event_trigger, delivery)
    # A replay: the same id, even freshly signed with a new timestamp and body.
    replay = post(client, event_trigger, signed(good_payload(campaign="x"), msg_id="msg_once"))

    assert first.status_code == 202
    assert replay.status_code == 409
    run = Run.objects.get()
    assert replay.json()["run_id"] == run.run_id
    assert "already received" in replay.json()["error"]
    outcomes = sorted(event_trigger.firings.values_list("outcome", flat=True))
    assert outcomes == ["refused", "started"]


def test_a_refused_delivery_does_not_use_up_its_webhook_id(client, event_trigger):
    """A forged delivery cannot burn the id of a genuine one that follows."""
    forged = signed(good_payload(), msg_id="msg_genuine", secret=OTHER_SECRET)
    assert post(client, event_trigger, forged).status_code == 401
    genuine = signed(good_payload(), msg_id="msg_genuine")
    assert post(client, event_trigger, genuine).status_code == 202


def test_the_database_holds_one_started_firing_per_key(event_trigger):
    TriggerFiring.objects.create(trigger=event_trigger, key="msg_1", outcome="started")
    TriggerFiring.objects.create(trigger=event_trigger, key="msg_1", outcome="refused")
    with pytest.raises(IntegrityError), transaction.atomic():
        TriggerFiring.objects.create(trigger=event_trigger, key="msg_1", outcome="started")


def test_a_second_firing_of_the_same_key_raises_already_fired(event_trigger):
    services.trigger_fire(trigger=event_trigger, key="msg_twice", details={})
    with pytest.raises(services.AlreadyFired):
        services.trigger_fire(trigger=event_trigger, key="msg_twice", details={})
    assert Run.objects.count() == 1


# --- Payloads --------------------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_refused_with_400(client, event_trigger):
    response = post(client, event_trigger, signed(b"{not json"))
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]
    assert_nothing_started(event_trigger, reason_part="not JSON")


def test_a_payload_breaking_the_schema_is_refused_with_422_and_its_reasons(client, event_trigger):
    payload = {"type": "trial.started", "data": {}}

    response = post(client, event_trigger, signed(payload))

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(e.startswith("data: 'as_of' is a required property") for e in errors), errors
    assert any(e.startswith("type: 'trial.ending' was expected") for e in errors), errors
    assert_nothing_started(event_trigger, reason_part="JSON Schema")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"as_of": "30/11/2026"}, "data.as_of (mapped to as_of) is '30/11/2026', not a date"),
        ({"as_of": "2026-02-30"}, "not a date written YYYY-MM-DD"),
        ({"as_of": "2026-11-30", "brief": "No such brief"}, "has no brief named or numbered"),
    ],
)
def test_a_payload_the_mapping_cannot_apply_is_refused_with_422(
    client, event_trigger, data, reason
):
    response = post(client, event_trigger, signed({"type": "trial.ending", "data": data}))
    assert response.status_code == 422
    assert reason in response.json()["error"]
    assert_nothing_started(event_trigger, reason_part=reason)


def test_a_body_over_the_limit_is_refused_with_413(client, event_trigger, settings):
    settings.MARKETINGAI_TRIGGERS = {**settings.MARKETINGAI_TRIGGERS, "MAX_BODY_BYTES": 200}
    response = post(client, event_trigger, signed(good_payload(campaign="x" * 300)))
    assert response.status_code == 413
    assert_nothing_started(event_trigger, reason_part="over 200 bytes")


# --- Unknown, disabled, misconfigured ------------------------------------------------------------


def test_an_unknown_token_is_404_and_a_get_is_405(client, event_trigger):
    response = client.post(
        reverse("triggers:event", args=["x" * 32]), data=b"{}", content_type="application/json"
    )
    assert response.status_code == 404
    assert client.get(reverse("triggers:event", args=[event_trigger.token])).status_code == 405
    assert not TriggerFiring.objects.exists()


def test_a_disabled_trigger_answers_404_and_records_the_attempt(client, event_trigger, workspace):
    event_trigger.enabled = False
    services.trigger_save(trigger=event_trigger, by=workspace["users"]["admin"])
    response = post(client, event_trigger, signed(good_payload()))
    assert response.status_code == 404
    assert_nothing_started(event_trigger, reason_part="disabled")


def test_without_a_service_account_the_delivery_fails_visibly_and_a_retry_starts_it_later(
    client, event_trigger, settings, service_account
):
    settings.MARKETINGAI_SERVICE_USER = ""
    delivery = signed(good_payload(), msg_id="msg_retry")

    response = post(client, event_trigger, delivery)

    assert response.status_code == 503
    assert "MARKETINGAI_SERVICE_USER" not in response.json()["error"]  # told to the operator only
    firing = assert_nothing_started(event_trigger, outcome="failed")
    assert "MARKETINGAI_SERVICE_USER" in firing.reason
    assert firing.is_failure

    settings.MARKETINGAI_SERVICE_USER = service_account.username
    assert (
        post(client, event_trigger, signed(good_payload(), msg_id="msg_retry")).status_code == 202
    )


def test_an_unset_secret_fails_without_naming_it_to_the_sender(client, event_trigger, monkeypatch):
    monkeypatch.delenv(SECRET_NAME)
    response = post(client, event_trigger, signed(good_payload()))
    assert response.status_code == 503
    assert SECRET_NAME not in response.content.decode()
    firing = assert_nothing_started(event_trigger, outcome="failed")
    assert f"The secret {SECRET_NAME} is not set" in firing.reason


def test_a_workflow_without_a_production_prompt_fails_visibly(client, event_trigger, workspace):
    from workflows.models import Workflow

    Workflow.objects.filter(pk=workspace["workflow"].pk).update(production_version=None)
    response = post(client, event_trigger, signed(good_payload()))
    assert response.status_code == 503
    assert_nothing_started(event_trigger, outcome="failed", reason_part="no production prompt")


# --- Configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"payload_schema": {"type": "objekt"}}, "payload_schema", "Not a valid JSON Schema"),
        ({"payload_schema": {"required": "as_of"}}, "payload_schema", "Not a valid JSON Schema"),
        ({"input_mapping": {"audience": "data.x"}}, "input_mapping", "not something a payload"),
        ({"input_mapping": {"as_of": ""}}, "input_mapping", "dotted path"),
        ({"secret_name": "DJANGO_SECRET_KEY"}, "secret_name", "server's own secrets"),
        ({"secret_name": "UNNAMED_SECRET"}, "secret_name", "MARKETINGAI_SECRET_NAMES"),
        ({"secret_name": ""}, "secret_name", "Name the secret"),
    ],
)
def test_a_bad_event_configuration_is_a_form_error(
    workspace, signing_secret, values, field, message
):
    from django.core.exceptions import ValidationError

    trigger = Trigger(
        workflow=workspace["workflow"],
        name="Bad",
        kind=Trigger.Kind.EVENT,
        **{"secret_name": SECRET_NAME, **values},
    )
    with pytest.raises(ValidationError) as caught:
        trigger.full_clean()
    assert message in " ".join(caught.value.message_dict[field])


def test_each_event_trigger_gets_its_own_unguessable_token(event_trigger, workspace):
    other = services.trigger_save(
        trigger=Trigger(
            workflow=workspace["workflow"],
            name="Another",
            kind=Trigger.Kind.EVENT,
            secret_name=SECRET_NAME,
        ),
        by=workspace["users"]["admin"],
    )
    assert other.token != event_trigger.token
    assert len(event_trigger.token) >= 32
