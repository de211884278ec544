"""Publishing: the one path from an approved run to its destinations, and back.

``run_publish`` is what every caller uses (the admin's Publish button, ``publish_run``, the
run-approved hook): it refuses a run that is not approved, holds high-risk destinations for a
person with the publish permission who did not start the run, records who and why, creates one
attempt per destination and chunk (by idempotency key: pressing again creates nothing) in a
short transaction, and enqueues ``publishing.tasks.publish_attempts_task`` once committed.

``run_deliver`` (the task) sends each attempt outside any transaction and records each outcome
in a short one; see its docstring for retries, unknown outcomes and a worker that stopped.
``run_unpublish`` takes back what each platform allows and says what it cannot.

Each part lives in its own module: ``publish`` (the gate and ``run_publish``), ``delivery`` (the
task, retries, resolving unknowns, the sweeper), ``unpublish`` and ``tracing`` (the trace's
``publish`` section); ``common`` holds the settings and ``PublishRefused``.
"""

from publishing.services.common import (
    CHECK_THE_PLATFORM,
    DEFAULTS,
    PUBLISH_PERMISSION,
    TASK,
    PublishRefused,
    option,
)
from publishing.services.delivery import (
    DeliveryReport,
    attempt_resolve,
    run_deliver,
    runs_resume_publishing,
    runs_with_unsent_attempts,
)
from publishing.services.publish import (
    Chunk,
    PublishStarted,
    gate_refusal,
    plan_chunks,
    run_approved_publish,
    run_publish,
)
from publishing.services.tracing import publish_section
from publishing.services.unpublish import TakenBack, run_unpublish

__all__ = [
    "CHECK_THE_PLATFORM",
    "DEFAULTS",
    "PUBLISH_PERMISSION",
    "TASK",
    "Chunk",
    "DeliveryReport",
    "PublishRefused",
    "PublishStarted",
    "TakenBack",
    "attempt_resolve",
    "gate_refusal",
    "option",
    "plan_chunks",
    "publish_section",
    "run_approved_publish",
    "run_deliver",
    "run_publish",
    "run_unpublish",
    "runs_resume_publishing",
    "runs_with_unsent_attempts",
]
