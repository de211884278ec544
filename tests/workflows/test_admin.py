"""The admin as marketing ops use it: every page opens, runs start from it, lists stay cheap."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.runs import start_and_execute
from workflows.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def executed_run(audience_workspace, model_server, reply, valid_email):
    """A demo run with its data check, cohort variants and recipient assignments."""
    model_server.push(*[reply.json(valid_email)] * 7)
    return start_and_execute(audience_workspace)


def registered_models():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_every_admin_page_opens_for_a_superuser(admin_client, executed_run):
    checked = 0
    for model, model_admin in registered_models():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert admin_client.get(changelist).status_code == 200, changelist

        add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        expected_add = 200 if model_admin.has_add_permission(_request_for(admin_client)) else 403
        assert admin_client.get(add).status_code == expected_add, add

        obj = model._default_manager.first()
        if obj is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            assert admin_client.get(change).status_code == 200, change
            if hasattr(model_admin, "history_view"):
                history = reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk]
                )
                assert admin_client.get(history).status_code == 200, history
            checked += 1
    assert checked >= 15


def _request_for(client):
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="admin")
    return request


def test_run_page_shows_output_and_trace(admin_client, executed_run):
    response = admin_client.get(reverse("admin:workflows_run_change", args=[executed_run.pk]))
    html = response.content.decode()
    assert executed_run.trace_id in html
    assert executed_run.output.content["subject_lines"][0] in html
    assert "valid against the schema" in html
    assert 'name="_save"' not in html


def test_run_status_is_never_editable_in_the_admin(admin_client, executed_run):
    url = reverse("admin:workflows_run_change", args=[executed_run.pk])
    response = admin_client.post(url, {"status": "queued"})
    assert response.status_code == 403
    executed_run.refresh_from_db()
    assert executed_run.status == Run.Status.AWAITING_APPROVAL


def test_start_run_from_the_workflow_page_queues_a_run(
    client, workspace, django_capture_on_commit_callbacks
):
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    client.force_login(workspace["users"]["ops"])
    workflow = workspace["workflow"]
    page = client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    start_url = reverse("admin:workflows_workflow_start_run", args=[workflow.pk])
    assert start_url in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(start_url, {"brief": workspace["brief"].pk})

    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:workflows_run_change", args=[run.pk]
    )
    assert run.status == Run.Status.QUEUED and run.started_by == workspace["users"]["ops"]
    assert run.prompt_version == workflow.production_version
    assert broker.queue_size() == 1
    broker.purge_queue()
    status = client.get(reverse("admin:workflows_run_status", args=[run.pk])).json()
    assert status == {"status": "queued", "in_progress": True}
    run_page = client.get(response["Location"]).content.decode()
    assert (
        reverse("admin:workflows_run_status", args=[run.pk]) in run_page
    )  # the page follows the run


def test_start_run_needs_the_start_run_permission(client, workspace):
    client.force_login(workspace["users"]["legal"])
    url = reverse("admin:workflows_workflow_start_run", args=[workspace["workflow"].pk])
    assert client.post(url, {"brief": workspace["brief"].pk}).status_code == 403
    assert not Run.objects.exists()


def test_start_run_refuses_a_brief_of_another_workflow(client, workspace):
    client.force_login(workspace["users"]["ops"])
    url = reverse("admin:workflows_workflow_start_run", args=[workspace["workflow"].pk])
    response = client.post(url, {"brief": 999999})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Run.objects.exists()


def test_run_changelist_query_count_does_not_grow_with_runs(
    admin_client, workspace, model_server, reply, valid_email
):
    def add_runs(n):
        for _ in range(n):
            model_server.push(reply.json(valid_email))
            start_and_execute(workspace, fresh_sample=True)

    url = reverse("admin:workflows_run_changelist")
    add_runs(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    add_runs(6)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(url).status_code == 200
    assert len(many) == len(few)


def test_segment_and_recipient_lists_keep_a_constant_query_count(admin_client, audience_workspace):
    from inputs.imports import audience_import

    segment = audience_workspace["brief"].audience_segment
    urls = [
        reverse("admin:workflows_audiencesegment_changelist"),
        reverse("admin:inputs_recipient_changelist"),
        reverse("admin:inputs_audienceimport_changelist"),
    ]
    before = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        before.append(len(queries))
    for n in range(3):
        rows = "\n".join(f"x{n}_{i},x{i}@example.com,in" for i in range(40))
        audience_import(
            segment=segment,
            data=f"customer_id,email,consent\n{rows}".encode(),
            filename=f"more{n}.csv",
        )
    after = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            admin_client.get(url)
        after.append(len(queries))
    assert after == before


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:workflows_promptversion_changelist",
        "admin:workflows_claimset_changelist",
        "admin:workflows_campaignbrief_changelist",
        "admin:workflows_workflow_changelist",
        "admin:workflows_prompttemplate_changelist",
    ],
)
def test_other_changelists_keep_a_constant_query_count(admin_client, workspace, changelist):
    from workflows.models import CampaignBrief, ClaimSet

    url = reverse(changelist)
    with CaptureQueriesContext(connection) as before:
        admin_client.get(url)
    ops = workspace["users"]["ops"]
    for i in range(5):
        workspace["workflow"].production_version.new_draft(by=ops)
        ClaimSet.objects.latest_approved().new_draft(by=ops)
        brief = workspace["brief"]
        CampaignBrief.objects.create(
            workflow=brief.workflow,
            name=f"extra {i}",
            audience_segment=brief.audience_segment,
            audience_role="x",
            plan_name="Team",
        )
    with CaptureQueriesContext(connection) as after:
        admin_client.get(url)
    assert len(after) == len(before)


def test_approve_action_is_hidden_without_the_approve_permission(client, workspace):
    client.force_login(workspace["users"]["ops"])
    response = client.get(reverse("admin:workflows_promptversion_changelist"))
    html = response.content.decode()
    assert "copy_to_new_draft" in html
    assert "approve_selected" not in html
