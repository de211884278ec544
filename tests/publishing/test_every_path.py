"""Every path to publishing goes through the same gate, walked from the registries.

The walk takes every URL the publishing admins and the run admin serve (``admin.site._registry``
and each admin's ``get_urls()``: the run page's Publish and Unpublish, the attempt's Resolve, the
history revert pages, every changelist action), GETs and POSTs each as each person, then runs
the management commands, the tasks and the run-approved hook. A page, action or command added
later is walked without a new test; a publishing model registered later fails the walk until it
is given an object.
"""

from __future__ import annotations

import io
import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse
from django.urls.resolvers import RegexPattern

from approvals import services as approval_services
from approvals.models import ApprovalItem
from publishing import services, tasks
from publishing.models import Destination, PublishAttempt, PublishRequest, SuppressedAddress
from tests.publishing.conftest import REVIEWER_OF_TEAM, approve, destination_for, run_to_review
from tests.publishing.fakes import SLACK_HOOK_PATH
from tests.support.history_forms import form_data, stored_row
from workflows import admin_extensions
from workflows import services as workflow_services
from workflows.models import Run

pytestmark = pytest.mark.django_db

# What any confirmation or form of the walked pages could ask for; each page reads its own.
POSTED = {
    "reason": "Walking every path",
    "note": "Walked every path",
    "outcome": "not_delivered",
    "_publish": "Publish",
    "_unpublish": "Unpublish",
    "_resolve": "Record what the platform shows",
    "_save": "Save",
    "post": "yes",
}
ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
# An id that names nothing: a page answers 404 (or the admin's redirect), never a 500. The pages
# publishing adds itself are also given a malformed one.
NO_SUCH_ID = "999999"
MALFORMED_ID = "not-a-number"
DJANGO_PAGES = ("_changelist", "_add", "_history", "_delete", "_change", "_simple_history")
# Pages that must be among those walked (the walk proves nothing if it misses them).
MUST_WALK = {
    "workflows_run_change",
    "workflows_run_publish",
    "workflows_run_unpublish",
    "workflows_run_simple_history",
    "publishing_publishattempt_resolve",
    "publishing_publishattempt_simple_history",
    "publishing_publishrequest_simple_history",
    "publishing_destination_simple_history",
    "publishing_destination_change",
}


def _walked_models() -> list:
    return [m for m in admin.site._registry if m._meta.app_label == "publishing" or m is Run]


def _publishing_pages() -> set[str]:
    """The names of the admin pages publishing adds (not Django's or simple-history's own)."""
    names = {
        url.name
        for url in admin_extensions.extensions.urls(Run)
        if url.view.__module__ == "publishing.admin"
    }
    for model in _walked_models():
        if model._meta.app_label == "publishing":
            names |= {
                p.name
                for p in admin.site._registry[model].get_urls()
                if p.name and not p.name.endswith(DJANGO_PAGES)
            }
    return names


def _url(model, pattern: URLPattern, *, object_id, version_id) -> str:
    base = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    values = {"object_id": object_id, "version_id": version_id}
    if isinstance(pattern.pattern, RegexPattern):  # simple-history's "^([^/]+)/history/([^/]+)/$"
        filled = iter([object_id, version_id])
        route = re.sub(r"\([^)]*\)", lambda _: str(next(filled)), pattern.pattern._regex)
        return base + route.strip("^$")
    return base + ROUTE_PARAMETER.sub(lambda m: str(values[m.group(1)]), str(pattern.pattern))


