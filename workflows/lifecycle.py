"""One lifecycle mechanism for every stateful model: a transition table, a row lock, the save guard,
history who and why, and a check constraint generated from the status choices.

A stateful model subclasses ``Lifecycle`` and declares:

- ``Status``, its ``TextChoices``, defined at module level so its ``Meta`` can name it, and a
  ``status`` field with those choices;
- ``TRANSITIONS``: every status -> the statuses it may move to (a final status maps to none);
- ``INITIAL`` (optional): the statuses a new row may start in, each with the lifecycle fields a
  new row in it may already carry (default: the status field's default, carrying none);
- ``LIFECYCLE_FIELDS`` (optional): the fields besides ``status`` that only a transition sets
  (who approved, when it finished, why it failed, ...);
- ``LIFECYCLE_METHODS`` (optional): how its refusals name the methods that move it;
- in ``Meta.constraints``: ``status_constraint(Status, name=...)``.

and gets:

- ``transition(to, *, by, reason, **fields)``: one atomic step. It reads the stored status
  under a row lock (``select_for_update``), refuses with ``TransitionRefused`` (a
  ``ValidationError`` naming the object and both statuses) unless ``TRANSITIONS`` allows the
  move, sets ``status`` and ``fields``, makes the history row name ``by`` and ``reason``, and
  saves only those fields. The model's own methods (``mark_failed``, ``approve``, ``close``, ...)
  check their arguments and call it.
- the save guard: outside a transition, a save that changes the stored status or a lifecycle
  field is refused, and a new row starts in an initial status with its other lifecycle fields
  empty. ``queryset.update()`` bypasses it (and history): it is never used on these fields.
- ``fail_stuck(rows, ...)``: the one sweeper of in-progress rows whose worker stopped (stuck
  runs, stuck suites), failing each through its own ``mark_failed``.

The system check ``workflows.E040`` checks every subclass's declarations and constraint, and
``tests/workflows/test_lifecycle_mechanism.py`` walks every subclass through its table, so a stateful
model added later (a publish attempt, a rollout) is covered by subclassing.

Statuses held in models that are not lifecycles, and why the mechanism leaves them alone:

- ``Claim.status`` (approved / retired) is part of its claim set's content, not a lifecycle: it
  is edited with the set while the set is a draft and frozen with it (the set's save guard).
- ``AudienceImport.status`` (imported / rejected) and ``Notification.status`` (sent / failed /
  skipped) are the outcome of one attempt, written once when the row is created, never changed.
- ``AudienceSource.last_status`` is a sentence about the last fetch, not a state.
- ``EvalSuiteRun.decision``, ``Run.output_source`` and ``Run.risk_level`` are facts about a
  result: the suite's decision is a lifecycle field set by ``mark_finished``; the run's output
  source is set by ``mark_generated``, and its risk level by the evaluate step.
- ``Decision`` (approvals) has no status: it is created final, and its save refuses any edit.
- ``Workflow.production_version`` and ``AudienceSegment.refreshed_at`` are guarded fields, not
  statuses: each moves only through its own method (``pin_production_version``: promotion
  approval and rollback; ``record_refresh``: imports and pulls), whose save guard refuses the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q


class TransitionRefused(ValidationError):
    """The transition table does not allow the move from the stored status."""


def with_history_context(instance: models.Model, *, by, reason: str) -> None:
    """Make the next save's history row name the acting user and why (also in a worker)."""
    instance._history_user = by
    instance._change_reason = reason


