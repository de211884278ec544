"""The run pipeline: a workflow is a sequence of named steps.

A step is a function taking the RunContext. Apps register steps by name (``@step("...")``)
and a workflow lists the names it runs, so a new kind of workflow is configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction

from workflows.llm import EndpointBreaker

if TYPE_CHECKING:
    from workflows.llm import EndpointConfig
    from workflows.models import Run

logger = logging.getLogger(__name__)


class StepFailed(Exception):
    """A step could not complete; the message is shown to ops as the run's error."""


class RunStopped(Exception):
    """A step decided the run must not go on (e.g. the data check); the message says why."""


@dataclass
class RunContext:
    run: Run
    endpoint: EndpointConfig
    trace: dict[str, Any]
    # The generations to make: RunVariant rows (one "default" variant when there are no cohorts).
    variants: list[Any] = field(default_factory=list)
    # Rendered messages per variant key.
    messages: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # Findings the run carries forward to review (stale data, fallbacks used, ...).
    flags: list[str] = field(default_factory=list)
    output_source: str = ""
    # time.monotonic() after which no new model call starts (the run budget: generation and judges).
    deadline: float | None = None
    # Endpoints and models that timed out or refused earlier in this run: not called again.
    breaker: EndpointBreaker = field(default_factory=EndpointBreaker)
    # The status the run ends in when every step succeeded; a review step asks for "awaiting_approval".
    end_status: str = "generated"
    end_reason: str = ""
    # Called once the run is in its end status (e.g. an auto-approval by a routing rule).
    after_finish: list[Callable[[], None]] = field(default_factory=list)
    # Values steps computed for this run (e.g. a comparison table), by template variable name:
    # render_prompt adds them to the run's own variables, and evaluate checks outputs against them.
    prompt_variables: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self):
        return self.run.started_by


StepFunction = Callable[[RunContext], None]
_STEPS: dict[str, StepFunction] = {}
_REVIEW_STEPS: set[str] = set()


def step(name: str, *, sends_for_review: bool = False) -> Callable[[StepFunction], StepFunction]:
    """Register a step; ``sends_for_review`` marks the step that hands a run to reviewers
    (a run that must not go to review, e.g. a rollout's shadow run, skips it)."""

    def register(function: StepFunction) -> StepFunction:
        if name in _STEPS and _STEPS[name] is not function:
            raise ValueError(f"A pipeline step named {name!r} is already registered.")
        _STEPS[name] = function
        if sends_for_review:
            _REVIEW_STEPS.add(name)
        return function

    return register


def sends_for_review(name: str) -> bool:
    return name in _REVIEW_STEPS


def known_steps() -> list[str]:
    return sorted(_STEPS)


def unknown_steps(names: Any) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [repr(names)]
    return [n for n in names if n not in _STEPS]


def get_step(name: str) -> StepFunction:
    try:
        return _STEPS[name]
    except KeyError:
        raise StepFailed(f"The workflow lists an unknown step {name!r}.") from None


@dataclass(frozen=True)
class StepVariable:
    """A template variable a pipeline step computes (``ctx.prompt_variables[name]``), so a
    prompt version may use ``{{name}}`` (and ``{{name.field}}`` for the declared ``fields``)."""

    name: str
    step: str
    fields: frozenset[str] = frozenset()
    description: str = ""


_STEP_VARIABLES: dict[str, StepVariable] = {}


def provides_prompt_variable(
    name: str, *, step: str, fields=(), description: str = ""
) -> StepVariable:
    """Declare that the step named ``step`` provides the template variable ``name``."""
    from workflows.rendering import KNOWN_VARIABLES, PLACEHOLDER

    if name in KNOWN_VARIABLES:
        raise ValueError(f"{name!r} is one of the run's own prompt variables; choose another name.")
    if not PLACEHOLDER.fullmatch("{{" + name + "}}"):
        raise ValueError(f"{name!r} cannot be written as a placeholder: use letters, digits and _.")
    variable = StepVariable(name=name, step=step, fields=frozenset(fields), description=description)
    known = _STEP_VARIABLES.get(name)
    if known is not None and known != variable:
        raise ValueError(
            f"The prompt variable {name!r} is already provided by step {known.step!r}."
        )
    _STEP_VARIABLES[name] = variable
    return variable


def step_variables() -> dict[str, StepVariable]:
    return dict(_STEP_VARIABLES)


RunHook = Callable[["Run"], None]
_RUN_FAILED_HOOKS: list[RunHook] = []


def on_run_failed(hook: RunHook) -> RunHook:
    """Register ``hook(run)``, called inside the transaction that fails a run (an app closes what it opened)."""
    if hook not in _RUN_FAILED_HOOKS:
        _RUN_FAILED_HOOKS.append(hook)
    return hook


