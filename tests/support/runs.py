"""Runs in the test process: start a run of the workspace's workflow and execute it as the worker would."""

from __future__ import annotations

from workflows import services
from workflows.models import Run


def start_and_execute(
    ws: dict, *, user: str | None = "ops", fresh_sample: bool = False, brief=None
) -> Run:
    """Start a run of ``ws["workflow"]`` on its brief as ``user`` (None: nobody), execute it here
    instead of enqueueing it, and return it as stored. ``fresh_sample`` skips the generation cache."""
    run = services.run_start(
        workflow=ws["workflow"],
        brief=brief or ws["brief"],
        started_by=ws["users"][user] if user else None,
        fresh_sample=fresh_sample,
        enqueue=False,
    )
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def routed_run(ws: dict, model_server, reply, content: dict, *, user: str = "ops") -> Run:
    """A run whose model output is ``content``, executed up to its approval item. Every such run
    takes its scripted reply (a fresh sample), never a cached generation."""
    model_server.push(reply.json(content))
    return start_and_execute(ws, user=user, fresh_sample=True)


def push_valid(model_server, reply, email: dict, n: int) -> None:
    """Script ``n`` valid replies, each a little different (one per variant of a run)."""
    model_server.push(*[reply.json({**email, "rationale": f"variant {i}"}) for i in range(n)])
