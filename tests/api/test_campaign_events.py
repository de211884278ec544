"""POST /api/v1/campaign-events/: events_ingest, the path webhooks and file imports take."""

from __future__ import annotations

import pytest

from measurement.models import CampaignEvent, EventIngest
from publishing.models import SuppressedAddress
from tests.factories.measurement import sent_run

pytestmark = pytest.mark.django_db

URL = "/api/v1/campaign-events/"


def event(event_id, kind="delivered", **fields):
    return {"event_id": event_id, "kind": kind, "occurred_at": "2026-11-02T09:00:00Z", **fields}


def test_ops_post_events_stored_once_attributed_and_suppressing(workspace, api_as):
    sent = sent_run(workspace)
    response = api_as("ops").post(
        URL,
        {
            "source": "sendgrid",
            "events": [
                event("e1", key=sent.key, variant="admins", recipient="cus_1"),
                event("e1", key=sent.key, variant="admins", recipient="cus_1"),
                event(
                    "e2", "unsubscribed", key=sent.key, variant="admins", email="pat@example.com"
                ),
                event("e3", key="no-such-key"),
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["received"], body["stored"], body["duplicates"], body["unattributed"]) == (
        4,
        3,
        1,
        1,
    )
    assert body["refused"] == []
    ingest = EventIngest.objects.get(pk=body["ingest"])
    assert ingest.channel == EventIngest.Channel.API
    assert ingest.received_by == workspace["users"]["ops"]
    assert CampaignEvent.objects.filter(run=sent.run).count() == 2
    assert SuppressedAddress.objects.filter(email="pat@example.com").exists()
    again = api_as("ops").post(URL, {"source": "sendgrid", "events": [event("e1")]}, format="json")
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"events": [event("e1")]}, "source"),
        ({"source": "sendgrid", "events": []}, "events"),
        ({"source": "sendgrid", "events": [event("e1", "bounced")]}, "events"),
        ({"source": "sendgrid", "events": [event("e1"), {"kind": "opened"}]}, "events"),
        ({"source": "sendgrid", "events": [event("e1", occurred_at="yesterday")]}, "events"),
    ],
)
def test_a_malformed_batch_is_refused_whole_with_400(workspace, api_as, body, field):
    response = api_as("ops").post(URL, body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not CampaignEvent.objects.exists() and not EventIngest.objects.exists()


def test_reviewers_may_not_post_events(workspace, api_as):
    response = api_as("legal").post(URL, {"source": "crm", "events": [event("e1")]}, format="json")
    assert response.status_code == 403 and "measurement.import_events" in response.json()["error"]