def run_failed_hooks() -> list[RunHook]:
    return list(_RUN_FAILED_HOOKS)


StartedHook = Callable[["Run", bool], None]
_RUN_STARTED_HOOKS: list[StartedHook] = []


def on_run_started(hook: StartedHook) -> StartedHook:
    """Register ``hook(run, enqueue)``, called inside the transaction that records a run started
    by ``run_start`` (``enqueue``: whether the run goes to the cluster on commit), e.g. a rollout
    starts its candidate's companion run on the same brief."""
    if hook not in _RUN_STARTED_HOOKS:
        _RUN_STARTED_HOOKS.append(hook)
    return hook


def run_started_hooks() -> list[StartedHook]:
    return list(_RUN_STARTED_HOOKS)


ApprovedHook = Callable[["Run", Any], None]
_RUN_APPROVED_HOOKS: list[ApprovedHook] = []


def on_run_approved(hook: ApprovedHook) -> ApprovedHook:
    """Register ``hook(run, by)``, called inside the transaction that approves a run (``by``: who
    approved it); publishing starts the destinations that need no final gate, on commit."""
    if hook not in _RUN_APPROVED_HOOKS:
        _RUN_APPROVED_HOOKS.append(hook)
    return hook


def run_approved_hooks() -> list[ApprovedHook]:
    return list(_RUN_APPROVED_HOOKS)


ReviewedHook = Callable[["Run", Any, str], None]
_RUN_REVIEWED_HOOKS: list[ReviewedHook] = []


def on_run_reviewed(hook: ReviewedHook) -> ReviewedHook:
    """Register ``hook(run, by, status)``, called inside the transaction that records any review
    outcome (approved, changes requested, rejected); e.g. a dataset rule collects the run."""
    if hook not in _RUN_REVIEWED_HOOKS:
        _RUN_REVIEWED_HOOKS.append(hook)
    return hook


def run_reviewed_hooks() -> list[ReviewedHook]:
    return list(_RUN_REVIEWED_HOOKS)


@dataclass(frozen=True)
class MetricsRecorded:
    """Campaign events were counted for runs of these prompt versions (e.g. a webhook batch)."""

    prompt_version_ids: frozenset[int]
    source: str


MetricsHook = Callable[[MetricsRecorded], None]
_METRICS_HOOKS: list[MetricsHook] = []


def on_metrics_recorded(hook: MetricsHook) -> MetricsHook:
    """Register ``hook(recorded)``, called after the transaction that counted the events commits
    (e.g. a rollout checks its guardrails as data arrives)."""
    if hook not in _METRICS_HOOKS:
        _METRICS_HOOKS.append(hook)
    return hook


def metrics_hooks() -> list[MetricsHook]:
    return list(_METRICS_HOOKS)


def announce_metrics_recorded(recorded: MetricsRecorded) -> None:
    """Tell the listeners once the counted events are committed."""

    def call() -> None:
        call_hooks(metrics_hooks(), recorded, event="metrics recorded", run=None)

    transaction.on_commit(call)


@dataclass(frozen=True)
class NewData:
    """A source of some workflows received a new snapshot (an audience import or pull, an analytics import).

    ``snapshot`` is unique per snapshot (e.g. ``"audience-import:42"``), so a listener acts once
    per snapshot; ``workflow_ids`` are the workflows whose inputs it is.
    """

    source: str
    snapshot: str
    workflow_ids: tuple[int, ...]
    by: Any = None


NewDataHook = Callable[[NewData], None]
_NEW_DATA_HOOKS: list[NewDataHook] = []


def on_new_data(hook: NewDataHook) -> NewDataHook:
    """Register ``hook(new_data)``, called after the transaction that stored the snapshot commits."""
    if hook not in _NEW_DATA_HOOKS:
        _NEW_DATA_HOOKS.append(hook)
    return hook


def new_data_hooks() -> list[NewDataHook]:
    return list(_NEW_DATA_HOOKS)


def announce_new_data(new_data: NewData) -> None:
    """Tell the listeners (e.g. new-data triggers) once the snapshot is committed."""

    def call() -> None:
        call_hooks(new_data_hooks(), new_data, event="new data", run=None)

    transaction.on_commit(call)


def call_hooks(hooks: list[Callable[..., None]], *args, event: str, run) -> None:
    """Call each hook in a savepoint of the caller's transaction: a broken hook is logged and
    rolled back alone, and never undoes the transition that called it."""
    for hook in hooks:
        try:
            with transaction.atomic():
                hook(*args)
        except Exception:  # noqa: BLE001 - logged; the transition stands
            logger.exception("A %s hook of %s failed", event, run.run_id if run else "no run")
