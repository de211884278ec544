"""The demo's publishing story, end to end over real HTTP: the demo workflow runs on the scripted
model, a reviewer approves (the chat post arrives), a manager publishes (one email per
recipient, with its variant), publishing again sends nothing, and unpublishing cancels the
scheduled emails and deletes the chat post. The demo platforms are served by pytest-django's
live server and reached through the real adapters and the guarded outbound client.
"""

from __future__ import annotations

import itertools
import shlex
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import get_commands, load_command_class
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals import services as approval_services
from approvals.models import ApprovalItem
from demo.destinations import (
    CHAT_CHANNEL,
    CHAT_DESTINATION,
    CMS_DESTINATION,
    EMAIL_DESTINATION,
    next_send_at,
)
from demo.loader import load_demo
from demo.models import OutboxMessage
from demo.outbox import runs_of
from demo.platforms.common import CMS_CREDENTIAL_ENV, PLATFORM_TOKEN_ENV
from inputs.models import RecipientAssignment
from publishing import services as publishing
from publishing.models import Destination, PublishAttempt
from workflows import services as workflow_services
from workflows.models import Run, RunOutput, Workflow

live = pytest.mark.django_db(transaction=True)

TOKEN = "test-outbox-token-91c4"
# The demo user who decides in each team's queue.
TEAM_REVIEWERS = {
    "legal": "legal",
    "brand": "brand",
    "lifecycle_marketing": "lifecycle",
    "product_marketing": "product",
}
VERDICT_PASS = {"verdict": "pass", "reasons": ["Grounded in the brief."]}


@pytest.fixture
def platforms(live_server, settings, monkeypatch, demo_platforms_on):
    """The demo with its platforms on, served by the live server, the way `make run` serves them."""
    port = urlsplit(live_server.url).port
    monkeypatch.setenv("MARKETINGAI_ADMIN_PORT", str(port))
    monkeypatch.setenv(PLATFORM_TOKEN_ENV, TOKEN)
    monkeypatch.setenv(CMS_CREDENTIAL_ENV, f"demo:{TOKEN}")
    settings.MARKETINGAI_DEMO = True
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    settings.MARKETINGAI_SECRETS = [PLATFORM_TOKEN_ENV, CMS_CREDENTIAL_ENV, "WRONG_TOKEN"]
    return live_server


def scripted_copy(reply, valid_email):
    """A responder: a pass for judges; for generations, copy whose subject names the generation."""
    numbers = itertools.count(1)

    def respond(body):
        if "verdict" in str(body.get("response_format", "")):
            return reply.json(VERDICT_PASS)
        subject = f"Your trial ends Friday ({next(numbers)})"
        return reply.json({**valid_email, "subject_lines": [subject, "Second", "Third"]})

    return respond


def users() -> dict:
    return {u.username: u for u in get_user_model().objects.all()}


def reviewed_run(model_server, reply, valid_email) -> Run:
    """The demo loaded, and a run of its workflow by ops, awaiting approval."""
    load_demo()
    model_server.respond_with(scripted_copy(reply, valid_email))
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    run = workflow_services.run_start(
        workflow=workflow,
        brief=workflow.briefs.order_by("-created_at", "-pk").first(),
        started_by=users()["ops"],
        fresh_sample=True,
        enqueue=False,
    )
    workflow_services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    return run


def approve(run: Run) -> None:
    item = ApprovalItem.objects.open().select_related("team").get(run=run)
    reviewer = users()[TEAM_REVIEWERS[item.team.slug]]
    approval_services.item_decide(item_id=item.pk, decision="approve", reviewer=reviewer)
    run.refresh_from_db()
    assert run.status == Run.Status.APPROVED


def subject_of(output: RunOutput) -> str:
    return output.content["subject_lines"][0]


def assigned(run: Run) -> dict[str, tuple[str, str, str]]:
    """Email -> (customer id, variant key, the variant's subject), as the run assigned them."""
    rows = RecipientAssignment.objects.filter(run=run, variant__isnull=False).select_related(
        "recipient", "variant__output"
    )
    return {
        a.recipient.email: (a.recipient.customer_id, a.variant.key, subject_of(a.variant.output))
        for a in rows
    }


