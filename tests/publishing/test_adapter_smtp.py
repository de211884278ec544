"""SMTP end to end: review -> approve -> Publish -> deliver through Django's real SMTP backend
to a loopback server; one message per recipient, and a message that may have been handed over
is never sent again without a person."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from publishing import content, services
from publishing.adapters.smtp import message_id
from publishing.checks import check_smtp_backend
from publishing.models import Destination, PublishAttempt
from tests.publishing.conftest import approve
from tests.publishing.fake_smtp import (  # noqa: F401 - fixtures
    SMTP_PASSWORD,
    SMTP_USER,
    smtp_process,
    smtp_server,
)
from workflows.models import RunOutput

pytestmark = pytest.mark.django_db

SENDER = "news@kestrel.example"


def smtp_destination(ws, **values) -> Destination:
    destination = Destination(
        workflow=ws["workflow"],
        **{
            "name": "Staff list (SMTP)",
            "kind": "smtp",
            "target": "staff",
            "sender": SENDER,
            "requires_publish_gate": True,
            **values,
        },
    )
    destination.full_clean()
    destination.save()
    return destination


def publish(run, ws, user="manager"):
    return services.run_publish(run=run, user=ws["users"][user], reason="Send", enqueue=False)


def publish_and_deliver(run, ws):
    publish(run, ws)
    return services.run_deliver(run_id=run.pk)


def subject_of(attempt: PublishAttempt) -> str:
    output = RunOutput.objects.get(variant_id=attempt.variant_id)
    return content.message_parts(output.content)["subject"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket closes


def test_smtp_sends_one_message_per_recipient_with_its_variant_and_a_stable_message_id(
    audience_workspace, smtp_server, awaiting
):
    smtp_destination(audience_workspace)
    run = approve(awaiting, audience_workspace)

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run).select_related("variant"))
    assert {a.status for a in attempts} == {"delivered"}
    assert all(len(a.recipient_ids) == 1 and a.sent_count == 1 for a in attempts)
    messages = {m["headers"]["X-MarketingAI-Key"]: m for m in smtp_server.messages}
    assert len(smtp_server.messages) == len(messages) == len(attempts) > 40
    for attempt in attempts:
        message = messages[attempt.idempotency_key]
        (to,) = message["to"]
        headers = message["headers"]
        assert message["mail_from"] == SENDER and headers["From"] == SENDER
        assert headers["To"] == to
        assert headers["Subject"] == subject_of(attempt) and message["body"].strip()
        assert headers["X-MarketingAI-Variant"] == attempt.variant.key
        assert headers["X-MarketingAI-Recipient"].startswith("cust_")
        expected = message_id(key=attempt.idempotency_key, email=to, sender=SENDER)
        assert headers["Message-ID"] == expected == attempt.external_ids["message_id"]
        assert to not in expected and expected.endswith("@kestrel.example>")
    assert len({subject_of(a) for a in attempts}) == 7
    mailed = smtp_server.recipients_mailed()
    assert len(mailed) == len(set(mailed))


def test_a_recipient_the_server_refuses_fails_alone(audience_workspace, smtp_server, awaiting):
    smtp_destination(audience_workspace)
    run = approve(awaiting, audience_workspace)
    smtp_server.refuse("reader0010@example.com")

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run))
    (refused,) = [a for a in attempts if a.status == "failed"]
    assert {a.status for a in attempts} == {"delivered", "failed"}
    assert refused.failed_count == 1 and refused.tries == 1  # a 5xx is not retried
    assert "refused recipient cust_0010" in refused.error and "550" in refused.error
    assert "reader0010@example.com" not in refused.error  # the address stays out of the trace
    assert "reader0010@example.com" not in smtp_server.recipients_mailed()
    assert len(smtp_server.messages) == len(attempts) - 1


def test_a_server_that_refuses_the_connection_is_retried_and_sends_once(
    audience_workspace, smtp_server, awaiting, waits
):
    smtp_destination(audience_workspace)
    run = approve(awaiting, audience_workspace)
    smtp_server.script_connections("421")
    smtp_server.script_messages("451")

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run))
    assert {a.status for a in attempts} == {"delivered"}
    # The first message: a 421 greeting, then a 451 for its data (nothing kept), then taken.
    assert waits == [1.0, 2.0]
    assert sorted(a.tries for a in attempts) == [1] * (len(attempts) - 1) + [3]
    mailed = smtp_server.recipients_mailed()
    assert len(mailed) == len(set(mailed)) == len(attempts)


def test_a_server_out_of_reach_fails_unsent_and_a_later_publish_sends_once(
    audience_workspace, smtp_server, awaiting, waits, settings
):
    smtp_destination(audience_workspace)
    run = approve(awaiting, audience_workspace)
    settings.EMAIL_PORT = closed_port()

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run))
    assert {a.status for a in attempts} == {"failed"} and smtp_server.messages == []
    assert "Could not reach the mail server" in attempts[0].error
    assert "Gave up after 3 tries" in attempts[0].error

    settings.EMAIL_PORT = smtp_server.port
    started = publish(run, audience_workspace)
    services.run_deliver(run_id=run.pk)

    assert len(started.retried) == len(attempts)
    assert set(PublishAttempt.objects.values_list("status", flat=True)) == {"delivered"}
    mailed = smtp_server.recipients_mailed()
    assert len(mailed) == len(set(mailed)) == len(attempts)


def test_a_connection_dropped_after_handing_over_is_unknown_and_never_resent(
    audience_workspace, smtp_server, awaiting, waits
):
    smtp_destination(audience_workspace)
    run = approve(awaiting, audience_workspace)
    smtp_server.drop_after(3)  # the fourth message is handed over, its answer never comes

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run))
    (unknown,) = [a for a in attempts if a.status == "unknown"]
    assert "may have been delivered" in unknown.error
    assert "check the platform before retrying" in unknown.error
    assert unknown.external_ids == {} and waits == []
    handed_over = len(smtp_server.messages)
    assert handed_over == len(attempts)  # it did arrive, once

    services.run_deliver(run_id=run.pk)
    assert publish(run, audience_workspace).nothing_new
    services.run_deliver(run_id=run.pk)

    assert len(smtp_server.messages) == handed_over
    run.trace.refresh_from_db()
    assert run.trace.document["publish"]["status"] == "unknown"


def test_a_worker_killed_mid_send_leaves_the_message_for_a_person(
    audience_workspace, smtp_server, awaiting
):
    destination = smtp_destination(audience_workspace)
    run = approve(awaiting, audience_workspace)
    publish(run, audience_workspace)
    attempt = PublishAttempt.objects.filter(destination=destination).first()
    attempt.mark_sending()  # ...and the worker was killed here: was the message handed over?
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        sending_started_at=timezone.now() - timedelta(hours=1)
    )

    services.run_deliver(run_id=run.pk)

    attempt.refresh_from_db()
    assert attempt.status == "unknown" and "The worker stopped while sending" in attempt.error
    to = smtp_server.recipients_mailed()
    assert len(to) == len(set(to)) == PublishAttempt.objects.filter(status="delivered").count()
    assert not any(
        m["headers"]["X-MarketingAI-Key"] == attempt.idempotency_key for m in smtp_server.messages
    )


def test_unpublish_says_mail_handed_to_the_server_cannot_be_taken_back(
    audience_workspace, smtp_server, awaiting
):
    smtp_destination(audience_workspace)
    run = approve(awaiting, audience_workspace)
    publish_and_deliver(run, audience_workspace)

    (result,) = services.run_unpublish(
        run=run, user=audience_workspace["users"]["manager"], reason="Wrong offer"
    )

    assert result.taken_back == []
    assert len(result.not_taken_back) == PublishAttempt.objects.count()
    assert "handed to the mail server (Message-ID <mai_" in result.not_taken_back[0]
    assert "email cannot be taken back" in result.not_taken_back[0]
    assert set(PublishAttempt.objects.values_list("status", flat=True)) == {"delivered"}


def test_the_login_comes_from_djangos_settings_and_its_password_never_shows(
    audience_workspace, smtp_server, awaiting, settings
):
    destination = smtp_destination(audience_workspace)
    run = approve(awaiting, audience_workspace)
    settings.EMAIL_HOST_USER = SMTP_USER
    settings.EMAIL_HOST_PASSWORD = "not-the-password-987654"

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(destination=destination))
    assert {a.status for a in attempts} == {"failed"} and smtp_server.messages == []
    assert "refused the login of EMAIL_HOST_USER: 535" in attempts[0].error
    assert attempts[0].tries == 1  # a wrong password is not retried
    run.trace.refresh_from_db()
    stored = json.dumps(run.trace.document) + "".join(
        f"{h.error}{h.history_change_reason}" for a in attempts for h in a.history.all()
    )
    assert "not-the-password-987654" not in stored

    settings.EMAIL_HOST_PASSWORD = SMTP_PASSWORD
    publish(run, audience_workspace)
    services.run_deliver(run_id=run.pk)

    assert set(PublishAttempt.objects.values_list("status", flat=True)) == {"delivered"}
    assert set(smtp_server.logins) == {SMTP_USER}
    assert len(smtp_server.messages) == len(attempts)


def test_an_smtp_destination_takes_django_settings_not_a_secret(audience_workspace, settings):
    settings.MARKETINGAI_SECRETS = ["SMTP_PASSWORD_NAME"]
    ok = {"name": "x", "kind": "smtp", "sender": SENDER}
    Destination(workflow=audience_workspace["workflow"], **ok).full_clean()  # no secret needed
    for changes, field, words in [
        ({"secret_name": "SMTP_PASSWORD_NAME"}, "secret_name", "Django's email settings"),
        ({"api_base_url": "https://smtp.example.com"}, "api_base_url", "leave the API base URL"),
        ({"sender": ""}, "sender", "From address"),
        ({"sender": "staff list"}, "sender", "news@example.com"),
        (
            {"schedule": "at", "send_at": timezone.now() + timedelta(hours=1)},
            "schedule",
            "cannot schedule",
        ),
    ]:
        destination = Destination(workflow=audience_workspace["workflow"], **{**ok, **changes})
        with pytest.raises(ValidationError) as refused:
            destination.full_clean()
        assert words in " ".join(refused.value.message_dict[field]), changes


@pytest.mark.parametrize(
    "backend", ["console", "locmem", "dummy"], ids=["console", "locmem", "dummy"]
)
def test_an_enabled_smtp_destination_warns_while_the_email_backend_delivers_nothing(
    audience_workspace, settings, backend
):
    settings.EMAIL_BACKEND = f"django.core.mail.backends.{backend}.EmailBackend"
    assert check_smtp_backend(databases=["default"]) == []  # no SMTP destination yet
    destination = smtp_destination(audience_workspace)

    (warning,) = check_smtp_backend(databases=["default"])

    assert warning.id == "publishing.W002"
    assert "Staff list (SMTP)" in warning.msg and "nothing would reach anyone" in warning.msg
    assert "MARKETINGAI_EMAIL_BACKEND" in warning.hint
    assert check_smtp_backend(databases=None) == []  # a database check: --database default
    destination.enabled = False
    destination.save()
    assert check_smtp_backend(databases=["default"]) == []


def test_the_smtp_backend_with_an_smtp_destination_passes_the_check(audience_workspace, settings):
    smtp_destination(audience_workspace)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert check_smtp_backend(databases=["default"]) == []
