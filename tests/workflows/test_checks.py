"""System checks report misconfiguration before a run trips over it."""

import pytest
from django.core import checks

from workflows.checks import check_model_endpoint, check_task_cluster, check_workflows
from workflows.models import Workflow


def ids(messages):
    return {m.id for m in messages}


def test_default_configuration_passes(settings):
    assert check_model_endpoint() == []
    assert check_task_cluster() == []


@pytest.mark.parametrize(
    ("override", "check_id"),
    [
        ({"BASE_URL": "127.0.0.1:8081"}, "workflows.E001"),
        ({"STRUCTURED_OUTPUT": "json_schema_v2"}, "workflows.E002"),
        ({"MODEL": ""}, "workflows.E003"),
        ({"TIMEOUT_SECONDS": 0}, "workflows.E004"),
        ({"RUN_BUDGET_SECONDS": 5000}, "workflows.W001"),
    ],
)
def test_model_endpoint_misconfiguration_is_reported(settings, override, check_id):
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, **override}
    assert check_id in ids(check_model_endpoint())


def test_too_many_workers_on_sqlite_is_a_warning(settings):
    settings.IS_SQLITE = True
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 8}
    assert ids(check_task_cluster()) == {"workflows.W002"}


@pytest.mark.django_db
def test_workflow_serving_an_unapproved_version_is_an_error(workspace):
    workflow = workspace["workflow"]
    assert check_workflows(databases=["default"]) == []
    # The pin never moves to an unapproved version; archiving the pinned one is how this arises.
    workflow.production_version.archive(by=workspace["users"]["admin"], reason="withdrawn")
    messages = check_workflows(databases=["default"])
    assert ids(messages) == {"workflows.E005"}
    assert all(m.level == checks.ERROR for m in messages)


@pytest.mark.django_db
def test_workflow_with_invalid_fallback_content_is_an_error(workspace):
    workflow = workspace["workflow"]
    workflow.fallback_content = {"subject_lines": "not a list"}
    workflow.save()
    assert "workflows.E006" in ids(check_workflows(databases=["default"]))


@pytest.mark.django_db
def test_workflow_without_production_version_is_a_warning(workspace):
    workflow = workspace["workflow"]
    Workflow.objects.filter(pk=workflow.pk).update(
        production_version=None
    )  # never pinned (saving cannot unpin)
    assert "workflows.W003" in ids(check_workflows(databases=["default"]))
