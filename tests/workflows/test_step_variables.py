"""Steps may compute prompt variables: declared in the pipeline, accepted in prompt versions,
merged by render_prompt, and handed to the evals as the data outputs are checked against."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.factories.workspace import candidate
from workflows import pipeline, rendering, services
from workflows.llm import EndpointConfig
from workflows.models import PromptVersion
from workflows.pipeline import RunContext, StepFailed
from workflows.steps import render_prompt

TABLE = "test_table"


@pytest.fixture
def declared(monkeypatch):
    monkeypatch.setattr(pipeline, "_STEP_VARIABLES", dict(pipeline._STEP_VARIABLES))
    return pipeline.provides_prompt_variable(
        TABLE, step="test_compute_table", fields=("rows", "total")
    )


def test_placeholders_of_declared_step_variables_are_known_with_their_fields():
    extra = {TABLE: frozenset({"rows"})}
    assert rendering.placeholder_problems("{{test_table}}")[0].startswith(
        "Unknown placeholders: test_table."
    )
    assert (
        rendering.placeholder_problems("{{test_table}} {{test_table.rows}}", extra_variables=extra)
        == []
    )
    assert rendering.placeholder_problems("{{test_table.cols}}", extra_variables=extra) == [
        "{{test_table.cols}}: test_table has the fields rows."
    ]
    assert (
        "Available: approved_claims, audience"
        in rendering.placeholder_problems("{{nope}}", extra_variables=extra)[0]
        and "test_table" in rendering.placeholder_problems("{{nope}}", extra_variables=extra)[0]
    )


def test_a_step_variable_may_not_take_a_run_variables_name_or_another_steps(declared):
    with pytest.raises(ValueError, match="one of the run's own prompt variables"):
        pipeline.provides_prompt_variable("audience", step="x")
    with pytest.raises(ValueError, match="already provided by step 'test_compute_table'"):
        pipeline.provides_prompt_variable(TABLE, step="another_step")
    assert (
        pipeline.provides_prompt_variable(
            TABLE, step="test_compute_table", fields=("total", "rows")
        )
        == declared
    )  # the same declaration again is fine


def test_a_prompt_version_may_use_a_declared_step_variable(declared):
    version = PromptVersion(
        output_schema={"type": "object"},
        system_prompt="Summarise.",
        user_template="{{test_table.rows}} {{test_table}}",
    )
    version.clean()
    version.user_template = "{{other_table}}"
    with pytest.raises(ValidationError, match="Unknown placeholders: other_table"):
        version.clean()


@pytest.fixture
def table_run(db, workspace, declared):
    version = candidate(
        workspace,
        user_template=workspace["prompt"].user_template + "\n\n## Table\n{{test_table}}",
    )
    workspace["workflow"].pin_production_version(
        version, by=workspace["users"]["admin"], reason="A prompt with a computed table"
    )
    run = services.run_start(
        workflow=workspace["workflow"],
        brief=workspace["brief"],
        started_by=workspace["users"]["ops"],
        enqueue=False,
    )
    return RunContext(run=run, endpoint=EndpointConfig.from_settings(), trace=run.trace.document)


def test_render_prompt_adds_what_a_step_computed(table_run):
    table_run.prompt_variables[TABLE] = {"rows": [{"ad": "a1", "ctr": 1.5}], "total": 1}
    render_prompt(table_run)
    user = table_run.messages["default"][-1]["content"]
    assert '"ctr": 1.5' in user and "{{" not in user


def test_without_the_step_the_run_fails_naming_the_step_to_add(table_run):
    with pytest.raises(
        StepFailed, match="computed by the step 'test_compute_table': list that step"
    ):
        render_prompt(table_run)


def test_a_step_may_not_override_the_runs_own_variables(table_run):
    table_run.prompt_variables.update({TABLE: {}, "audience": "someone else"})
    with pytest.raises(StepFailed, match="A step computed audience, which the run itself provides"):
        render_prompt(table_run)