@live
def test_the_demo_story_ends_in_the_outbox(platforms, model_server, reply, valid_email, client):
    run = reviewed_run(model_server, reply, valid_email)
    destinations = {d.name: d for d in run.workflow.destinations.all()}
    email_destination = destinations[EMAIL_DESTINATION]
    people = users()
    # The run's starter cannot press the gate; a manager can.
    assert not people["ops"].has_perm(publishing.PUBLISH_PERMISSION)
    assert people["manager"].has_perm(publishing.PUBLISH_PERMISSION)

    # Approved: the chat post goes out (the worker's task, run here); the email waits for the gate.
    approve(run)
    publishing.run_deliver(run_id=run.pk)

    chat = OutboxMessage.objects.get(platform="chat")
    assert (chat.to, chat.status) == (CHAT_CHANNEL, "delivered")
    assert chat.subject == subject_of(run.output)
    assert not OutboxMessage.objects.filter(platform="email").exists()
    with pytest.raises(publishing.PublishRefused, match="needs the publish permission"):
        publishing.run_publish(run=run, user=people["ops"], enqueue=False)

    # A manager publishes: exactly one email per assigned recipient, with its variant's subject.
    publishing.run_publish(run=run, user=people["manager"], reason="Demo story", enqueue=False)
    publishing.run_deliver(run_id=run.pk)

    expected = assigned(run)
    emails = list(OutboxMessage.objects.filter(platform="email"))
    assert len(expected) >= 40
    assert Counter(e.to for e in emails) == Counter(list(expected))
    for email in emails:
        assert (email.customer_id, email.variant_key, email.subject) == expected[email.to]
        assert email.status == "scheduled" and email.scheduled_for == email_destination.send_at
        assert email.details == {"from": email_destination.sender}
    assert len({e.variant_key for e in emails}) == run.variants.count() > 1
    assert len({e.subject for e in emails}) == run.variants.count()
    keys = {a.idempotency_key for a in PublishAttempt.objects.filter(run=run)}
    assert {e.idempotency_key for e in emails} <= keys

    # Publishing again sends nothing more.
    received = OutboxMessage.objects.count()
    again = publishing.run_publish(run=run, user=people["manager"], enqueue=False)
    publishing.run_deliver(run_id=run.pk)
    assert again.nothing_new and OutboxMessage.objects.count() == received

    # The Outbox page shows each message with its run, to a manager.
    client.force_login(people["manager"])
    page = client.get(reverse("admin:demo_outboxmessage_changelist"), {"platform": "email"})
    html = page.content.decode()
    assert page.status_code == 200 and "Outbox" in html
    assert html.count(reverse("admin:workflows_run_change", args=[run.pk])) == min(len(emails), 100)

    # Unpublished: the scheduled emails are cancelled, the chat post deleted, the blog post a draft.
    taken_back = publishing.run_unpublish(run=run, user=people["manager"], reason="Wrong offer")

    assert not [t.not_taken_back for t in taken_back if t.not_taken_back]
    statuses = Counter(OutboxMessage.objects.values_list("platform", "status"))
    assert statuses == {
        ("email", "cancelled"): len(expected),
        ("chat", "deleted"): 1,
        ("cms", "draft"): 1,
    }
    assert set(PublishAttempt.objects.filter(run=run).values_list("status", flat=True)) == {
        "rolled_back"
    }
    run.trace.refresh_from_db()
    assert run.trace.document["publish"]["status"] == "rolled_back"


@live
def test_a_wrong_token_is_refused_and_nothing_reaches_the_outbox(
    platforms, model_server, reply, valid_email, monkeypatch
):
    run = reviewed_run(model_server, reply, valid_email)
    monkeypatch.setenv("WRONG_TOKEN", "not-the-demo-token")
    run.workflow.destinations.update(secret_name="WRONG_TOKEN")

    approve(run)
    publishing.run_publish(run=run, user=users()["manager"], enqueue=False)
    publishing.run_deliver(run_id=run.pk)

    attempts = list(PublishAttempt.objects.filter(run=run).select_related("destination"))
    assert attempts and {a.status for a in attempts} == {"failed"}
    errors = {a.destination.name: a.error for a in attempts}
    assert "HTTP 401" in errors[EMAIL_DESTINATION]
    assert "invalid_auth" in errors[CHAT_DESTINATION]
    assert not any("not-the-demo-token" in e or TOKEN in e for e in errors.values())
    assert not OutboxMessage.objects.exists()


