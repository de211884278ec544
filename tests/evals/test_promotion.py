"""Promotion of prompt versions: a winning suite against production AND a second person's approval."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import NoReverseMatch, reverse

from evals import services
from evals.models import EvalSuiteRun, PromotionRequest
from tests.factories.evals import eval_dataset
from tests.factories.workspace import candidate as approved_candidate

pytestmark = pytest.mark.django_db


def finished_suite(ws, candidate, decision, *, baseline=None):
    """A suite that ran and decided (its generations are covered by test_eval_suites)."""
    workflow = ws["workflow"]
    suite = services.suite_start(
        workflow=workflow,
        candidate=candidate,
        baseline=baseline,
        started_by=ws["users"]["ops"],
        enqueue=False,
    )
    suite.mark_running(by=ws["users"]["ops"], total=suite.progress_total)
    report = services.suite_report(suite, policy=services.policy_for(workflow)) | {
        "decision": decision,
        "reasons": ["As decided for the test."],
    }
    suite.mark_finished(
        by=ws["users"]["ops"], report=report, decision=decision, reasons=report["reasons"]
    )
    return suite


@pytest.fixture
def production(workspace):
    return workspace["workflow"].production_version


@pytest.fixture
def dataset(workspace):
    """The dataset suites run on (suite_start takes the workflow's)."""
    return eval_dataset(workflow=workspace["workflow"], name="Historical trial briefs")


@pytest.fixture
def candidate(workspace, dataset):
    """An approved candidate: the version after production, written by ops."""
    return approved_candidate(workspace, changelog="Shorter body")


def test_a_request_needs_a_finished_suite_that_says_promote(workspace, production, candidate):
    ops = workspace["users"]["ops"]
    with pytest.raises(
        ValidationError,
        match=f"has no finished eval suite against the production version {production.label}",
    ):
        services.promotion_request(
            workflow=workspace["workflow"], version=candidate, requested_by=ops
        )
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.DO_NOT_PROMOTE)
    with pytest.raises(
        ValidationError,
        match=rf"The latest eval suite of {candidate.label} \(suite_\d+\) says do not promote",
    ):
        services.promotion_request(
            workflow=workspace["workflow"], version=candidate, requested_by=ops
        )


def test_only_the_latest_suite_counts(workspace, candidate):
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.DO_NOT_PROMOTE)
    with pytest.raises(ValidationError, match="says do not promote"):
        services.promotion_request(
            workflow=workspace["workflow"],
            version=candidate,
            requested_by=workspace["users"]["ops"],
        )


def test_neither_the_author_nor_the_requester_may_approve(workspace, production, candidate):
    users = workspace["users"]
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    request = services.promotion_request(
        workflow=workspace["workflow"], version=candidate, requested_by=users["admin"]
    )

    with pytest.raises(
        ValidationError,
        match=f"ops wrote {candidate.label}: a second person must approve its promotion",
    ):
        users["ops"].user_permissions.add(*_perm("approve_promotion"))
        services.promotion_approve(request=request, by=_fresh(users["ops"]))
    with pytest.raises(
        ValidationError, match="admin requested this promotion: a second person must approve it"
    ):
        services.promotion_approve(request=request, by=users["admin"])
    workspace["workflow"].refresh_from_db()
    assert workspace["workflow"].production_version == production


def test_a_second_person_approves_and_production_is_pinned_with_the_suite_and_approver(
    workspace, production, candidate, dataset
):
    users, workflow = workspace["users"], workspace["workflow"]
    suite = finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    request = services.promotion_request(
        workflow=workflow, version=candidate, requested_by=users["ops"], note="Wins on the suite"
    )

    services.promotion_approve(request=request, by=users["manager"], note="Looks right")

    workflow.refresh_from_db()
    request.refresh_from_db()
    assert workflow.production_version == candidate
    assert (
        request.status == PromotionRequest.Status.APPROVED
        and request.decided_by == users["manager"]
    )
    pin = workflow.history.first()
    assert pin.history_user == users["manager"]
    assert pin.history_change_reason == (
        f"Production pinned to {candidate.label}: {suite.label} says promote ({candidate.label} vs "
        f"{production.label} on {dataset.name}); requested by ops, approved by manager: Looks right"
    )
    assert (
        request.history.first().history_change_reason
        == f"Promotion of {candidate.label} approved by manager: Looks right"
    )


