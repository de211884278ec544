"""Exactly once: retries after 500/429 never send twice; unknown outcomes wait for a person; a
stopped worker resumes without duplicates; publishing again delivers nothing new."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from publishing import registry, services
from publishing.adapters.base import Adapter, Outcome
from publishing.models import PublishAttempt
from publishing.services import delivery
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fakes import KEYED_PATH
from workflows.lifecycle import TransitionRefused

pytestmark = pytest.mark.django_db


def press(run, ws, user="manager"):
    return services.run_publish(run=run, user=ws["users"][user], reason="Send", enqueue=False)


def test_a_500_is_retried_and_each_chunk_is_sent_once(
    audience_workspace, provider, awaiting, waits
):
    destination_for(audience_workspace, provider, "sendgrid")
    run = approve(awaiting, audience_workspace)
    provider.script("/v3/mail/send", "500", "500")

    press(run, audience_workspace)
    services.run_deliver(run_id=run.pk)

    attempts = list(PublishAttempt.objects.filter(run=run))
    assert provider.sends_per_key() == {a.idempotency_key: 1 for a in attempts}
    assert {a.status for a in attempts} == {"delivered"}
    assert sorted(a.tries for a in attempts) == [1] * (len(attempts) - 1) + [3]
    assert waits == [1.0, 2.0]  # backoff without Retry-After


def test_a_429_waits_as_long_as_retry_after_says(audience_workspace, provider, awaiting, waits):
    bot = destination_for(audience_workspace, provider, "slack_bot")
    provider.script("/api/chat.postMessage", ("429", 2))
    run = approve(awaiting, audience_workspace)

    services.run_deliver(run_id=run.pk)

    assert waits == [2.0]
    assert len(provider.messages) == 1
    attempt = PublishAttempt.objects.get(destination=bot)
    assert (attempt.status, attempt.tries) == ("delivered", 2)


def test_a_retry_after_beyond_the_limit_fails_unsent_and_a_later_publish_sends_it_once(
    audience_workspace, provider, awaiting, waits
):
    bot = destination_for(audience_workspace, provider, "slack_bot")
    provider.script("/api/chat.postMessage", ("429", 3600))
    run = approve(awaiting, audience_workspace)

    services.run_deliver(run_id=run.pk)

    attempt = PublishAttempt.objects.get(destination=bot)
    assert attempt.status == "failed" and "publish again later" in attempt.error
    assert provider.messages == {} and waits == []
    run.trace.refresh_from_db()
    (entry,) = run.trace.document["publish"]["destinations"]
    assert entry["status"] == "failed" and entry["recipients"]["failed"] == 1

    started = press(run, audience_workspace)
    services.run_deliver(run_id=run.pk)

    assert started.retried == [attempt] and started.created == []
    attempt.refresh_from_db()
    assert attempt.status == "delivered" and len(provider.messages) == 1


def test_a_keyless_send_accepted_then_unanswered_waits_for_a_person(
    audience_workspace, provider, awaiting, waits
):
    bot = destination_for(audience_workspace, provider, "slack_bot")
    provider.script("/api/chat.postMessage", "accept_then_timeout")
    run = approve(awaiting, audience_workspace)

    services.run_deliver(run_id=run.pk)

    attempt = PublishAttempt.objects.get(destination=bot)
    assert attempt.status == "unknown"
    assert "check the platform before retrying" in attempt.error
    assert len(provider.messages) == 1 and waits == []  # it did arrive; nothing was resent
    services.run_deliver(run_id=run.pk)
    assert press(run, audience_workspace).nothing_new
    services.run_deliver(run_id=run.pk)
    assert len(provider.messages) == 1
    run.trace.refresh_from_db()
    assert run.trace.document["publish"]["status"] == "unknown"


def test_a_worker_stopped_mid_send_leaves_a_keyless_attempt_for_a_person(
    audience_workspace, provider, awaiting
):
    bot = destination_for(audience_workspace, provider, "slack_bot")
    run = approve(awaiting, audience_workspace)
    attempt = PublishAttempt.objects.get(destination=bot)
    attempt.mark_sending()  # ...and the worker was killed here
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        sending_started_at=timezone.now() - timedelta(hours=1)
    )

    services.run_deliver(run_id=run.pk)

    attempt.refresh_from_db()
    assert attempt.status == "unknown" and "The worker stopped while sending" in attempt.error
    assert provider.requests == []


def test_a_sending_attempt_whose_worker_is_alive_is_left_to_it(
    audience_workspace, provider, awaiting
):
    bot = destination_for(audience_workspace, provider, "slack_bot")
    run = approve(awaiting, audience_workspace)
    PublishAttempt.objects.get(destination=bot).mark_sending()  # another worker, sending now

    services.run_deliver(run_id=run.pk)

    assert PublishAttempt.objects.get(destination=bot).status == "sending"
    assert provider.requests == []


class KeyedAdapter(Adapter):
    """A platform that honours Idempotency-Key (Resend and SparkPost document one)."""

    kind = "resend"
    takes_idempotency_key = True

    def send(self, attempt, payload):
        destination = attempt.destination
        response = self.post(
            f"{destination.api_base_url}{KEYED_PATH}",
            {"subject": payload.message.subject},
            destination=destination,
            secret="",
            headers={"Idempotency-Key": payload.idempotency_key},
        )
        return Outcome(sent=1, external_ids={"id": response.body.decode()})


@pytest.fixture
def keyed(provider):
    real = registry.adapter_or_none("resend")
    registry.unregister("resend")
    registry.register(KeyedAdapter)
    yield
    registry.unregister("resend")
    if real is not None:
        registry.register(type(real))


def test_with_a_key_an_unanswered_send_and_a_stopped_worker_resend_with_the_same_key(
    audience_workspace, provider, awaiting, waits, keyed
):
    destination = destination_for(
        audience_workspace,
        provider,
        "resend",
        name="Keyed platform",
        secret_name="SENDGRID_API_KEY",
        api_base_url=provider.url(),
    )
    provider.script(KEYED_PATH, "accept_then_timeout")
    run = approve(awaiting, audience_workspace)

    services.run_deliver(run_id=run.pk)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "delivered" and attempt.tries == 2
    assert dict(provider.keyed_requests) == {attempt.idempotency_key: 2}
    assert len(provider.keyed) == 1  # two requests, one delivery

    # A worker killed after sending: the next task resends with the same key.
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        status="sending", sending_started_at=timezone.now() - timedelta(hours=1)
    )
    services.run_deliver(run_id=run.pk)

    attempt.refresh_from_db()
    assert attempt.status == "delivered"
    assert dict(provider.keyed_requests) == {attempt.idempotency_key: 3}
    assert len(provider.keyed) == 1


def test_publishing_again_delivers_nothing_new(audience_workspace, provider, awaiting):
    destination_for(audience_workspace, provider, "sendgrid")
    destination_for(audience_workspace, provider, "slack_webhook")
    run = approve(awaiting, audience_workspace)
    services.run_deliver(run_id=run.pk)
    mails, posts = len(provider.mails), len(provider.hook_posts)

    again = press(run, audience_workspace)
    services.run_deliver(run_id=run.pk)

    assert again.nothing_new and again.request is None
    assert (len(provider.mails), len(provider.hook_posts)) == (mails, posts) == (7, 1)


def test_a_person_resolves_an_unknown_attempt_after_checking_the_platform(
    client, audience_workspace, provider, awaiting, waits
):
    from django.urls import reverse

    bot = destination_for(audience_workspace, provider, "slack_bot")
    provider.script("/api/chat.postMessage", "accept_then_timeout")
    run = approve(awaiting, audience_workspace)
    services.run_deliver(run_id=run.pk)
    attempt = PublishAttempt.objects.get(destination=bot)
    assert attempt.status == "unknown"
    url = reverse("admin:publishing_publishattempt_resolve", args=[attempt.pk])

    client.force_login(audience_workspace["users"]["ops"])
    assert client.post(url, {"outcome": "delivered", "note": "x"}).status_code == 403
    client.force_login(audience_workspace["users"]["manager"])
    assert "check the platform before retrying" in client.get(url).content.decode()
    client.post(url, {"outcome": "delivered", "note": "It is in #launch."})

    attempt.refresh_from_db()
    assert (attempt.status, attempt.sent_count) == ("delivered", 1)
    latest = attempt.history.latest("history_date", "history_id")
    assert latest.history_user.username == "manager"
    assert "it was delivered. It is in #launch." in latest.history_change_reason
    assert press(run, audience_workspace).nothing_new and len(provider.messages) == 1


def test_the_sweeper_takes_up_deliveries_whose_task_was_lost(
    audience_workspace, provider, awaiting, monkeypatch
):
    from publishing import tasks

    bot = destination_for(audience_workspace, provider, "slack_bot")
    run = approve(awaiting, audience_workspace)  # its task was enqueued on a commit that never came
    attempt = PublishAttempt.objects.get(destination=bot)
    assert services.runs_with_unsent_attempts() == []  # just made: its task may be on its way
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    enqueued = []
    monkeypatch.setattr(delivery, "async_task", lambda *args: enqueued.append(args))

    assert tasks.resume_publishing_task() == 1

    assert enqueued == [("publishing.tasks.publish_attempts_task", run.pk)]
    tasks.publish_attempts_task(run.pk)
    assert len(provider.messages) == 1


def test_of_two_workers_finding_a_stale_send_only_one_takes_it_over(
    audience_workspace, provider, awaiting
):
    bot = destination_for(audience_workspace, provider, "slack_bot")
    approve(awaiting, audience_workspace)
    attempt = PublishAttempt.objects.get(destination=bot)
    attempt.mark_sending()
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        sending_started_at=timezone.now() - timedelta(hours=1)
    )
    stale_before = timezone.now() - timedelta(minutes=5)
    first, second = (PublishAttempt.objects.get(pk=attempt.pk) for _ in range(2))

    assert first.mark_resumed(stale_before=stale_before) is True
    assert second.mark_resumed(stale_before=stale_before) is False
    assert first.history.latest("history_date", "history_id").history_change_reason.startswith(
        "Resumed after its worker stopped"
    )


def test_of_two_workers_that_read_a_pending_attempt_only_the_first_claims_it(
    audience_workspace, provider, awaiting
):
    bot = destination_for(audience_workspace, provider, "slack_bot")
    approve(awaiting, audience_workspace)
    first, second = (PublishAttempt.objects.get(destination=bot) for _ in range(2))

    first.mark_sending()
    with pytest.raises(TransitionRefused, match="another worker claimed it first"):
        second.mark_sending()
    assert PublishAttempt.objects.get(pk=first.pk).history.filter(status="sending").count() == 1
