"""Reviewed runs become eval dataset items: by a rule on review, by the runs' admin action;
once per dataset, labelled with the review, and part of the next suite on the dataset."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.urls import reverse

from approvals import services as approval_services
from evals import services
from evals.models import DatasetRule, EvalDatasetItem, EvalSuiteResult, ReviewedRunItem
from tests.evals.suites import responder_for
from tests.support.approvals import open_item, with_unsupported_claim
from tests.support.runs import routed_run
from workflows.models import Run

pytestmark = pytest.mark.django_db

NOTE = "The 73% speed claim is not in the approved claims."


def _decided(ws, model_server, reply, valid_email, decision="reject", note=NOTE):
    """A run whose unsupported claim sends it to legal, decided by legal."""
    run = routed_run(ws, model_server, reply, with_unsupported_claim(valid_email))
    approval_services.item_decide(
        item_id=open_item(run).pk,
        decision=decision,
        reviewer=ws["users"]["legal"],
        note=note,
        enqueue=False,
    )
    run.refresh_from_db()
    return run


def _rule(setup, **fields):
    return DatasetRule.objects.create(
        workflow=setup["workflow"], dataset=setup["dataset"], **{"outcomes": ["rejected"], **fields}
    )


def test_a_rule_adds_a_rejected_run_labelled_with_its_review(
    suite_setup, model_server, reply, valid_email
):
    rule = _rule(suite_setup)

    run = _decided(suite_setup, model_server, reply, valid_email)

    link = ReviewedRunItem.objects.select_related("item").get(run=run)
    assert (link.dataset, link.rule, link.added_by) == (
        suite_setup["dataset"],
        rule,
        suite_setup["users"]["legal"],
    )
    brief, item = run.brief, link.item
    assert (item.external_id, item.name, item.audience_role, item.plan_name) == (
        run.run_id,
        brief.name,
        brief.audience_role,
        brief.plan_name,
    )
    assert (item.segment, item.key_facts, item.offer) == (
        brief.audience_segment.slug,
        brief.key_facts,
        brief.offer,
    )
    assert link.labels | {"decided_at": None} == {
        "outcome": "rejected",
        "decision": "reject",
        "reviewer": "legal",
        "note": NOTE,
        "decided_at": None,
        "risk_level": run.risk_level,
        "run": run.run_id,
        "run_pk": run.pk,
        "prompt_version": run.prompt_version.label,
    }
    assert link.labels["decided_at"]
    assert item.tags == [
        "review:rejected",
        f"risk:{run.risk_level}",
        f"source_run:{run.run_id}",
    ]
    assert item.history.first().history_user == suite_setup["users"]["legal"]


def test_a_rule_leaves_out_outcomes_and_risk_levels_it_does_not_name(
    suite_setup, model_server, reply, valid_email
):
    _rule(suite_setup, outcomes=["rejected"])
    approved = _decided(suite_setup, model_server, reply, valid_email, decision="approve")
    _rule(suite_setup, outcomes=["changes_requested"], min_risk_level="high")
    risky_enough = DatasetRule(min_risk_level="high", outcomes=["rejected"], enabled=True)

    rejected = _decided(suite_setup, model_server, reply, valid_email)

    assert approved.status == Run.Status.APPROVED and rejected.status == Run.Status.REJECTED
    assert list(ReviewedRunItem.objects.values_list("run_id", flat=True)) == [rejected.pk]
    assert risky_enough.matches(status="rejected", risk_level="high")
    assert not risky_enough.matches(status="rejected", risk_level="medium")
    assert not risky_enough.matches(status="rejected", risk_level="")


def test_a_run_joins_a_dataset_once_whoever_adds_it(suite_setup, model_server, reply, valid_email):
    _rule(suite_setup)
    run = _decided(suite_setup, model_server, reply, valid_email)
    items = EvalDatasetItem.objects.filter(dataset=suite_setup["dataset"]).count()

    again = services.run_add_to_dataset(
        run=run, dataset=suite_setup["dataset"], by=suite_setup["users"]["ops"]
    )

    assert not again.created and again.link.run == run
    assert EvalDatasetItem.objects.filter(dataset=suite_setup["dataset"]).count() == items
    assert ReviewedRunItem.objects.filter(run=run).count() == 1


def test_a_run_not_yet_reviewed_is_refused_and_nothing_is_written(
    suite_setup, model_server, reply, valid_email
):
    waiting = routed_run(suite_setup, model_server, reply, with_unsupported_claim(valid_email))

    with pytest.raises(ValidationError, match="only reviewed runs"):
        services.run_add_to_dataset(run=waiting, dataset=suite_setup["dataset"], by=None)

    assert not ReviewedRunItem.objects.exists()


def test_a_rule_must_name_known_outcomes_and_a_dataset_of_its_workflow(suite_setup):
    rule = DatasetRule(
        workflow=suite_setup["workflow"], dataset=suite_setup["dataset"], outcomes=["lost"]
    )

    with pytest.raises(ValidationError) as refused:
        rule.full_clean()

    assert "Give a list of review outcomes" in str(refused.value.message_dict["outcomes"])


def _action(client, runs, **extra):
    return client.post(
        reverse("admin:workflows_run_changelist"),
        {
            "action": "add_to_eval_dataset",
            helpers.ACTION_CHECKBOX_NAME: [run.pk for run in runs],
            **extra,
        },
        follow=True,
    )


def test_the_admin_action_asks_for_the_dataset_then_adds_the_reviewed_runs(
    client, suite_setup, model_server, reply, valid_email
):
    rejected = _decided(suite_setup, model_server, reply, valid_email)
    waiting = routed_run(suite_setup, model_server, reply, with_unsupported_claim(valid_email))
    client.force_login(suite_setup["users"]["ops"])

    page = _action(client, [rejected, waiting])
    assert page.status_code == 200 and b"Add runs to an eval dataset" in page.content
    assert b"1 of the 2 selected runs has been reviewed" in page.content
    assert not ReviewedRunItem.objects.exists()

    done = _action(client, [rejected, waiting], apply="1", dataset=suite_setup["dataset"].pk)
    messages = [str(m) for m in done.context["messages"]]
    assert f"Added 1 run to {suite_setup['dataset']}." in messages
    assert any("only reviewed runs" in m for m in messages)
    link = ReviewedRunItem.objects.get()
    assert (link.run, link.rule, link.added_by) == (rejected, None, suite_setup["users"]["ops"])
    assert link.labels["note"] == NOTE

    twice = _action(client, [rejected], apply="1", dataset=suite_setup["dataset"].pk)
    assert f"Already in {suite_setup['dataset']}: {rejected.run_id}." in [
        str(m) for m in twice.context["messages"]
    ]
    assert ReviewedRunItem.objects.count() == 1


def test_the_action_needs_the_dataset_change_permission(
    client, suite_setup, model_server, reply, valid_email
):
    rejected = _decided(suite_setup, model_server, reply, valid_email)
    client.force_login(suite_setup["users"]["manager"])  # views runs, changes no dataset

    changelist = client.get(reverse("admin:workflows_run_changelist"))
    _action(client, [rejected], apply="1", dataset=suite_setup["dataset"].pk)

    assert changelist.status_code == 200 and b"add_to_eval_dataset" not in changelist.content
    assert not ReviewedRunItem.objects.exists()
    client.force_login(suite_setup["users"]["ops"])
    assert b"add_to_eval_dataset" in client.get(reverse("admin:workflows_run_changelist")).content


def test_the_next_suite_on_the_dataset_includes_the_reviewed_run(
    suite_setup, model_server, reply, valid_email
):
    _rule(suite_setup)
    run = _decided(suite_setup, model_server, reply, valid_email)
    model_server.respond_with(responder_for(reply, valid_email))

    suite = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        dataset=suite_setup["dataset"],
        started_by=None,
        enqueue=False,
    )
    suite = services.suite_execute(suite_id=suite.pk)

    item = ReviewedRunItem.objects.get(run=run).item
    assert suite.report["dataset"]["items"] == 7
    assert set(
        EvalSuiteResult.objects.filter(suite=suite, item=item).values_list("side", flat=True)
    ) == {"candidate", "baseline"}


def test_the_item_pages_link_back_to_the_run(client, suite_setup, model_server, reply, valid_email):
    _rule(suite_setup)
    run = _decided(suite_setup, model_server, reply, valid_email)
    client.force_login(suite_setup["users"]["ops"])

    items = client.get(reverse("admin:evals_evaldatasetitem_changelist"))
    links = client.get(reverse("admin:evals_reviewedrunitem_changelist"))

    run_url = reverse("admin:workflows_run_change", args=[run.pk]).encode()
    assert items.status_code == links.status_code == 200
    assert run_url in items.content and run_url in links.content


def _rejected_runs(ws, n):
    """Runs stored as rejected (no pipeline), each added to the dataset by ops."""
    from tests.charts.test_chart_pages import _runs

    runs = _runs(ws, [(0, "rejected", "high")] * n)
    for run in runs:
        services.run_add_to_dataset(run=run, dataset=ws["dataset"], by=ws["users"]["ops"])


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:evals_reviewedrunitem_changelist",
        "admin:evals_evaldatasetitem_changelist",
        "admin:evals_datasetrule_changelist",
    ],
)
def test_the_loop_lists_take_the_same_queries_at_two_sizes(client, suite_setup, changelist):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(suite_setup["users"]["ops"])
    _rule(suite_setup)
    _rejected_runs(suite_setup, 2)
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse(changelist)).status_code == 200
    _rule(suite_setup, outcomes=["changes_requested"])
    _rejected_runs(suite_setup, 6)
    with CaptureQueriesContext(connection) as large:
        assert client.get(reverse(changelist)).status_code == 200

    assert len(large) == len(small)


def test_a_rule_that_cannot_add_the_run_leaves_the_review_standing(
    suite_setup, model_server, reply, valid_email
):
    _rule(suite_setup)
    run = routed_run(suite_setup, model_server, reply, with_unsupported_claim(valid_email))
    EvalDatasetItem.objects.create(  # an imported brief that took the run's id
        dataset=suite_setup["dataset"],
        external_id=run.run_id,
        name="Imported",
        audience_role="admin",
        plan_name="Team",
    )

    approval_services.item_decide(
        item_id=open_item(run).pk,
        decision="reject",
        reviewer=suite_setup["users"]["legal"],
        note=NOTE,
        enqueue=False,
    )

    run.refresh_from_db()
    assert run.status == Run.Status.REJECTED
    assert not ReviewedRunItem.objects.exists()
    with pytest.raises(ValidationError, match="did not come from the run"):
        services.run_add_to_dataset(run=run, dataset=suite_setup["dataset"], by=None)


def test_a_rule_adds_only_to_a_dataset_of_its_own_workflow(suite_setup):
    from tests.factories.workflows import WorkflowFactory

    other = WorkflowFactory(
        slug="other", name="Other", prompt_template=suite_setup["prompt"].template
    )
    rule = DatasetRule(workflow=other, dataset=suite_setup["dataset"], outcomes=["rejected"])

    with pytest.raises(ValidationError) as refused:
        rule.full_clean()

    assert "dataset of another workflow" in str(refused.value.message_dict["dataset"])