def test_a_suite_against_an_older_production_no_longer_counts(workspace, candidate):
    users, workflow = workspace["users"], workspace["workflow"]
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    request = services.promotion_request(
        workflow=workflow, version=candidate, requested_by=users["ops"]
    )
    other = approved_candidate(workspace, changelog="Another candidate")
    workflow.pin_production_version(other, by=users["admin"], reason="moved meanwhile")

    with pytest.raises(
        ValidationError,
        match=f"no finished eval suite against the production version {other.label}",
    ):
        services.promotion_approve(request=request, by=users["manager"])
    assert PromotionRequest.objects.get(pk=request.pk).status == PromotionRequest.Status.REQUESTED


def test_people_without_the_permissions_may_neither_request_nor_approve(workspace, candidate):
    users = workspace["users"]
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    with pytest.raises(PermissionDenied):
        services.promotion_request(
            workflow=workspace["workflow"], version=candidate, requested_by=users["legal"]
        )
    request = services.promotion_request(
        workflow=workspace["workflow"], version=candidate, requested_by=users["ops"]
    )
    with pytest.raises(PermissionDenied):
        services.promotion_approve(request=request, by=users["legal"])


def test_the_old_pin_url_is_gone(admin_client, workspace, production, candidate):
    with pytest.raises(NoReverseMatch):
        reverse("admin:workflows_promptversion_pin", args=[candidate.pk])
    response = admin_client.post(
        f"/admin/workflows/promptversion/{candidate.pk}/pin/", {"reason": "just do it"}
    )
    assert response.status_code in (302, 404)
    workspace["workflow"].refresh_from_db()
    assert workspace["workflow"].production_version == production


def test_admin_request_and_approve_views_enforce_suite_and_second_person(
    client, workspace, candidate
):
    users, workflow = workspace["users"], workspace["workflow"]
    request_url = reverse("admin:workflows_promptversion_request_promotion", args=[candidate.pk])
    approve_url = reverse("admin:workflows_promptversion_approve_promotion", args=[candidate.pk])

    client.force_login(users["ops"])
    page = client.get(request_url).content.decode()
    assert "has no finished eval suite" in page and 'value="Request promotion"' not in page
    client.post(request_url, {"workflow": workflow.pk, "note": "try"})
    assert not PromotionRequest.objects.exists()

    finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    assert client.post(request_url, {"workflow": workflow.pk, "note": "Wins"}).status_code == 302
    assert client.get(approve_url).status_code == 403  # ops may not approve at all

    client.force_login(users["legal"])
    assert client.get(request_url).status_code == 403

    client.force_login(
        users["admin"]
    )  # a superuser, but candidate is not theirs and they did not request it
    client.force_login(users["manager"])
    response = client.post(approve_url, {"workflow": workflow.pk, "note": "ok", "_approve": "1"})
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.production_version == candidate


def test_admin_approve_page_refuses_the_requester(client, workspace, production, candidate):
    users = workspace["users"]
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    services.promotion_request(
        workflow=workspace["workflow"], version=candidate, requested_by=users["admin"]
    )
    client.force_login(users["admin"])

    url = reverse("admin:workflows_promptversion_approve_promotion", args=[candidate.pk])
    assert "admin requested this promotion" in client.get(url).content.decode()
    client.post(url, {"workflow": workspace["workflow"].pk, "_approve": "1"})

    workspace["workflow"].refresh_from_db()
    assert workspace["workflow"].production_version == production