@live
def test_the_approved_run_becomes_one_blog_draft_in_the_demo_cms(
    platforms, model_server, reply, valid_email
):
    run = reviewed_run(model_server, reply, valid_email)
    assert run.workflow.destinations.filter(name=CMS_DESTINATION).exists()

    approve(run)
    publishing.run_deliver(run_id=run.pk)
    publishing.run_publish(run=run, user=users()["manager"], enqueue=False)
    publishing.run_deliver(run_id=run.pk)

    post = OutboxMessage.objects.get(platform="cms")
    assert post.status == "draft" and post.subject == subject_of(run.output)
    assert post.to.endswith("/demo-platforms/cms")
    assert runs_of([post]) == {post.pk: run}


# --- The demo destinations ---------------------------------------------------------------------


@pytest.fixture
def demo_settings(settings):
    """The demo with its platforms on, as the settings build them with the default admin port."""
    settings.MARKETINGAI_DEMO = True
    settings.MARKETINGAI_DEMO_PLATFORMS = True
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:8000"]
    settings.MARKETINGAI_SECRETS = [PLATFORM_TOKEN_ENV, CMS_CREDENTIAL_ENV]
    return settings


@pytest.mark.parametrize(
    "now, send_at",
    [
        ("2026-12-03T06:59:00+00:00", "2026-12-03T09:00:00+00:00"),
        ("2026-12-03T07:00:00+00:00", "2026-12-03T09:00:00+00:00"),
        ("2026-12-03T07:01:00+00:00", "2026-12-04T09:00:00+00:00"),
        ("2026-12-03T23:30:00-05:00", "2026-12-04T09:00:00+00:00"),  # 04:30 UTC
    ],
)
def test_the_email_is_sent_at_the_next_nine_utc_at_least_two_hours_ahead(now, send_at):
    assert next_send_at(datetime.fromisoformat(now)) == datetime.fromisoformat(send_at)


@pytest.mark.django_db
def test_the_demo_destinations_are_loaded_once_and_restored_when_they_drift(demo_settings):
    first = load_demo()
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    destinations = {d.name: d for d in workflow.destinations.all()}
    email, chat = destinations[EMAIL_DESTINATION], destinations[CHAT_DESTINATION]
    wanted = {EMAIL_DESTINATION, CHAT_DESTINATION, CMS_DESTINATION}
    assert set(destinations) == wanted
    assert (email.kind, email.api_base_url, email.secret_name, email.sender) == (
        "sendgrid",
        "http://127.0.0.1:8000/demo-platforms/email",
        PLATFORM_TOKEN_ENV,
        "hello@kestrel.example",
    )
    assert email.requires_publish_gate and email.schedule == "at"
    assert email.send_at == next_send_at(timezone.now())
    assert (chat.kind, chat.target, chat.api_base_url, chat.requires_publish_gate) == (
        "slack_bot",
        CHAT_CHANNEL,
        "http://127.0.0.1:8000/demo-platforms/chat/api",
        False,
    )
    assert any(EMAIL_DESTINATION in line for line in first.created)

    second = load_demo()
    assert not second.changed_anything, second.updated
    history = email.history.count()

    Destination.objects.filter(pk=email.pk).update(
        requires_publish_gate=False, send_at=timezone.now() - timedelta(hours=1)
    )
    Destination.objects.filter(pk=chat.pk).update(enabled=False)
    third = load_demo()

    email.refresh_from_db()
    chat.refresh_from_db()
    assert email.requires_publish_gate and email.send_at == next_send_at(timezone.now())
    assert chat.enabled
    assert email.history.count() == history + 1
    assert len(third.updated) == 2 and not third.created


@pytest.mark.django_db
def test_without_the_platforms_the_demo_has_no_destinations(settings):
    settings.MARKETINGAI_DEMO = True
    assert settings.MARKETINGAI_DEMO_PLATFORMS is False  # the test settings

    load_demo()

    assert not Destination.objects.exists()


# --- The Outbox page --------------------------------------------------------------------------


