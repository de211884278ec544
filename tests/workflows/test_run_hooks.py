"""Apps hook into a run's failure and approval; a broken hook never undoes the transition."""

import pytest

from workflows import pipeline, services
from workflows.models import Run, Workflow

pytestmark = pytest.mark.django_db


def _broken_hook_writes_then_raises(*args):
    Workflow.objects.update(name="written by a broken hook")
    raise RuntimeError("a broken hook")


@pytest.fixture
def broken_hooks(monkeypatch):
    monkeypatch.setattr(pipeline, "_RUN_FAILED_HOOKS", [_broken_hook_writes_then_raises])
    monkeypatch.setattr(pipeline, "_RUN_APPROVED_HOOKS", [_broken_hook_writes_then_raises])


def test_a_broken_run_failed_hook_is_rolled_back_alone_and_the_run_still_fails(
    workspace, broken_hooks, caplog
):
    run = services.run_start(
        workflow=workspace["workflow"],
        brief=workspace["brief"],
        started_by=workspace["users"]["ops"],
        enqueue=False,
    )

    run.mark_failed(by=workspace["users"]["ops"], error="The worker stopped.")

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert not Workflow.objects.filter(name="written by a broken hook").exists()
    assert f"A run-failed hook of {run.run_id} failed" in caplog.text


def test_hooks_are_called_in_order_with_their_arguments():
    called = []
    pipeline.call_hooks(
        [lambda *a: called.append(("first", a)), lambda *a: called.append(("second", a))],
        "run",
        "by",
        event="test",
        run=None,
    )
    assert called == [("first", ("run", "by")), ("second", ("run", "by"))]