def status_constraint(
    status: type[models.TextChoices], *, name: str, field: str = "status"
) -> models.CheckConstraint:
    """The database's own guard on a status column: exactly ``status.values``, in their order."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": status.values}), name=name)


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


class Lifecycle(models.Model):
    """A model whose ``status`` moves only along ``TRANSITIONS``, one locked, audited step at a time."""

    TRANSITIONS: ClassVar[Mapping[str, frozenset[str]]] = {}
    INITIAL: ClassVar[Mapping[str, frozenset[str]] | None] = None
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset()
    LIFECYCLE_METHODS: ClassVar[str] = "its lifecycle methods"

    _in_transition = False

    class Meta:
        abstract = True

    # --- The table -------------------------------------------------------------------------------

    @classmethod
    def initial_statuses(cls) -> Mapping[str, frozenset[str]]:
        """The statuses a new row may start in -> the lifecycle fields it may already carry."""
        if cls.INITIAL is not None:
            return cls.INITIAL
        return {cls._meta.get_field("status").get_default(): frozenset()}

    @classmethod
    def lifecycle_fields(cls) -> list[models.Field]:
        """``status`` and the fields only a transition sets."""
        return [cls._meta.get_field(name) for name in ["status", *sorted(cls.LIFECYCLE_FIELDS)]]

    def can_transition_to(self, status: str) -> bool:
        """Whether the table allows ``status`` from the status in memory (``transition`` reads the stored one)."""
        return status in self.TRANSITIONS.get(self.status, ())

    def transition_refusal(self, current: str, to: str) -> str:
        """The sentence refusing ``current`` -> ``to``; a model may word it for its readers."""
        return f"{self} cannot go from {current} to {to}."

    # --- The step --------------------------------------------------------------------------------

    @transaction.atomic
    def transition(self, to: str, *, by, reason: str, **fields) -> None:
        """Move to ``to`` from the stored status (read under a row lock), setting ``fields``, in one audited save."""
        if self.pk is None:
            raise ValueError(
                f"This {self._meta.verbose_name} is not saved yet: save it in its initial status first."
            )
        current = (
            self._meta.concrete_model._base_manager.select_for_update()
            .values_list("status", flat=True)
            .get(pk=self.pk)
        )
        if to not in self.TRANSITIONS.get(current, ()):
            raise TransitionRefused(self.transition_refusal(current, to))
        self.status = to
        for name, value in fields.items():
            setattr(self, name, value)
        with_history_context(self, by=by, reason=reason)
        self._in_transition = True
        try:
            self.save(update_fields=["status", *fields])
        finally:
            self._in_transition = False

    # --- The save guard --------------------------------------------------------------------------

    def save(self, *args, **kwargs):
        if not self._in_transition:
            self._refuse_lifecycle_change(kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def _refuse_lifecycle_change(self, update_fields) -> None:
        """The save guard (a subclass may add to it, as versioned documents freeze their content)."""
        guarded = self.lifecycle_fields()
        if update_fields is not None:
            saved = set(update_fields)
            guarded = [f for f in guarded if f.name in saved or f.attname in saved]
            if not guarded:
                return
        stored = None
        if self.pk is not None:
            stored = (
                self._meta.concrete_model._base_manager.filter(pk=self.pk)
                .values("status", *(f.attname for f in guarded))
                .first()
            )
        if stored is None:
            self._refuse_irregular_start()
            return
        changed = [f.name for f in guarded if stored[f.attname] != getattr(self, f.attname)]
        if changed:
            verb = "changes" if len(changed) == 1 else "change"
            raise ValidationError(
                f"{self} is {stored['status']}: {', '.join(changed)} {verb} only through "
                f"{self.LIFECYCLE_METHODS}, not by saving."
            )

    def _refuse_irregular_start(self) -> None:
        name = self._meta.verbose_name
        initial = self.initial_statuses()
        if self.status not in initial:
            labels = dict(self._meta.get_field("status").flatchoices)
            starts = " or ".join(_a(str(labels[s]).lower()) for s in initial)
            raise ValidationError(
                f"A new {name} starts as {starts} {name}, not {self.status}: "
                f"its status changes only through {self.LIFECYCLE_METHODS}."
            )
        carried = [
            f.name
            for f in self.lifecycle_fields()[1:]
            if f.name not in initial[self.status] and getattr(self, f.attname) != f.get_default()
        ]
        if carried:
            raise ValidationError(
                f"A new {name} starts without {', '.join(carried)}: "
                f"set only through {self.LIFECYCLE_METHODS}."
            )


# --- The registry and its checks -----------------------------------------------------------------


def lifecycle_models() -> list[type[Lifecycle]]:
    """Every concrete model that uses the mechanism (proxies share their model's table and rules)."""
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, Lifecycle) and not m._meta.proxy]


def status_values_constrained(model: type[models.Model]) -> list[list[str]]:
    """The status lists of the model's check constraints on ``status__in``."""
    return [
        list(child[1])
        for constraint in model._meta.constraints
        if isinstance(constraint, models.CheckConstraint)
        for child in constraint.condition.children
        if isinstance(child, tuple) and child[0] == "status__in"
    ]


def declaration_problems(model: type[Lifecycle]) -> list[str]:
    """What is wrong with a model's lifecycle declarations, one sentence each (system check workflows.E040)."""
    label = model._meta.label
    status = getattr(model, "Status", None)
    if not (isinstance(status, type) and issubclass(status, models.TextChoices)):
        return [f"{label} declares no Status choices."]
    values = list(status.values)
    problems = []
    if [value for value, _ in model._meta.get_field("status").choices] != values:
        problems.append(f"{label}.status does not have the choices of {label}.Status.")
    if set(model.TRANSITIONS) != set(values):
        problems.append(
            f"{label}.TRANSITIONS does not list exactly the statuses of {label}.Status."
        )
    targets = set().union(*model.TRANSITIONS.values()) if model.TRANSITIONS else set()
    initial = model.initial_statuses()
    if not targets | set(initial) <= set(values):
        problems.append(f"{label}.TRANSITIONS or INITIAL names a status {label}.Status lacks.")
    fields = {f.name for f in model._meta.concrete_fields}
    carried = set().union(*initial.values()) if initial else set()
    if not model.LIFECYCLE_FIELDS <= fields or not carried <= model.LIFECYCLE_FIELDS:
        problems.append(f"{label}.LIFECYCLE_FIELDS or INITIAL names a field {label} lacks.")
    if values not in status_values_constrained(model):
        problems.append(
            f"{label} has no check constraint on exactly {label}.Status.values: "
            "add status_constraint(Status, name=...) to its Meta.constraints."
        )
    return problems


# --- The sweeper ---------------------------------------------------------------------------------

Stuck = TypeVar("Stuck", bound=Lifecycle)


def fail_stuck(
    rows: Iterable[Stuck],
    *,
    error: Callable[[Stuck], str],
    then: Callable[[Stuck], None] | None = None,
) -> list[Stuck]:
    """Fail every row of ``rows`` (in progress, their worker gone) through its ``mark_failed(by=, error=)``.

    The service account acts, else the row's starter (``started_by``), so history names somebody.
    A row that left its in-progress statuses meanwhile (its worker ended it) refuses the
    transition and is skipped. ``then(row)`` follows each failure. Returns the failed rows.
    """
    from workflows.identity import service_user_or_none

    sweeper = service_user_or_none()
    failed = []
    for row in rows:
        message = error(row)
        try:
            row.mark_failed(by=sweeper or row.started_by, error=message)
        except TransitionRefused:
            continue
        if then is not None:
            then(row)
        failed.append(row)
    return failed