def add_messages(n: int, *, start: int = 0) -> None:
    now = timezone.now()
    rows = []
    for i in range(start, start + n):
        rows.append(
            OutboxMessage(
                platform="email",
                to=f"reader{i}@example.com",
                customer_id=f"cust_{i}",
                variant_key="generic",
                subject=f"Subject {i}",
                status="scheduled",
                scheduled_for=now + timedelta(hours=3),
                idempotency_key=f"mai_{i:040x}",
            )
        )
        rows.append(
            OutboxMessage(
                platform="chat",
                to=CHAT_CHANNEL,
                subject=f"Post {i}",
                status="delivered",
                external_id=f"1700000000.{i:06d}",
            )
        )
    OutboxMessage.objects.bulk_create(rows)


@pytest.fixture
def demo_people(settings):
    settings.MARKETINGAI_DEMO = True
    load_demo()
    return users()


@pytest.mark.django_db
def test_the_outbox_changelist_keeps_a_constant_query_count(demo_people, client):
    client.force_login(demo_people["manager"])
    url = reverse("admin:demo_outboxmessage_changelist")
    add_messages(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_messages(30, start=2)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)
    assert page.status_code == 200 and "reader31@example.com" in page.content.decode()
    assert len(many) == len(few)


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["manager", "ops"])
def test_managers_and_ops_see_the_outbox_and_cannot_change_it(demo_people, client, username):
    add_messages(1)
    message = OutboxMessage.objects.filter(platform="email").get()
    client.force_login(demo_people[username])
    opts = "admin:demo_outboxmessage"

    changelist = client.get(reverse(f"{opts}_changelist"))
    detail = client.get(reverse(f"{opts}_change", args=[message.pk]))

    assert changelist.status_code == 200 and "<h1>Outbox</h1>" in changelist.content.decode()
    assert detail.status_code == 200 and "reader0@example.com" in detail.content.decode()
    assert client.get(reverse(f"{opts}_add")).status_code == 403
    assert (
        client.post(
            reverse(f"{opts}_change", args=[message.pk]), {"to": "x@example.com"}
        ).status_code
        == 403
    )
    assert (
        client.post(reverse(f"{opts}_delete", args=[message.pk]), {"post": "yes"}).status_code
        == 403
    )
    message.refresh_from_db()
    assert message.to == "reader0@example.com"


@pytest.mark.django_db
def test_other_roles_do_not_see_the_outbox(demo_people, client):
    client.force_login(demo_people["legal"])

    assert client.get(reverse("admin:demo_outboxmessage_changelist")).status_code == 403


@pytest.mark.django_db
def test_a_scheduled_email_whose_time_passed_shows_and_filters_as_delivered(demo_people, client):
    add_messages(2)
    past = OutboxMessage.objects.get(to="reader0@example.com")
    past.scheduled_for = timezone.now() - timedelta(minutes=1)
    past.save()
    client.force_login(demo_people["manager"])
    url = reverse("admin:demo_outboxmessage_changelist")

    delivered = client.get(url, {"platform": "email", "status": "delivered"}).content.decode()
    scheduled = client.get(url, {"platform": "email", "status": "scheduled"}).content.decode()

    assert "reader0@example.com" in delivered and "reader1@example.com" not in delivered
    assert "reader1@example.com" in scheduled and "reader0@example.com" not in scheduled
    assert "Delivered" in delivered


# --- `make run` -----------------------------------------------------------------------------------

RUN_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"


def test_make_run_gives_the_platforms_their_token_before_loading_the_demo():
    script = RUN_SCRIPT.read_text()
    load = script.index("manage.py load_demo")
    assert 0 <= script.find(f"export {PLATFORM_TOKEN_ENV}=") < load
    assert 0 <= script.find(f"export {CMS_CREDENTIAL_ENV}=") < load


def test_make_runs_closing_message_tells_the_story_with_real_commands():
    message = RUN_SCRIPT.read_text().split("<<MSG", 1)[1].split("\nMSG", 1)[0]
    assert "Outbox" in message and "/admin/demo/outboxmessage/" in message
    commands = [
        shlex.split(line.split("manage.py", 1)[1].replace("<item>", "1").replace("<run>", "1"))
        for line in message.splitlines()
        if "manage.py" in line
    ]
    names = [command[0] for command in commands]
    for name in ("run_workflow", "approval_queue", "decide_item", "publish_run", "unpublish_run"):
        assert name in names
    for name, *args in commands:
        command = load_command_class(get_commands()[name], name)
        command.create_parser("manage.py", name).parse_args(args)  # exits on an unknown option
    publish = next(c for c in commands if c[0] == "publish_run")
    assert publish[publish.index("--user") + 1] == "manager"
