"""The trace document of a run. Pure functions over a run's attributes and a dict."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

from django.utils import timezone

from workflows.pipeline import RunStopped


def new_document(run, *, endpoint_url: str, structured_output: str) -> dict[str, Any]:
    brief = run.brief
    return {
        "trace_id": run.trace_id,
        "workflow": run.workflow.slug,
        "run_id": run.run_id,
        "status": run.status,
        "prompt_version": run.prompt_version.label,
        "model": run.model_name,
        "temperature": float(run.temperature),
        "max_tokens": run.max_tokens,
        "started_by": run.started_by.get_username() if run.started_by else None,
        "created_at": run.created_at.isoformat(),
        "revision_of": run.revision_of.run_id if run.revision_of_id else None,
        "as_of": run.as_of.isoformat() if run.as_of else None,
        "trigger": dict(run.trigger or {}),
        "inputs": {
            "campaign_brief_id": brief.label,
            "audience_segment_id": brief.audience_segment.label,
            "approved_claims_version": run.claim_set.label if run.claim_set else None,
            "brand_rules_version": run.brand_rules.label if run.brand_rules else None,
            "legal_restrictions_version": run.legal_restrictions.label
            if run.legal_restrictions
            else None,
        },
        "endpoint": {"base_url": endpoint_url, "structured_output": structured_output},
        "steps": [],
        "data_check": {},
        "flags": [],
        "generation": {},
        "evals": {},
        "approval": {},
        "publish": {},
        "error": None,
    }


@contextmanager
def timed_step(document: dict[str, Any], name: str):
    entry = {"name": name, "status": "running", "started_at": timezone.now().isoformat()}
    document["steps"].append(entry)
    started = time.monotonic()
    try:
        yield entry
    except RunStopped:
        entry["status"] = "stopped"
        raise
    except BaseException:
        entry["status"] = "failed"
        raise
    else:
        entry["status"] = "ok"
    finally:
        entry["duration_ms"] = int((time.monotonic() - started) * 1000)