def walk_admin(users: list, objects: dict, *, only=None) -> tuple[set[str], list[str]]:
    """GET and POST every URL of the walked admins (``only`` these models) as each user; the
    names walked and any 500s.

    ``objects``: model -> the object its pages are walked on. Delete pages and actions are
    opened, not confirmed: deleting configuration publishes nothing, and the rest of the walk
    needs the destinations.
    """
    missing = [m._meta.label for m in _walked_models() if m not in objects]
    assert not missing, f"Give the walk an object of {', '.join(missing)}."
    client = Client(raise_request_exception=False)
    walked, problems, own = set(), [], _publishing_pages()
    for user in users:
        client.force_login(user)
        request = RequestFactory().get("/")
        request.user = user
        for model in only or _walked_models():
            model_admin, obj = admin.site._registry[model], objects[model]
            version_id = obj.history.earliest("history_date").history_id
            for pattern in model_admin.get_urls():
                ids = [obj.pk]
                if "object_id" in str(pattern.pattern) or "(" in str(pattern.pattern):
                    ids.append(NO_SUCH_ID)
                    if pattern.name in own:
                        ids.append(MALFORMED_ID)
                for object_id in ids:
                    url = _url(model, pattern, object_id=object_id, version_id=version_id)
                    page = client.get(url)
                    data = dict(POSTED)
                    if page.status_code == 200 and page.get("Content-Type", "").startswith(
                        "text/html"
                    ):
                        data.update(form_data(page.content.decode()))
                    posts = []
                    if not (pattern.name or "").endswith("_delete"):
                        posts.append(data)
                    if (pattern.name or "").endswith("_changelist"):
                        posts += [
                            {
                                "action": name,
                                "_selected_action": [obj.pk],
                                "index": 0,
                                "post": "yes",
                            }
                            for name in model_admin.get_actions(request)
                            if not name.startswith("delete")
                        ]
                    answers = [page] + [client.post(url, body) for body in posts]
                    for answer in answers:
                        if answer.status_code >= 500:
                            problems.append(f"{user} {url}: {answer.status_code}")
                    walked.add(pattern.name or str(pattern.pattern))
    return walked, problems


def walk_commands_and_tasks(run: Run, users: list, *, hook_by) -> list[str]:
    """publish_run and unpublish_run as each user and as the service account, the tasks, the hook.

    A command or task publishing adds later fails here until the walk runs it too.
    """
    commands = {name for name, app in get_commands().items() if app == "publishing"}
    assert commands == {"publish_run", "unpublish_run"}, commands
    task_names = {name for name in vars(tasks) if name.endswith("_task")}
    assert task_names == {"publish_attempts_task", "resume_publishing_task"}, task_names
    said = []
    for user in [*users, None]:
        as_user = ["--user", user.username] if user else []
        for argv in (
            ["publish_run", run.run_id, *as_user, "--reason", "Walking every path"],
            ["unpublish_run", run.run_id, *as_user, "--reason", "Walking every path"],
        ):
            try:
                call_command(*argv, stdout=io.StringIO(), stderr=io.StringIO())
            except CommandError as exc:
                said.append(str(exc))
    said.append(tasks.publish_attempts_task(run.pk))
    tasks.resume_publishing_task()
    services.run_approved_publish(run, hook_by)
    return said


def _decide(run: Run, ws, decision: str) -> Run:
    item = ApprovalItem.objects.open().get(run=run)
    approval_services.item_decide(
        item_id=item.pk,
        decision=decision,
        reviewer=ws["users"][REVIEWER_OF_TEAM[item.team.slug]],
        note="Not this one.",
        enqueue=False,
    )
    run.refresh_from_db()
    return run


def _walk_objects(run: Run, destination: Destination, attempt: PublishAttempt) -> dict:
    objects = {
        Run: run,
        Destination: destination,
        PublishAttempt: attempt,
        PublishRequest: attempt.request,
        SuppressedAddress: SuppressedAddress.objects.get_or_create(
            email="gone@example.com", defaults={"reason": "Unsubscribed"}
        )[0],
    }
    return objects


@pytest.fixture
def destinations(workspace, provider):
    """A high-risk destination (waits for Publish) and one that publishes on approval."""
    return {
        "gated": destination_for(workspace, provider, "slack_bot", requires_publish_gate=True),
        "on_approval": destination_for(workspace, provider, "slack_webhook"),
    }


