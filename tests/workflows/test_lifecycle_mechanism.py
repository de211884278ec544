"""Every stateful model x the one lifecycle mechanism (workflows.lifecycle).

Walks the app registry for concrete subclasses of ``Lifecycle``, so a stateful model added
later (a publish attempt, a rollout) is covered by adding one builder below, not new tests:

1. its status check constraint lists exactly ``Status.values``, and the database enforces it;
2. a save that changes its status or a lifecycle field outside a transition is refused, and a
   new row starts in an initial status;
3. every transition outside ``TRANSITIONS`` is refused and every one in it is allowed, decided
   from the stored status, not the one in memory;
4. every transition writes a history row naming the user and the reason.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from workflows.lifecycle import Lifecycle, TransitionRefused, fail_stuck

MUST_COVER = {
    "workflows.Run",
    "workflows.PromptVersion",
    "workflows.ClaimSet",
    "workflows.BrandRules",
    "workflows.LegalRestrictionSet",
    "evals.Rubric",
    "evals.EvalSuiteRun",
    "evals.PromotionRequest",
    "approvals.ApprovalItem",
    "publishing.PublishAttempt",
    "rollouts.Rollout",
}


def lifecycle_models() -> list[type[Lifecycle]]:
    return sorted(
        (m for m in apps.get_models() if issubclass(m, Lifecycle) and not m._meta.proxy),
        key=lambda m: m._meta.label,
    )


MODELS = lifecycle_models()


def by_label(model) -> str:
    return model._meta.label


class Builder:
    """The smallest saved row of each stateful model, in its initial status (no demo data)."""

    def __init__(self):
        self.user = get_user_model().objects.create_user("lifecycle-actor")
        self._template = self._workflow = self._brief = self._version = self._team = None

    def template(self):
        from workflows.models import PromptTemplate

        if self._template is None:
            self._template = PromptTemplate.objects.create(slug="lifecycle", name="Lifecycle")
        return self._template

    def prompt_version(self):
        from workflows.models import PromptVersion

        return PromptVersion.objects.create(
            template=self.template(),
            system_prompt="You write emails.",
            user_template="Write one.",
            output_schema={"type": "object"},
        )

    def _a_version(self):
        if self._version is None:
            self._version = self.prompt_version()
        return self._version

    def workflow(self):
        from workflows.models import Workflow

        if self._workflow is None:
            self._workflow = Workflow.objects.create(
                slug="lifecycle",
                name="Lifecycle",
                prompt_template=self.template(),
                output_schema={"type": "object"},
            )
        return self._workflow

    def brief(self):
        from workflows.models import AudienceSegment, CampaignBrief

        if self._brief is None:
            segment = AudienceSegment.objects.create(slug="lifecycle", name="Lifecycle")
            self._brief = CampaignBrief.objects.create(
                workflow=self.workflow(),
                name="Brief",
                audience_segment=segment,
                audience_role="manager",
                plan_name="Team",
            )
        return self._brief

    def run(self):
        from workflows.models import Run

        return Run.objects.create(
            workflow=self.workflow(),
            brief=self.brief(),
            prompt_version=self._a_version(),
            model_name="a-model",
            temperature=0.4,
            max_tokens=100,
        )

    def eval_suite_run(self):
        from evals.models import EvalDataset, EvalSuiteRun

        dataset, _ = EvalDataset.objects.get_or_create(
            workflow=self.workflow(), slug="lifecycle", defaults={"name": "Lifecycle"}
        )
        return EvalSuiteRun.objects.create(
            workflow=self.workflow(),
            dataset=dataset,
            candidate=self._a_version(),
            baseline=self._a_version(),
        )

    def promotion_request(self):
        from evals.models import PromotionRequest

        return PromotionRequest.objects.create(
            workflow=self.workflow(),
            version=self._a_version(),
            suite=self.eval_suite_run(),
            requested_by=self.user,
        )

    def approval_item(self):
        from approvals.models import ApprovalItem, ReviewTeam

        if self._team is None:
            group = Group.objects.create(name="lifecycle reviewers")
            self._team = ReviewTeam.objects.create(slug="lifecycle", name="Lifecycle", group=group)
        return ApprovalItem.objects.create(
            run=self.run(), team=self._team, routing_reason="Routed for the test."
        )

    def publish_attempt(self):
        from publishing.models import Destination, PublishAttempt, PublishRequest, idempotency_key

        run = self.run()
        destination, _ = Destination.objects.get_or_create(
            workflow=self.workflow(),
            name="lifecycle",
            defaults={"kind": "slack_webhook", "secret_name": "LIFECYCLE_WEBHOOK"},
        )
        request = PublishRequest.objects.create(run=run, action="publish", requested_by=self.user)
        return PublishAttempt.objects.create(
            run=run,
            destination=destination,
            request=request,
            idempotency_key=idempotency_key(
                run_id=run.pk, destination_id=destination.pk, chunk_index=0
            ),
        )

    def rollout(self):
        from rollouts.models import Rollout

        return Rollout.objects.create(
            workflow=self.workflow(),
            candidate=self.prompt_version(),
            baseline=self._a_version(),
            owner=self.user,
        )

    def claim_set(self):
        from workflows.models import ClaimSet

        return ClaimSet.objects.create()

    def brand_rules(self):
        from workflows.models import BrandRules

        return BrandRules.objects.create(rules="Plain words.")

    def legal_restriction_set(self):
        from workflows.models import LegalRestrictionSet

        return LegalRestrictionSet.objects.create(restrictions="No guarantees.")

    def rubric(self):
        from evals.models import Rubric

        return Rubric.objects.create(name="lifecycle", instructions="Pass plain copy.")


# A new stateful model adds its builder here; test_every_stateful_model_is_walked says so.
BUILDERS = {
    "workflows.Run": Builder.run,
    "workflows.PromptVersion": Builder.prompt_version,
    "workflows.ClaimSet": Builder.claim_set,
    "workflows.BrandRules": Builder.brand_rules,
    "workflows.LegalRestrictionSet": Builder.legal_restriction_set,
    "evals.Rubric": Builder.rubric,
    "evals.EvalSuiteRun": Builder.eval_suite_run,
    "evals.PromotionRequest": Builder.promotion_request,
    "approvals.ApprovalItem": Builder.approval_item,
    "publishing.PublishAttempt": Builder.publish_attempt,
    "rollouts.Rollout": Builder.rollout,
}


@pytest.fixture
def builder(db):
    return Builder()


def build(builder: Builder, model):
    row = BUILDERS[model._meta.label](builder)
    assert type(row) is model
    return model._base_manager.get(pk=row.pk)


def stored_status(row) -> str:
    return type(row)._base_manager.values_list("status", flat=True).get(pk=row.pk)


def put_in(row, status: str) -> None:
    """Store ``status`` directly (the test's way in; no code path of the project does this)."""
    type(row)._base_manager.filter(pk=row.pk).update(status=status)


def another_value(field: models.Field, builder: Builder, current):
    """A value of ``field`` other than ``current``."""
    if isinstance(field, models.DateTimeField):
        return timezone.now() + timedelta(days=1)
    if isinstance(field, models.ForeignKey):
        return builder.user.pk if current != builder.user.pk else None
    if isinstance(field, models.JSONField):
        return {"changed": True}
    return "changed" if current != "changed" else "changed again"


def test_every_stateful_model_is_walked():
    labels = {m._meta.label for m in MODELS}
    assert labels >= MUST_COVER
    missing = labels - set(BUILDERS)
    assert not missing, f"Add a builder for {', '.join(sorted(missing))} to BUILDERS."


def test_the_system_check_finds_no_lifecycle_declared_wrong():
    from workflows.checks import check_lifecycles

    assert check_lifecycles() == []


def test_the_system_check_names_a_table_that_misses_a_status(monkeypatch):
    from workflows.checks import check_lifecycles
    from workflows.models import Run

    table = dict(Run.TRANSITIONS)
    del table[Run.Status.REJECTED]
    monkeypatch.setattr(Run, "TRANSITIONS", table)

    errors = check_lifecycles()
    assert [(e.id, e.obj) for e in errors] == [("workflows.E040", Run)]
    assert "TRANSITIONS does not list exactly the statuses" in errors[0].msg


# --- 1. The status constraint is generated from Status.values -------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=by_label)
def test_the_status_constraint_lists_exactly_the_status_values(model):
    constraints = [
        c
        for c in model._meta.constraints
        if isinstance(c, models.CheckConstraint)
        and any(
            isinstance(child, tuple) and child[0] == "status__in" for child in c.condition.children
        )
    ]
    assert [c.name for c in constraints] == [f"{model._meta.model_name}_status_valid"]
    assert constraints[0].condition.children == [("status__in", list(model.Status.values))]
    assert [value for value, _ in model._meta.get_field("status").choices] == model.Status.values
    assert set(model.TRANSITIONS) == set(model.Status.values)


@pytest.mark.parametrize("model", MODELS, ids=by_label)
def test_the_database_refuses_a_status_outside_the_choices(builder, model):
    row = build(builder, model)
    # Short enough for every status column, so only the check constraint can refuse it.
    unknown = "bogus"
    assert unknown not in model.Status.values
    with pytest.raises(IntegrityError), transaction.atomic():
        put_in(row, unknown)
    assert stored_status(row) in model.initial_statuses()


# --- 2. The save guard -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=by_label)
def test_status_and_lifecycle_fields_change_only_in_a_transition(builder, model):
    row = build(builder, model)
    before = stored_status(row)
    for status in model.Status.values:
        if status == before:
            continue
        for kwargs in ({}, {"update_fields": ["status"]}):
            row = model._base_manager.get(pk=row.pk)
            row.status = status
            with pytest.raises(ValidationError, match="not by saving"):
                row.save(**kwargs)
    for field in model.lifecycle_fields()[1:]:
        for kwargs in ({}, {"update_fields": [field.name]}):
            row = model._base_manager.get(pk=row.pk)
            setattr(row, field.attname, another_value(field, builder, getattr(row, field.attname)))
            with pytest.raises(ValidationError, match=f"{field.name} changes only through"):
                row.save(**kwargs)
    assert stored_status(row) == before
    model._base_manager.get(pk=row.pk).save()  # an unchanged lifecycle saves


@pytest.mark.parametrize("model", MODELS, ids=by_label)
def test_a_new_row_starts_in_an_initial_status_without_lifecycle_fields(builder, model):
    template = build(builder, model)
    count = model._base_manager.count()
    initial = model.initial_statuses()

    def unsaved(status: str):
        row = model._base_manager.get(pk=template.pk)
        row.pk = None
        row._state.adding = True
        row.status = status
        return row

    for status in model.Status.values:
        if status not in initial:
            with pytest.raises(
                ValidationError, match=f"A new {model._meta.verbose_name} starts as"
            ):
                unsaved(status).save()
            continue
        for field in model.lifecycle_fields()[1:]:
            if field.name in initial[status]:
                continue
            row = unsaved(status)
            setattr(row, field.attname, another_value(field, builder, field.get_default()))
            with pytest.raises(ValidationError, match=f"starts without {field.name}"):
                row.save()
    assert model._base_manager.count() == count


# --- 3. The transition table, read from the stored status under a lock ----------------------------


@pytest.mark.parametrize("model", MODELS, ids=by_label)
def test_exactly_the_transitions_in_the_table_are_allowed(builder, model):
    row = build(builder, model)
    in_memory = row.status
    for current in model.Status.values:
        for to in model.Status.values:
            stale = model._base_manager.get(pk=row.pk)
            stale.status = in_memory  # what the caller loaded; the stored status decides
            put_in(row, current)
            if to in model.TRANSITIONS[current]:
                stale.transition(to, by=builder.user, reason=f"{current} to {to}")
                assert stored_status(row) == stale.status == to
            else:
                with pytest.raises(TransitionRefused) as refused:
                    stale.transition(to, by=builder.user, reason=f"{current} to {to}")
                assert f"{current}: it cannot become {to}" in str(
                    refused.value.message
                ) or f"cannot go from {current} to {to}" in str(refused.value.message)
                assert stored_status(row) == current


def test_a_transition_reads_the_stored_status_not_the_one_in_memory(builder):
    from workflows.models import Run

    run = build(builder, Run)
    put_in(run, Run.Status.FAILED)  # failed meanwhile, e.g. by the sweeper
    assert run.status == Run.Status.QUEUED and run.can_transition_to(Run.Status.GENERATING)

    with pytest.raises(TransitionRefused, match="cannot go from failed to generating"):
        run.mark_generating(by=builder.user)
    assert stored_status(run) == Run.Status.FAILED


# --- 4. History names who and why -----------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=by_label)
def test_every_transition_records_the_user_and_the_reason(builder, model):
    row = build(builder, model)
    for current, targets in model.TRANSITIONS.items():
        for to in sorted(targets):
            put_in(row, current)
            reason = f"Moved from {current} to {to} for the test"
            row.transition(to, by=builder.user, reason=reason)
            latest = model.history.filter(**{model._meta.pk.attname: row.pk}).latest(
                "history_date", "history_id"
            )
            assert (latest.status, latest.history_user, latest.history_change_reason) == (
                to,
                builder.user,
                reason,
            )


# --- The sweeper ----------------------------------------------------------------------------------


def test_the_sweeper_skips_a_row_its_worker_ended_meanwhile(builder):
    from evals.models import EvalSuiteRun

    ended = build(builder, EvalSuiteRun)
    stuck = build(builder, EvalSuiteRun)
    put_in(ended, EvalSuiteRun.Status.FINISHED)  # after the sweeper read it as queued

    failed = fail_stuck([ended, stuck], error=lambda suite: f"{suite} stopped.")

    assert failed == [stuck]
    assert stored_status(ended) == EvalSuiteRun.Status.FINISHED
    assert EvalSuiteRun.objects.get(pk=stuck.pk).error_detail == f"{stuck} stopped."
    assert stuck.history.latest("history_date", "history_id").history_change_reason == (
        "Suite failed"
    )
