"""Resend end to end: review -> approve -> Publish -> deliver, against the loopback fake of its
documented batch API; retries and stopped workers resend the same Idempotency-Key and deliver once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from publishing import content, services
from publishing.adapters.resend import tag_value
from publishing.models import Destination, PublishAttempt, SuppressedAddress
from tests.publishing.conftest import approve, run_to_review
from tests.publishing.fake_resend import (  # noqa: F401 - fixtures
    BATCH_PATH,
    RESEND_KEY,
    resend,
    resend_process,
)
from workflows.models import RunOutput

pytestmark = pytest.mark.django_db

SENDER = "News <news@kestrel.example>"


def resend_destination(ws, fake, **values) -> Destination:
    destination = Destination(
        workflow=ws["workflow"],
        **{
            "name": "Trial list (Resend)",
            "kind": "resend",
            "target": "trial-ending",
            "sender": SENDER,
            "secret_name": "RESEND_API_KEY",
            "api_base_url": fake.url(),
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


def make_stale(attempt: PublishAttempt) -> None:
    """The attempt's worker was killed while sending (left ``sending`` an hour ago)."""
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        status="sending", sending_started_at=timezone.now() - timedelta(hours=1)
    )


def test_resend_sends_one_tagged_email_per_recipient_in_keyed_batches(
    audience_workspace, resend, awaiting
):
    resend_destination(audience_workspace, resend)
    run = approve(awaiting, audience_workspace)

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run).select_related("variant"))
    requests = resend.batch_requests()
    assert len(requests) == len(attempts) == 7  # one batch per variant (each under 100)
    by_key = {a.idempotency_key: a for a in attempts}
    for request in requests:
        headers, batch = request["headers"], request["body"]
        assert headers["authorization"] == f"Bearer {RESEND_KEY}"
        assert headers["content-type"] == "application/json"
        attempt = by_key[headers["idempotency-key"]]  # the attempt's own key, as the header
        assert isinstance(batch, list) and 1 <= len(batch) <= 100
        for email in batch:
            assert email["from"] == SENDER
            assert len(email["to"]) == 1  # nobody sees another address
            assert email["subject"] == subject_of(attempt) and email["text"]
            assert "scheduled_at" not in email
            tags = {t["name"]: t["value"] for t in email["tags"]}
            assert tags["marketingai_variant"] == tag_value(attempt.variant.key)
            assert tags["marketingai_key"] == attempt.idempotency_key
            assert tags["marketingai_recipient"].startswith("cust_")
    subjects = {subject_of(a) for a in attempts}
    assert len(subjects) == 7  # each variant's own subject
    mailed = resend.recipients_mailed()
    assert len(mailed) == len(set(mailed)) == sum(a.sent_count for a in attempts) > 40
    assert {a.status for a in attempts} == {"delivered"}
    assert sorted(i for a in attempts for i in a.external_ids["email_ids"]) == sorted(
        e["id"] for e in resend.emails
    )
    run.trace.refresh_from_db()
    (entry,) = run.trace.document["publish"]["destinations"]
    assert entry["kind"] == "resend" and entry["delivered"] == len(mailed)


def test_a_variant_of_more_than_a_hundred_recipients_goes_in_chunks_of_a_hundred(
    audience_workspace, resend, model_server, reply, valid_email
):
    from tests.factories.inputs import audience

    audience(segment=audience_workspace["segment"], by=audience_workspace["users"]["ops"], size=700)
    run = run_to_review(audience_workspace, model_server, reply, valid_email)
    resend_destination(audience_workspace, resend)
    run = approve(run, audience_workspace)

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run))
    sizes = [len(r["body"]) for r in resend.batch_requests()]
    assert max(sizes) == 100 and len(sizes) == len(attempts) > 7  # some variant took two chunks
    assert len({a.idempotency_key for a in attempts}) == len(attempts)
    assert resend.sends_per_key() == {a.idempotency_key: a.sent_count for a in attempts}
    mailed = resend.recipients_mailed()
    assert len(mailed) == len(set(mailed)) == sum(sizes)
    # The trace keeps the first ids of a chunk of 100 and their count, not all of them.
    run.trace.refresh_from_db()
    (entry,) = run.trace.document["publish"]["destinations"]
    full = max(attempts, key=lambda a: a.sent_count)
    shown = next(a for a in entry["attempts"] if a["chunk"] == full.chunk_index)
    assert shown["external_ids"]["email_ids"] == {
        "count": full.sent_count,
        "first": full.external_ids["email_ids"][:10],
    }