@pytest.fixture
def unknown_attempt(workspace, provider, model_server, reply, valid_email, destinations):
    """Another run, approved and published, whose webhook post is unknown (its answer never
    came): the attempt and press pages have something to show and the Resolve page acts."""
    provider.script(SLACK_HOOK_PATH, "accept_then_timeout")
    run = approve(run_to_review(workspace, model_server, reply, valid_email, variants=1), workspace)
    services.run_deliver(run_id=run.pk)
    attempt = PublishAttempt.objects.get(run=run)
    assert attempt.status == PublishAttempt.Status.UNKNOWN
    return attempt


def test_no_path_publishes_a_run_that_is_not_approved(
    workspace, model_server, reply, valid_email, provider, destinations, unknown_attempt
):
    ws, users = workspace, workspace["users"]
    awaiting = run_to_review(ws, model_server, reply, valid_email, variants=1)
    rejected = _decide(
        run_to_review(ws, model_server, reply, valid_email, variants=1), ws, "reject"
    )
    changes = _decide(
        run_to_review(ws, model_server, reply, valid_email, variants=1), ws, "request_changes"
    )
    failed = workflow_services.run_start(
        workflow=ws["workflow"], brief=ws["brief"], started_by=users["ops"], enqueue=False
    )
    failed.mark_failed(by=users["ops"], error="The worker stopped.")
    runs = {
        Run.Status.AWAITING_APPROVAL: awaiting,
        Run.Status.REJECTED: rejected,
        Run.Status.CHANGES_REQUESTED: changes,
        Run.Status.FAILED: failed,
    }
    assert {status: run.status for status, run in runs.items()} == {s: s for s in runs}
    # The manager and the admin may publish; ops started the runs and configures destinations.
    walkers = [users["manager"], users["admin"], users["ops"]]
    sent_before = len(provider.requests)

    for n, run in enumerate(runs.values()):
        objects = _walk_objects(run, destinations["gated"], unknown_attempt)
        # The publishing models' pages name no run: walked once; the run's pages for each run.
        walked, problems = walk_admin(walkers, objects, only=None if n == 0 else [Run])
        said = walk_commands_and_tasks(run, walkers, hook_by=users["manager"])

        assert not problems, problems
        assert (MUST_WALK if n == 0 else {m for m in MUST_WALK if "_run_" in m}) <= walked
        assert any("only an approved run is published" in s for s in said), said
        assert not PublishAttempt.objects.filter(run=run).exists(), run.status
        assert not PublishRequest.objects.filter(run=run).exists(), run.status
        run.refresh_from_db()
        assert run.status in runs
    assert len(provider.requests) == sent_before  # nothing reached a platform
    assert provider.messages == {}


@pytest.mark.parametrize("starter", ["manager", "admin"])
def test_no_path_lets_the_person_who_started_a_run_press_its_gate(
    starter, workspace, model_server, reply, valid_email, provider, destinations
):
    """A manager, or a superuser, started the run: both hold the publish permission."""
    users = workspace["users"]
    run = approve(
        run_to_review(workspace, model_server, reply, valid_email, user=starter, variants=1),
        workspace,
    )
    assert run.started_by == users[starter]
    assert users[starter].has_perm(services.PUBLISH_PERMISSION)
    on_approval = PublishAttempt.objects.get(run=run)  # published when the decision was recorded
    assert on_approval.destination == destinations["on_approval"]
    objects = _walk_objects(run, destinations["gated"], on_approval)

    walked, problems = walk_admin([users[starter]], objects)
    said = walk_commands_and_tasks(run, [users[starter]], hook_by=users[starter])

    assert not problems, problems
    assert MUST_WALK <= walked, MUST_WALK - walked
    assert any("someone else must publish it" in s for s in said), said
    assert not PublishAttempt.objects.filter(destination=destinations["gated"]).exists()
    assert not PublishRequest.objects.filter(run=run, gated=True).exists()
    assert not PublishRequest.objects.filter(
        run=run, action="publish", requested_by=users[starter]
    ).exists()
    assert provider.messages == {}  # the gated Slack channel got nothing
    run.trace.refresh_from_db()
    gated = next(
        d for d in run.trace.document["publish"]["destinations"] if d["requires_publish_gate"]
    )
    assert gated["status"] == "waiting_for_publish_gate"

    # Someone else with the permission presses it through the same page: the gate opens.
    other = users["admin" if starter == "manager" else "manager"]
    client = Client()
    client.force_login(other)
    client.post(
        reverse("admin:workflows_run_publish", args=[run.pk]),
        {"reason": "Checked", "_publish": "Publish"},
    )
    assert PublishAttempt.objects.filter(destination=destinations["gated"]).exists()


