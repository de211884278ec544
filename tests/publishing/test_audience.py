"""Audience at send time: each recipient gets the run's variant; consent is checked again; chunks."""

from __future__ import annotations

import math

import pytest
from django.utils import timezone

from inputs.imports import audience_import
from inputs.models import Recipient, RecipientAssignment
from publishing import services
from publishing.adapters.sendgrid import SendGridAdapter
from publishing.models import PublishAttempt, SuppressedAddress
from tests.publishing.conftest import approve, destination_for
from workflows.models import RunOutput

pytestmark = pytest.mark.django_db


def publish_now(run, ws):
    services.run_publish(run=run, user=ws["users"]["manager"], reason="Send", enqueue=False)
    return services.run_deliver(run_id=run.pk)


def test_each_recipient_gets_the_variant_the_run_assigned(audience_workspace, provider, awaiting):
    destination_for(audience_workspace, provider, "sendgrid")
    run = approve(awaiting, audience_workspace)

    publish_now(run, audience_workspace)

    subject_of_variant = {
        o.variant_id: o.content["subject_lines"][0] for o in RunOutput.objects.filter(run=run)
    }
    expected = {
        a.recipient.email: subject_of_variant[a.variant_id]
        for a in RecipientAssignment.objects.filter(run=run, variant__isnull=False).select_related(
            "recipient"
        )
    }
    mailed = {
        p["to"][0]["email"]: p["subject"]
        for mail in provider.mails
        for p in mail["personalizations"]
    }
    assert len(expected) == 55 and mailed == expected
    assert len(set(subject_of_variant.values())) == 7  # seven variants, each to its own cohort
    for mail in provider.mails:  # one variant per request: its subject and its body
        assert {p["subject"] for p in mail["personalizations"]} == {mail["subject"]}
    opted_out = Recipient.objects.filter(consent="opted_out").values_list("email", flat=True)
    assert not set(opted_out) & set(mailed)


def test_an_opt_out_after_the_run_is_dropped_and_counted_never_sent(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "sendgrid")
    run = approve(awaiting, audience_workspace)
    assigned = list(
        RecipientAssignment.objects.filter(run=run, variant__isnull=False)
        .select_related("recipient")
        .order_by("recipient__customer_id")
    )
    opts_out, suppressed, leaves = (a.recipient for a in assigned[:3])
    segment = audience_workspace["brief"].audience_segment
    rows = ["customer_id,email,role,consent,usage_as_of"]
    for recipient in Recipient.objects.current(segment.pk):
        if recipient.customer_id == leaves.customer_id:
            continue  # gone from the newest snapshot
        consent = "out" if recipient.customer_id == opts_out.customer_id else recipient.consent
        consent = {"opted_in": "in", "opted_out": "out"}.get(consent, consent)
        rows.append(
            f"{recipient.customer_id},{recipient.email},{recipient.role},{consent},"
            f"{timezone.now().isoformat()}"
        )
    imported = audience_import(segment=segment, data="\n".join(rows).encode(), filename="later.csv")
    assert imported.status == "imported", imported.errors
    SuppressedAddress.objects.create(email=suppressed.email.upper(), reason="Complained")

    publish_now(run, audience_workspace)

    mailed = provider.recipients_mailed()
    assert len(mailed) == 52
    assert not {opts_out.email, suppressed.email, leaves.email} & set(mailed)
    run.trace.refresh_from_db()
    (entry,) = run.trace.document["publish"]["destinations"]
    assert entry["recipients"] == {"sent": 52, "dropped": 3, "failed": 0}
    assert entry["delivered"] == 52
    dropped = {}
    for attempt in entry["attempts"]:
        for reason, count in attempt["detail"].get("dropped", {}).items():
            dropped[reason] = dropped.get(reason, 0) + count
    assert dropped == {"opted_out": 1, "suppressed": 1, "left_segment": 1}


def test_recipients_go_in_chunks_each_an_attempt_with_its_own_key(
    audience_workspace, provider, awaiting, monkeypatch
):
    monkeypatch.setattr(SendGridAdapter, "chunk_size", 4)
    destination_for(audience_workspace, provider, "sendgrid")
    run = approve(awaiting, audience_workspace)

    publish_now(run, audience_workspace)

    per_variant = [v.recipient_count for v in run.variants.all() if v.recipient_count]
    attempts = list(PublishAttempt.objects.filter(run=run))
    assert len(attempts) == sum(math.ceil(n / 4) for n in per_variant)
    assert len({a.idempotency_key for a in attempts}) == len(attempts)
    assert [a.chunk_index for a in attempts] == list(range(len(attempts)))
    assert all(len(m["personalizations"]) <= 4 for m in provider.mails)
    assert provider.sends_per_key() == {a.idempotency_key: 1 for a in attempts}
    assert sorted(provider.recipients_mailed()) == sorted(set(provider.recipients_mailed()))
    assert len(provider.recipients_mailed()) == 55