def test_version_history_shows_the_latest_suite_decision_with_constant_queries(
    admin_client, workspace, candidate
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    template_url = reverse(
        "admin:workflows_prompttemplate_change", args=[workspace["workflow"].prompt_template_id]
    )
    list_url = reverse("admin:workflows_promptversion_changelist")
    with CaptureQueriesContext(connection) as before:
        admin_client.get(list_url)
    suite = finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    finished_suite(
        workspace,
        approved_candidate(workspace, changelog="Another candidate"),
        EvalSuiteRun.Decision.DO_NOT_PROMOTE,
    )
    with CaptureQueriesContext(connection) as after:
        html = admin_client.get(list_url).content.decode()
    assert len(after) == len(before)
    assert f"{suite.label}: Promote" in html and "Do not promote" in html
    page = admin_client.get(template_url).content.decode()
    assert f"{suite.label}: Promote" in page and "Latest eval suite" in page


def test_suite_and_request_changelists_keep_a_constant_query_count(
    admin_client, workspace, candidate
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    urls = [
        reverse("admin:evals_evalsuiterun_changelist"),
        reverse("admin:evals_promotionrequest_changelist"),
        reverse("admin:evals_evaldataset_changelist"),
    ]
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    counts = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        counts.append(len(queries))
    for _ in range(3):
        finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    services.promotion_request(
        workflow=workspace["workflow"], version=candidate, requested_by=workspace["users"]["ops"]
    )
    after = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            admin_client.get(url)
        after.append(len(queries))
    assert after == counts


def _perm(codename):
    from django.contrib.auth.models import Permission

    return list(Permission.objects.filter(codename=codename))


def _fresh(user):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=user.pk)


def test_promotion_commands_request_and_a_second_person_approves(
    workspace, production, candidate, capsys
):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    workflow = workspace["workflow"]
    short = f"v{candidate.version}"
    finished_suite(workspace, candidate, EvalSuiteRun.Decision.DO_NOT_PROMOTE)
    with pytest.raises(
        CommandError,
        match=rf"The latest eval suite of {candidate.label} \(suite_\d+\) says do not promote",
    ):
        call_command("request_promotion", "trial_expiration_email", short, "--user", "ops")
    suite = finished_suite(workspace, candidate, EvalSuiteRun.Decision.PROMOTE)
    with pytest.raises(CommandError, match="legal may not request promotions"):
        call_command("request_promotion", "trial_expiration_email", short, "--user", "legal")

    call_command(
        "request_promotion",
        "trial_expiration_email",
        short,
        "--user",
        "admin",
        "--note",
        "Wins on the suite",
    )
    request = PromotionRequest.objects.get()
    assert (
        f"Promotion request {request.pk}: {candidate.label} on {suite.label}, requested by admin"
        in capsys.readouterr().out
    )
    with pytest.raises(CommandError, match="ops may not approve promotions"):
        call_command("decide_promotion", str(request.pk), "--decision", "approve", "--user", "ops")
    with pytest.raises(
        CommandError, match="admin requested this promotion: a second person must approve it"
    ):
        call_command(
            "decide_promotion", str(request.pk), "--decision", "approve", "--user", "admin"
        )
    workflow.refresh_from_db()
    assert workflow.production_version == production

    call_command(
        "decide_promotion",
        str(request.pk),
        "--decision",
        "approve",
        "--user",
        "manager",
        "--note",
        "Checked the report",
    )

    assert (
        f"trial_expiration_email now serves {candidate.label} in production (approved by manager)"
        in capsys.readouterr().out
    )
    workflow.refresh_from_db()
    assert workflow.production_version == candidate
    assert f"{suite.label} says promote" in workflow.history.first().history_change_reason
    with pytest.raises(CommandError, match="There is no promotion request 999"):
        call_command("decide_promotion", "999", "--decision", "reject", "--user", "manager")
