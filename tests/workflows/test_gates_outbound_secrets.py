"""The outbound gate's secrets: credentials only from secrets the operator named, never shown.

Audience sources pull from a loopback server that counts the TCP connections it accepts;
the chat webhook goes through the same guarded client.
"""

from __future__ import annotations

import json

import pytest
from django.core import checks
from django.core.exceptions import ValidationError

from inputs.admin import AudienceSourceForm
from inputs.checks import check_audience_sources
from inputs.models import AudienceImport, AudienceSource
from inputs.sources import SourceError, audience_pull
from tests.support.outbound import REFUSED, counting_server_process, json_answer, server  # noqa: F401 - fixtures
from workflows import secrets
from workflows.checks import check_outbound
from workflows.models import AudienceSegment

SECRET_NAME = "TEST_CDP_TOKEN"
SECRET_VALUE = "cdp-secret-value-5d1e8a"
SERVER_SECRET = "server-own-secret-value-9c2b7f"


@pytest.fixture
def named_secret(settings, monkeypatch):
    settings.MARKETINGAI_SECRETS = [SECRET_NAME]
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_SECRET)
    monkeypatch.setenv("DJANGO_SECRET_KEY", SERVER_SECRET)
    return SECRET_VALUE


@pytest.fixture
def source(db, server, named_secret, settings):
    """A source on the counting server, which the operator allowed; its credential is a named secret."""
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    segment = AudienceSegment.objects.create(slug="gate_segment", name="Gate segment")
    return AudienceSource.objects.create(
        segment=segment, url=server.url(), auth_secret=SECRET_NAME, timeout_seconds=2
    )


# --- Operator-named secrets --------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["OPENAI_API_KEY", "DJANGO_SECRET_KEY", "HOME", "SOME_UNLISTED_NAME"]
)
def test_a_source_naming_anything_but_a_configured_secret_fails_validation(source, name):
    source.auth_secret = name

    with pytest.raises(ValidationError) as caught:
        source.full_clean()

    assert set(caught.value.message_dict) == {"auth_secret"}


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "DJANGO_SECRET_KEY", "SOME_UNLISTED_NAME"])
def test_a_pull_with_an_unconfigured_secret_is_refused_before_connecting(source, server, name):
    AudienceSource.objects.filter(pk=source.pk).update(
        auth_secret=name
    )  # as if stored before this gate
    source.refresh_from_db()

    with pytest.raises(SourceError) as caught:
        audience_pull(source=source)

    assert name in str(caught.value)
    assert server.connections == 0
    source.refresh_from_db()
    assert source.last_status == str(caught.value)
    assert SERVER_SECRET not in source.last_status


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "DJANGO_SECRET_KEY"])
def test_the_servers_own_secrets_stay_refused_even_when_listed(settings, source, server, name):
    settings.MARKETINGAI_SECRETS = [SECRET_NAME, name]
    AudienceSource.objects.filter(pk=source.pk).update(auth_secret=name)
    source.refresh_from_db()

    with pytest.raises(ValidationError):
        source.full_clean()
    with pytest.raises(SourceError, match="one of the server's own secrets"):
        audience_pull(source=source)
    with pytest.raises(secrets.SecretError):
        secrets.get(name)
    assert server.connections == 0
    assert "workflows.E011" in {m.id for m in check_outbound()}


def test_a_configured_secret_is_sent_and_never_shown(settings, source, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    server.respond = json_answer(
        f"echo {SECRET_VALUE}".encode(),
        status=200,
        content_type=f"text/plain; token={SECRET_VALUE}",
    )

    with pytest.raises(SourceError) as caught:
        audience_pull(source=source)

    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET_VALUE}"
    source.refresh_from_db()
    texts = [
        str(caught.value),
        source.last_status,
        *source.history.values_list("last_status", flat=True),
    ]
    texts += list(source.history.values_list("history_change_reason", flat=True))
    texts += list(AudienceImport.objects.values_list("source_name", flat=True))
    assert "did not return JSON" in str(caught.value)
    assert all(SECRET_VALUE not in (text or "") for text in texts)


def test_an_imported_pull_stores_nothing_of_the_secret(settings, source, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    record = {
        "customer_id": "c1",
        "email": "a@example.com",
        "consent": "opted_in",
        "role": "r",
        "plan": "p",
    }
    server.respond = json_answer({"recipients": [record]})
    source.records_path = "recipients"
    source.save()

    result = audience_pull(source=source)

    assert result.status == AudienceImport.Status.IMPORTED
    stored = json.dumps(
        [*AudienceImport.objects.values(), *AudienceSource.history.values()], default=str
    )
    assert SECRET_VALUE not in stored and SECRET_NAME in stored


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254", "[::1]"],
    ids=["loopback", "localhost-name", "10.x", "metadata", "ipv6-loopback"],
)
def test_a_pull_to_a_private_address_is_refused_and_recorded(settings, source, server, host):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    AudienceSource.objects.filter(pk=source.pk).update(
        url=server.url(host=host)
    )  # as if stored before this gate
    source.refresh_from_db()

    with pytest.raises(SourceError, match=REFUSED) as caught:
        audience_pull(source=source)

    assert server.connections == 0
    source.refresh_from_db()
    assert source.last_status == str(caught.value) and source.last_fetched_at is None


def test_the_admin_form_offers_only_configured_secrets(source):
    form = AudienceSourceForm(instance=source)
    assert [value for value, _ in form.fields["auth_secret"].choices] == ["", SECRET_NAME]

    data = {
        "segment": source.segment_id,
        "url": "https://cdp.example/recipients.json",
        "auth_header": "Authorization",
        "auth_secret": "OPENAI_API_KEY",
        "records_path": "",
        "field_mapping": "{}",
        "timeout_seconds": 5,
    }
    assert "auth_secret" in AudienceSourceForm(data=data, instance=source).errors
    assert AudienceSourceForm(data={**data, "auth_secret": SECRET_NAME}, instance=source).is_valid()


def test_a_source_with_an_internal_ip_literal_fails_validation(source):
    source.url = "http://169.254.169.254/latest/meta-data/"

    with pytest.raises(ValidationError) as caught:
        source.full_clean()

    assert set(caught.value.message_dict) == {"url"}


# --- The chat webhook goes through the same client ---------------------------------------


def test_a_webhook_to_a_private_address_is_refused_and_recorded(
    settings, workspace, model_server, reply, valid_email, server, caplog
):
    from approvals import services
    from approvals.models import Notification
    from tests.support.approvals import open_item, with_unsupported_claim
    from tests.support.runs import routed_run

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    settings.MARKETINGAI_SLACK_WEBHOOK_URL = server.url("/services/T000/B000/hook-secret-4411")
    item = open_item(
        routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    )

    services.item_notify(item_id=item.pk)

    failed = Notification.objects.get(channel="webhook")
    assert failed.status == Notification.Status.FAILED
    assert failed.detail.startswith("The chat webhook " + REFUSED)
    assert "hook-secret-4411" not in failed.detail and "hook-secret-4411" not in caplog.text
    assert server.connections == 0


def test_a_source_naming_an_unknown_secret_is_a_check_warning(source, settings):
    assert check_audience_sources(databases=["default"]) == []
    AudienceSource.objects.filter(pk=source.pk).update(auth_secret="OPENAI_API_KEY")

    messages = check_audience_sources(databases=["default"])

    assert {m.id for m in messages} == {"inputs.W001"}
    assert all(m.level == checks.WARNING for m in messages)