def test_approval_publishes_the_ungated_destination_and_the_gated_one_waits_for_a_press(
    client, workspace, model_server, reply, valid_email, provider, destinations
):
    users = workspace["users"]
    run = approve(run_to_review(workspace, model_server, reply, valid_email, variants=1), workspace)
    approver = get_user_model().objects.get(username=run.trace.document["approval"]["reviewer"])
    gated, on_approval = destinations["gated"], destinations["on_approval"]

    # On approval: the destination without a gate, by the approver, and why.
    automatic = PublishRequest.objects.get(run=run)
    assert (automatic.requested_by, automatic.gated, automatic.destinations) == (
        approver,
        False,
        [on_approval.name],
    )
    assert automatic.reason == "Published when the run was approved"
    row = automatic.history.get()
    assert (row.history_user, row.history_change_reason) == (approver, automatic.reason)
    assert list(PublishAttempt.objects.filter(run=run).values_list("destination", flat=True)) == [
        on_approval.pk
    ]
    services.run_deliver(run_id=run.pk)  # the worker
    first = PublishAttempt.objects.get(run=run, destination=on_approval)
    assert first.status == "delivered" and len(provider.hook_posts) == 1
    assert {h.history_user for h in first.history.all()} == {approver}
    run.trace.refresh_from_db()
    section = run.trace.document["publish"]
    by_name = {d["name"]: d for d in section["destinations"]}
    assert by_name[on_approval.name]["status"] == "delivered"
    assert by_name[on_approval.name]["published_by"] == approver.username
    assert by_name[gated.name]["status"] == "waiting_for_publish_gate"
    assert by_name[gated.name]["published_by"] is None and provider.messages == {}

    # The press: a manager (who did not start the run) on the run page, with a reason.
    manager = users["manager"]
    client.force_login(manager)
    client.post(
        reverse("admin:workflows_run_publish", args=[run.pk]),
        {"reason": "Launch is on", "_publish": "Publish"},
    )
    services.run_deliver(run_id=run.pk)

    press = PublishRequest.objects.filter(run=run).latest("requested_at", "pk")
    assert (press.requested_by, press.reason, press.gated) == (manager, "Launch is on", True)
    row = press.history.get()
    assert (row.history_user, row.history_change_reason) == (manager, "Launch is on")
    second = PublishAttempt.objects.get(run=run, destination=gated)
    assert second.status == "delivered" and len(provider.messages) == 1
    assert {h.history_user for h in second.history.all()} == {manager}
    assert len(provider.hook_posts) == 1  # the ungated destination was not sent again
    run.trace.refresh_from_db()
    section = run.trace.document["publish"]
    by_name = {d["name"]: d for d in section["destinations"]}
    assert by_name[gated.name]["status"] == "delivered"
    assert by_name[gated.name]["published_by"] == "manager"
    assert by_name[gated.name]["published_at"] == press.requested_at.isoformat()
    assert section["published_by"] == "manager"
    assert [(r["by"], r["gated"], r["reason"]) for r in section["requests"]] == [
        (approver.username, False, "Published when the run was approved"),
        ("manager", True, "Launch is on"),
    ]
    assert run.trace.history.filter(
        history_user=manager, history_change_reason="Publish by manager: Launch is on"
    ).exists()