def test_a_500_then_a_429_are_retried_and_each_batch_is_sent_once(
    audience_workspace, resend, awaiting, waits
):
    resend_destination(audience_workspace, resend)
    run = approve(awaiting, audience_workspace)
    resend.script(BATCH_PATH, "500", ("429", 2))

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run))
    assert waits == [1.0, 2.0]  # backoff, then Retry-After
    assert {a.status for a in attempts} == {"delivered"}
    assert sorted(a.tries for a in attempts) == [1] * 6 + [3]
    assert resend.sends_per_key() == {a.idempotency_key: a.sent_count for a in attempts}
    mailed = resend.recipients_mailed()
    assert len(mailed) == len(set(mailed))


def test_an_answer_that_never_came_is_resent_with_the_same_key_and_delivered_once(
    audience_workspace, resend, awaiting, waits
):
    resend_destination(audience_workspace, resend)
    run = approve(awaiting, audience_workspace)
    resend.script(BATCH_PATH, "accept_then_timeout")

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(run=run))
    retried = resend.batch_requests()[0]["headers"]["idempotency-key"]
    keys = [r["headers"]["idempotency-key"] for r in resend.batch_requests()]
    assert keys.count(retried) == 2  # sent, unanswered, sent again with the same key
    assert waits == [1.0]
    (attempt,) = [a for a in attempts if a.idempotency_key == retried]
    assert (attempt.status, attempt.tries) == ("delivered", 2)
    # Resend answered the replay with the first answer: the ids of the emails it sent once.
    assert attempt.external_ids["email_ids"] == [
        e["id"] for e in resend.emails if e["idempotency_key"] == retried
    ]
    assert resend.sends_per_key() == {a.idempotency_key: a.sent_count for a in attempts}
    mailed = resend.recipients_mailed()
    assert len(mailed) == len(set(mailed))


def test_a_worker_killed_after_sending_resumes_with_the_same_key_without_duplicates(
    audience_workspace, resend, awaiting
):
    resend_destination(audience_workspace, resend)
    run = approve(awaiting, audience_workspace)
    publish_and_deliver(run, audience_workspace)
    attempt = PublishAttempt.objects.filter(run=run).first()
    emails_before = list(resend.emails)
    make_stale(attempt)  # as if the worker died before recording Resend's answer

    services.run_deliver(run_id=run.pk)

    attempt.refresh_from_db()
    assert attempt.status == "delivered"
    assert resend.emails == emails_before  # replayed, not sent again
    resent = [
        r
        for r in resend.batch_requests()
        if r["headers"]["idempotency-key"] == attempt.idempotency_key
    ]
    assert len(resent) == 2
    assert attempt.history.filter(
        history_change_reason__startswith="Resumed after its worker stopped"
    ).exists()


def test_a_worker_killed_before_sending_resumes_and_sends_once(
    audience_workspace, resend, awaiting
):
    destination = resend_destination(audience_workspace, resend)
    run = approve(awaiting, audience_workspace)
    publish(run, audience_workspace)
    attempt = PublishAttempt.objects.filter(destination=destination).first()
    attempt.mark_sending()  # ...and the worker was killed here, before any request
    make_stale(attempt)

    services.run_deliver(run_id=run.pk)

    attempts = list(PublishAttempt.objects.filter(run=run))
    assert {a.status for a in attempts} == {"delivered"}
    assert resend.sends_per_key() == {a.idempotency_key: a.sent_count for a in attempts}


