"""The demo CDP: a stand-in customer data platform the HTTP audience source pulls from, over real HTTP.

The demo endpoint is served by pytest-django's live server.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from demo.cdp import DEMO_CDP_TOKEN_ENV, DEMO_FIELD_MAPPING, DEMO_RECORDS_PATH
from inputs.models import AudienceImport, AudienceSource, Recipient
from inputs.sources import SourceError, audience_pull, source_age_hours
from tests.factories.workflows import SegmentFactory

CREDENTIAL_ENV = "TEST_AUDIENCE_SOURCE_CREDENTIAL"
DEMO_TOKEN = "test-demo-token-7f3a9c"
SEGMENT_SLUG = "trial_ending_3_days"  # a segment the demo CDP serves


@pytest.fixture
def segment(db):
    return SegmentFactory(slug=SEGMENT_SLUG, refreshed_at=None)


@pytest.fixture
def credential(monkeypatch, settings):
    """The demo endpoint's token and the source's credential: an operator-named secret, from the environment only."""
    monkeypatch.setenv(DEMO_CDP_TOKEN_ENV, DEMO_TOKEN)
    monkeypatch.setenv(CREDENTIAL_ENV, f"Bearer {DEMO_TOKEN}")
    settings.MARKETINGAI_SECRETS = [CREDENTIAL_ENV]
    return DEMO_TOKEN


@pytest.fixture
def demo_source(live_server, segment, credential, settings, demo_cdp_on):
    # The live server listens on loopback, which the outbound guard refuses unless the operator allows it.
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [urlsplit(live_server.url).netloc]
    return AudienceSource.objects.create(
        segment=segment,
        url=f"{live_server.url}/demo-cdp/segments/{SEGMENT_SLUG}/recipients.json",
        auth_secret=CREDENTIAL_ENV,
        records_path=DEMO_RECORDS_PATH,
        field_mapping=DEMO_FIELD_MAPPING,
        timeout_seconds=10,
    )


# --- Pulling from the demo endpoint ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_pull_from_demo_endpoint_maps_fields(demo_source, segment):
    now = timezone.now()

    result = audience_pull(source=demo_source, now=now)

    assert result.status == AudienceImport.Status.IMPORTED, result.errors
    assert result.row_count == 60
    assert "demo-cdp/segments" in result.source_name and DEMO_TOKEN not in result.source_name
    recipients = Recipient.objects.filter(segment=segment)
    assert recipients.count() == 60
    assert recipients.filter(consent=Recipient.Consent.OPTED_OUT).count() == 5
    stale = recipients.filter(usage_as_of__lt=now - timedelta(hours=6)).count()
    assert stale == 7
    for recipient in recipients:
        assert recipient.customer_id.startswith("cdp_")
        assert recipient.email.endswith("@example.com")
        assert recipient.role in {"engineering manager", "marketing lead", "finance admin"}
        assert recipient.plan
        assert recipient.usage_summary
        assert timezone.is_aware(recipient.usage_as_of)
        assert (
            timedelta(hours=1) - timedelta(minutes=1)
            <= now - recipient.usage_as_of
            <= timedelta(hours=40, minutes=1)
        )
        assert recipient.attributes["usage_tier"] in {"high", "low"}
        assert isinstance(recipient.attributes["company_size"], int)
        assert not {"contact", "usage", "subscribed", "job_role", "id"} & set(recipient.attributes)

    demo_source.refresh_from_db()
    assert demo_source.last_fetched_at == now
    assert demo_source.last_status == "imported 60 recipients"
    assert source_age_hours(demo_source, now=now + timedelta(hours=3)) == pytest.approx(3.0)
    assert demo_source.history.first().history_change_reason == "Pull: imported 60 recipients"


@pytest.mark.django_db(transaction=True)
def test_demo_endpoint_is_stable_between_pulls(demo_source, segment):
    audience_pull(source=demo_source)
    first = {
        r.customer_id: (r.email, r.role, r.consent)
        for r in Recipient.objects.filter(segment=segment)
    }

    audience_pull(source=demo_source)

    second = {
        r.customer_id: (r.email, r.role, r.consent)
        for r in Recipient.objects.filter(segment=segment)
    }
    assert first == second and len(first) == 60


@pytest.mark.django_db(transaction=True)
def test_demo_endpoint_refuses_a_wrong_token(demo_source, segment, monkeypatch):
    wrong = "Bearer wrong-token-value-123"
    monkeypatch.setenv(CREDENTIAL_ENV, wrong)

    with pytest.raises(SourceError) as caught:
        audience_pull(source=demo_source)

    message = str(caught.value)
    assert "HTTP 401" in message
    assert "wrong-token-value-123" not in message and DEMO_TOKEN not in message
    demo_source.refresh_from_db()
    assert demo_source.last_status == message
    assert demo_source.last_fetched_at is None
    assert not Recipient.objects.filter(segment=segment).exists()


@pytest.mark.django_db(transaction=True)
def test_demo_endpoint_answers_404_for_an_unknown_segment(demo_source, live_server):
    demo_source.url = f"{live_server.url}/demo-cdp/segments/no_such_segment/recipients.json"
    demo_source.save()

    with pytest.raises(SourceError, match="HTTP 404"):
        audience_pull(source=demo_source)


def test_demo_endpoint_needs_a_bearer_token(client, monkeypatch, demo_cdp_on):
    monkeypatch.delenv(DEMO_CDP_TOKEN_ENV, raising=False)
    url = f"/demo-cdp/segments/{SEGMENT_SLUG}/recipients.json"

    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    response = client.get(
        url, headers={"Authorization": "Bearer demo-cdp-token"}
    )  # the default token
    assert response.status_code == 200
    assert len(response.json()["data"]["members"]) == 60


@pytest.mark.django_db(transaction=True)
def test_demo_endpoint_is_off_unless_enabled(live_server, settings):
    import urllib.error
    import urllib.request

    settings.MARKETINGAI_DEMO_CDP = False
    request = urllib.request.Request(
        f"{live_server.url}/demo-cdp/segments/{SEGMENT_SLUG}/recipients.json",
        headers={"Authorization": "Bearer demo-cdp-token"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 404