# --- Lifting a destination's gate ------------------------------------------------------------------


def _change_data(client, url: str) -> dict:
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return form_data(page.content.decode())


def test_only_a_person_with_the_publish_permission_lifts_a_destinations_gate(
    client, workspace, provider
):
    """Ops configure destinations and start runs: lifting the gate would let them publish alone."""
    users = workspace["users"]
    bot = destination_for(workspace, provider, "slack_bot")  # first without a gate ...
    bot.requires_publish_gate = True  # ... then marked high-risk
    bot._history_user = users["admin"]
    bot.save()
    ungated_row = bot.history.earliest("history_date")
    assert not ungated_row.requires_publish_gate
    change_url = reverse("admin:publishing_destination_change", args=[bot.pk])
    revert_url = reverse(
        "admin:publishing_destination_simple_history", args=[bot.pk, ungated_row.history_id]
    )

    client.force_login(users["ops"])
    data = _change_data(client, change_url)
    assert data.pop("requires_publish_gate") == ["on"]
    refused = client.post(change_url, data)
    assert refused.status_code == 200
    assert "Only a person with the publish permission lifts the final gate" in (
        refused.content.decode()
    )
    reverted = client.post(revert_url, _change_data(client, revert_url))
    assert reverted.status_code == 200
    assert "Only a person with the publish permission lifts" in reverted.content.decode()
    bot.refresh_from_db()
    assert bot.requires_publish_gate

    # The workflow page's inline, for a role that edits workflows and destinations but does not publish.
    editor = get_user_model().objects.create_user("configurer", is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "view_workflow",
                "change_workflow",
                "view_destination",
                "add_destination",
                "change_destination",
            ]
        )
    )
    client.force_login(editor)
    workflow_url = reverse("admin:workflows_workflow_change", args=[workspace["workflow"].pk])
    data = _change_data(client, workflow_url)
    gate_fields = [k for k in data if k.endswith("-requires_publish_gate")]
    assert len(gate_fields) == 1, gate_fields
    del data[gate_fields[0]]
    page = client.post(workflow_url, data)
    assert page.status_code == 200
    assert "Only a person with the publish permission lifts" in page.content.decode()
    bot.refresh_from_db()
    assert bot.requires_publish_gate

    # Raising it needs no more than change permission; lifting it, the publish permission.
    client.force_login(users["admin"])
    data = _change_data(client, change_url)
    del data["requires_publish_gate"]
    assert client.post(change_url, data).status_code == 302
    bot.refresh_from_db()
    assert not bot.requires_publish_gate
    assert bot.history.latest("history_date").history_user == users["admin"]


def test_an_attempt_and_a_press_cannot_be_reverted_from_their_history(
    client, workspace, model_server, reply, valid_email, provider, destinations
):
    """simple-history's revert form saves for anyone who may view: here it is refused outright."""
    run = approve(run_to_review(workspace, model_server, reply, valid_email, variants=1), workspace)
    services.run_deliver(run_id=run.pk)
    attempt = PublishAttempt.objects.get(run=run)
    assert attempt.status == "delivered" and attempt.history.count() > 1
    client.force_login(workspace["users"]["admin"])  # a superuser: every permission there is

    for obj in (attempt, attempt.request):
        row = obj.history.earliest("history_date")
        url = reverse(
            f"admin:publishing_{obj._meta.model_name}_simple_history", args=[obj.pk, row.history_id]
        )
        before, count = stored_row(obj), obj.history.count()
        data = {**form_data(client.get(url).content.decode()), "reason": "Rewritten"}

        assert client.post(url, data).status_code == 403
        assert (stored_row(obj), obj.history.count()) == (before, count)
    assert PublishAttempt.objects.get(pk=attempt.pk).status == "delivered"