def test_a_key_reused_with_another_body_waits_for_a_person_and_says_what_to_check(
    audience_workspace, resend, awaiting
):
    resend_destination(audience_workspace, resend)
    run = approve(awaiting, audience_workspace)
    publish_and_deliver(run, audience_workspace)
    attempt = PublishAttempt.objects.filter(run=run).first()
    first_batch = next(
        r["body"]
        for r in resend.batch_requests()
        if r["headers"]["idempotency-key"] == attempt.idempotency_key
    )
    # The stopped worker's attempt is resumed after one of its recipients unsubscribed.
    SuppressedAddress.objects.create(email=first_batch[0]["to"][0], reason="Unsubscribed")
    make_stale(attempt)
    sent_before = len(resend.emails)

    services.run_deliver(run_id=run.pk)

    attempt.refresh_from_db()
    assert attempt.status == "unknown" and len(resend.emails) == sent_before
    assert "Resend answered 409" in attempt.error
    assert f"marketingai_key={attempt.idempotency_key}" in attempt.error
    assert "may have been delivered" in attempt.error


def test_unpublish_says_resend_email_sent_at_once_cannot_be_taken_back(
    audience_workspace, resend, awaiting
):
    resend_destination(audience_workspace, resend)
    run = approve(awaiting, audience_workspace)
    publish_and_deliver(run, audience_workspace)

    (result,) = services.run_unpublish(
        run=run, user=audience_workspace["users"]["manager"], reason="Wrong offer"
    )

    assert result.taken_back == [] and len(result.not_taken_back) == 7
    assert "email cannot be taken back" in result.not_taken_back[0]
    assert "Resend cancels only scheduled emails" in result.not_taken_back[0]
    assert set(PublishAttempt.objects.values_list("status", flat=True)) == {"delivered"}
    assert [r["path"] for r in resend.requests] == [BATCH_PATH] * 7  # no cancel was tried


def test_the_api_key_is_never_in_errors_traces_or_history(
    audience_workspace, resend, awaiting, monkeypatch
):
    wrong_key = "re_another_teams_key_123456789"
    monkeypatch.setenv("RESEND_API_KEY", wrong_key)
    destination = resend_destination(audience_workspace, resend)
    run = approve(awaiting, audience_workspace)

    publish_and_deliver(run, audience_workspace)

    attempts = list(PublishAttempt.objects.filter(destination=destination))
    assert {a.status for a in attempts} == {"failed"} and resend.emails == []
    assert "HTTP 403" in attempts[0].error
    run.trace.refresh_from_db()
    stored = json.dumps(run.trace.document) + "".join(
        f"{h.error}{h.history_change_reason}{json.dumps(h.detail)}"
        for a in attempts
        for h in a.history.all()
    )
    assert wrong_key not in stored and RESEND_KEY not in stored


def test_a_resend_destination_needs_a_sender_a_secret_and_sends_at_once(audience_workspace, resend):
    ok = {
        "name": "x",
        "kind": "resend",
        "sender": SENDER,
        "secret_name": "RESEND_API_KEY",
    }
    Destination(workflow=audience_workspace["workflow"], **ok).full_clean()
    for changes, field, words in [
        ({"sender": ""}, "sender", "From address"),
        ({"sender": "news at kestrel"}, "sender", "news@example.com"),
        ({"secret_name": ""}, "secret_name", "Name the secret"),
        ({"secret_name": "OPENAI_API_KEY"}, "secret_name", "server's own secrets"),
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


def test_tag_values_keep_to_resends_characters_and_stay_distinct():
    assert tag_value("cust_0001") == "cust_0001"
    assert tag_value("variant-a") == "variant-a"
    odd, other = tag_value("ana@example.com"), tag_value("ana_example.com")
    assert odd != other
    for value in (odd, other, tag_value("é" * 400), tag_value("a b/c")):
        assert len(value) <= 256 and all(c.isascii() and (c.isalnum() or c in "_-") for c in value)
