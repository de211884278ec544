"""A worker killed mid-publish, for real: `manage.py qcluster` on the test database sends to a
loopback fake that holds its answer; the whole cluster is SIGKILLed while the worker waits for
it. A second cluster (stale sends taken up after a second) runs the sweeper, which takes the
delivery up again: with an idempotency key (Resend) every recipient gets one email; without one
(SendGrid) the killed chunk waits for a person and nothing is sent twice.
"""

from __future__ import annotations

import time

import pytest
from django_q.tasks import async_task, fetch

from publishing import services
from publishing.models import PublishAttempt
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fake_resend import (  # noqa: F401 - fixtures
    BATCH_PATH,
    resend,
    resend_process,
)
from tests.support.cluster import clusters, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)

SWEEPER = "publishing.tasks.resume_publishing_task"
STALE_SECONDS = 1
UNSENT = {PublishAttempt.Status.PENDING, PublishAttempt.Status.SENDING}


def cluster_env(fake, secret_name: str, **extra: str) -> dict[str, str]:
    """What a cluster needs to reach the fake (its key is in this process's environment)."""
    return {
        "MARKETINGAI_OUTBOUND_ALLOWED_HOSTS": fake.key,
        "MARKETINGAI_SECRET_NAMES": secret_name,
        # The held answer is still awaited when the worker is killed (the send waits 20 s).
        "MARKETINGAI_OUTBOUND_MAX_TIMEOUT": "30",
        "MARKETINGAI_Q_WORKERS": "1",
        **extra,
    }


def publish_on_commit(run, ws) -> None:
    """Publish pressed by the manager: the delivery task is enqueued when the request commits."""
    started = services.run_publish(
        run=run, user=ws["users"]["manager"], reason="Send", enqueue=True
    )
    assert started.to_send == 7


def kill_while_held(cluster, fake, run) -> PublishAttempt:
    """Wait until the worker's first request is held by the fake, then SIGKILL the cluster."""

    def held():
        cluster.assert_running()
        return fake.hold.taken.is_set() and (
            PublishAttempt.objects.filter(run=run, status="sending").first()
        )

    attempt = wait_until(held, timeout=30, what="the worker's request to be held")
    cluster.kill()
    fake.hold.release()  # its worker is gone: the answer finds nobody
    attempt.refresh_from_db()
    assert attempt.status == "sending" and attempt.tries == 1
    assert set(
        PublishAttempt.objects.filter(run=run)
        .exclude(pk=attempt.pk)
        .values_list("status", flat=True)
    ) == {"pending"}
    return attempt


def sweep(cluster) -> int:
    """The sweeper's task (as its Schedule enqueues it), run on ``cluster``: runs it took up."""
    task_id = async_task(SWEEPER)

    def done():
        cluster.assert_running()
        return fetch(task_id)

    task = wait_until(done, timeout=30, what="the sweeper to run on the cluster")
    assert task.success, task.result
    return task.result


def resume_on_a_second_cluster(new_cluster, env, attempt, run):
    """A second cluster, for which a send started over a second ago lost its worker, sweeps."""
    resumed = new_cluster(**env, MARKETINGAI_PUBLISH_STALE_SENDING_SECONDS=str(STALE_SECONDS))
    stale_at = attempt.sending_started_at.timestamp() + STALE_SECONDS + 0.1
    time.sleep(max(0.0, stale_at - time.time()))

    assert sweep(resumed) == 1

    def ended():
        resumed.assert_running()
        return not PublishAttempt.objects.filter(run=run, status__in=UNSENT).exists()

    wait_until(ended, timeout=30, what="the delivery to be taken up and end")
    return resumed


def test_a_keyed_send_whose_worker_was_killed_mid_request_resumes_and_mails_everyone_once(
    audience_workspace,
    resend,  # noqa: F811
    awaiting,
    clusters,  # noqa: F811
):
    destination_for(
        audience_workspace,
        resend,
        "resend",
        name="Trial list (Resend)",
        target="trial-ending",
        sender="News <news@kestrel.example>",
        secret_name="RESEND_API_KEY",
        api_base_url=resend.url(),
        requires_publish_gate=True,
    )
    run = approve(awaiting, audience_workspace)
    resend.script(BATCH_PATH, "hold")
    env = cluster_env(resend, "RESEND_API_KEY")
    first = clusters(**env)

    publish_on_commit(run, audience_workspace)
    held = kill_while_held(first, resend, run)

    assert first.process.returncode == -9
    assert resend.sends_per_key() == {held.idempotency_key: len(held.recipient_ids)}
    first_answer = [e["id"] for e in resend.emails]

    resume_on_a_second_cluster(clusters, env, held, run)

    attempts = list(PublishAttempt.objects.filter(run=run))
    assert {a.status for a in attempts} == {"delivered"}
    # Each chunk sent once: the resumed request's key was answered with the first answer.
    assert resend.sends_per_key() == {a.idempotency_key: a.sent_count for a in attempts}
    mailed = resend.recipients_mailed()
    assert len(mailed) == len(set(mailed)) == sum(a.sent_count for a in attempts) > 0
    requests = [r["headers"]["idempotency-key"] for r in resend.batch_requests()]
    assert requests.count(held.idempotency_key) == 2 and len(requests) == len(attempts) + 1
    held.refresh_from_db()
    assert held.tries == 2
    assert held.external_ids == {"email_ids": first_answer}
    reasons = [h.history_change_reason or "" for h in held.history.all()]
    assert any(r.startswith("Resumed after its worker stopped") for r in reasons), reasons


def test_a_keyless_send_whose_worker_was_killed_mid_request_waits_for_a_person_and_is_never_resent(
    audience_workspace, provider, awaiting, clusters
):
    destination_for(audience_workspace, provider, "sendgrid", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)
    provider.script("/v3/mail/send", "hold")
    env = cluster_env(provider, "SENDGRID_API_KEY")
    first = clusters(**env)

    publish_on_commit(run, audience_workspace)
    held = kill_while_held(first, provider, run)

    assert provider.sends_per_key() == {held.idempotency_key: 1}
    resumed = resume_on_a_second_cluster(clusters, env, held, run)

    held.refresh_from_db()
    assert held.status == "unknown"
    assert "The worker stopped while sending" in held.error
    assert "check the platform before retrying" in held.error
    attempts = list(PublishAttempt.objects.filter(run=run))
    assert {a.status for a in attempts if a.pk != held.pk} == {"delivered"}
    sends = {a.idempotency_key: 1 for a in attempts}
    assert provider.sends_per_key() == sends
    assert [r["path"] for r in provider.requests].count("/v3/mail/send") == len(attempts)

    # The sweeper finds nothing to take up: an unknown send waits for a person.
    assert sweep(resumed) == 0
    assert services.runs_with_unsent_attempts() == []

    manager = audience_workspace["users"]["manager"]
    services.attempt_resolve(
        attempt=held, user=manager, delivered=True, note="In SendGrid's activity feed."
    )
    held.refresh_from_db()
    assert held.status == "delivered"
    assert held.sent_count == len(held.recipient_ids) - held.dropped_count > 0
    again = services.run_publish(run=run, user=manager, reason="Again", enqueue=True)
    assert again.nothing_new and again.unsent == 0
    assert sweep(resumed) == 0
    assert provider.sends_per_key() == sends
