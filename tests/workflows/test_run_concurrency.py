"""Concurrency inside a run: its variants' generations, then all its judges, a bounded number at a time.

The scripted OpenAI-compatible server on loopback answers; it counts the requests it is answering
at once. Every test compares with the same run made one call at a time: the outputs, the trace and
the failures must not depend on the order the calls finish in.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError

from evals.models import EvalSuiteRun, OutputEvaluation
from evals.services import calls_at_a_time as suite_calls_at_a_time
from inputs.models import RecipientAssignment
from tests.support.runs import start_and_execute
from tests.workflows.test_gates_runs import VERDICT_PASS, is_judge_request, with_judges
from workflows import concurrency
from workflows.llm import EndpointConfig
from workflows.models import GenerationCacheEntry, Run, Workflow

GENERATIONS = 7  # the test audience's six cohorts and the generic variant
JUDGE_CALLS = GENERATIONS * 3  # the default judges, unstaged
ROLE = re.compile(r'"role": "([^"]+)"')


class CountingResponder:
    """Answers generations with copy made from the prompt and judges with a pass, after a delay
    that differs by request (so calls finish out of order), counting the calls in flight by kind.

    With ``gather`` set, the first ``gather`` calls of each kind wait until that many have
    arrived (bounded by a timeout): they are then all in flight at the same moment.
    """

    def __init__(self, reply, valid_email, *, gather: int = 0, failing_role: str = ""):
        self.reply, self.valid_email = reply, valid_email
        self.gather, self.failing_role = gather, failing_role
        self.lock = threading.Lock()
        self.in_flight = {"generation": 0, "judge": 0}
        self.max_in_flight = {"generation": 0, "judge": 0}
        self.arrived = {"generation": 0, "judge": 0}
        self.gathered = {"generation": threading.Event(), "judge": threading.Event()}

    def __call__(self, body):
        kind = "judge" if is_judge_request(body) else "generation"
        text = body["messages"][-1]["content"]
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self.lock:
            self.in_flight[kind] += 1
            self.max_in_flight[kind] = max(self.max_in_flight[kind], self.in_flight[kind])
            self.arrived[kind] += 1
            waits = self.arrived[kind] <= self.gather
            if self.arrived[kind] >= self.gather:
                self.gathered[kind].set()
        try:
            if waits:
                self.gathered[kind].wait(timeout=10)
            time.sleep(0.01 * (int(digest, 16) % 5))
            if kind == "judge":
                return self.reply.json({**VERDICT_PASS, "reasons": [f"Checked {digest[:8]}."]})
            role = ROLE.search(text).group(1)
            if role == self.failing_role:
                return self.reply.error(400, f"The scripted endpoint refuses copy for {role}.")
            return self.reply.json({**self.valid_email, "rationale": f"For {role}: {digest[:8]}"})
        finally:
            with self.lock:
                self.in_flight[kind] -= 1


def without_timings(value):
    """A trace part with its measured times and run-specific ids left out."""
    if isinstance(value, dict):
        return {
            key: without_timings(item)
            for key, item in value.items()
            if key not in {"latency_ms", "duration_ms", "item_id"}
        }
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def what_the_run_made(run: Run) -> dict:
    document = run.trace.document
    return {
        "status": run.status,
        "error": run.error_detail,
        "risk_level": run.risk_level,
        "output_source": run.output_source,
        "flags": document["flags"],
        "generation": without_timings(document["generation"]),
        "evals": without_timings(document.get("evals", {})),
        "steps": [(s["name"], s["status"]) for s in document["steps"]],
        "outputs": {
            v.key: (v.output.source, v.output.content, v.output.raw_text, v.recipient_count)
            for v in run.variants.select_related("output").order_by("key")
            if hasattr(v, "output")
        },
        "verdicts": {
            e.variant.key: (e.findings, e.judge_verdicts, e.risk_level)
            for e in OutputEvaluation.objects.filter(run=run).select_related("variant")
        },
        "assignments": sorted(
            RecipientAssignment.objects.filter(variant__run=run).values_list(
                "recipient_id", "variant__key", "treatment", "reason"
            )
        ),
    }


def run_at(settings, loaded, model_server, responder, calls: int) -> Run:
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "CONCURRENCY": calls}
    model_server.reset()
    model_server.respond_with(responder)
    # A fresh sample: the second run calls the model too instead of reusing the first's copy.
    return start_and_execute(loaded, fresh_sample=True)


@pytest.fixture
def loaded(db, service_account):
    return with_judges(audience_data=True)


def test_at_concurrency_4_a_run_has_4_model_calls_in_flight_and_never_more(
    loaded, model_server, reply, valid_email, settings
):
    responder = CountingResponder(reply, valid_email, gather=4)

    run = run_at(settings, loaded, model_server, responder, 4)

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    requests = model_server.chat_requests
    assert len([b for b in requests if not is_judge_request(b)]) == GENERATIONS
    assert len([b for b in requests if is_judge_request(b)]) == JUDGE_CALLS
    assert responder.max_in_flight == {"generation": 4, "judge": 4}
    assert model_server.max_in_flight == 4


def test_at_concurrency_1_a_run_makes_one_model_call_at_a_time(
    loaded, model_server, reply, valid_email, settings
):
    responder = CountingResponder(reply, valid_email)

    run = run_at(settings, loaded, model_server, responder, 1)

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    assert len(model_server.chat_requests) == GENERATIONS + JUDGE_CALLS
    assert model_server.max_in_flight == 1


def test_a_concurrent_run_stores_the_same_outputs_and_trace_as_one_call_at_a_time(
    loaded, model_server, reply, valid_email, settings
):
    one_at_a_time = run_at(settings, loaded, model_server, CountingResponder(reply, valid_email), 1)
    concurrent = run_at(
        settings, loaded, model_server, CountingResponder(reply, valid_email, gather=4), 4
    )

    assert one_at_a_time.status == Run.Status.AWAITING_APPROVAL, one_at_a_time.error_detail
    assert what_the_run_made(concurrent) == what_the_run_made(one_at_a_time)
    variants = concurrent.trace.document["generation"]["variants"]
    assert [v["key"] for v in variants][0] == "generic" and len(variants) == GENERATIONS
    assert [v["key"] for v in concurrent.trace.document["evals"]["variants"]] == [
        v["key"] for v in variants
    ]


@pytest.mark.parametrize(
    ("failing_role", "fallback_content", "ends"),
    [
        ("finance admin", True, Run.Status.AWAITING_APPROVAL),  # the fallback content
        ("finance admin", False, Run.Status.AWAITING_APPROVAL),  # recipients to the generic
        ("any role in the segment", False, Run.Status.FAILED),  # the generic fails the run
    ],
    ids=["cohort-fallback-content", "cohort-to-generic", "generic-fails-the-run"],
)
def test_a_failing_variant_fails_or_falls_back_as_it_does_one_call_at_a_time(
    loaded,
    model_server,
    reply,
    valid_email,
    settings,
    failing_role,
    fallback_content,
    ends,
):
    if not fallback_content:
        Workflow.objects.filter(pk=loaded["workflow"].pk).update(fallback_content=None)
        loaded["workflow"].refresh_from_db()

    def responder():
        return CountingResponder(reply, valid_email, failing_role=failing_role)

    one_at_a_time = run_at(settings, loaded, model_server, responder(), 1)
    concurrent = run_at(settings, loaded, model_server, responder(), 4)

    assert one_at_a_time.status == ends, one_at_a_time.error_detail
    made = what_the_run_made(concurrent)
    assert made == what_the_run_made(one_at_a_time)
    failed = [v for v in made["generation"]["variants"] if v["source"] != "model"]
    assert failed and all("finance admin" in v["key"] or v["key"] == "generic" for v in failed)


def test_the_bundled_model_gets_one_call_at_a_time_whatever_the_setting(settings):
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "CONCURRENCY": 4}
    bundled = EndpointConfig(
        base_url=f"http://127.0.0.1:{settings.LOCAL_MODEL_PORT}/v1", api_key="k"
    )
    other = EndpointConfig(base_url="http://127.0.0.1:9/v1", api_key="k")

    assert concurrency.calls_at_a_time(bundled) == 1
    assert concurrency.calls_at_a_time(other) == 4
    assert concurrency.calls_at_a_time(other, 8) == 8
    # Eval suites follow the same rule.
    suite = EvalSuiteRun(concurrency=4)
    assert suite_calls_at_a_time(suite, bundled) == 1
    assert suite_calls_at_a_time(suite, other) == 4


def test_results_come_back_in_the_order_asked_whatever_order_they_finish_in():
    def slower_first(n):
        time.sleep(0.02 * (5 - n))
        return n * 10

    assert list(concurrency.in_order(slower_first, range(5), workers=4)) == [0, 10, 20, 30, 40]


def test_model_calls_are_refused_inside_a_transaction(db):
    with transaction.atomic(), pytest.raises(TransactionManagementError):
        list(concurrency.in_order(str, [1, 2], workers=2))


def test_a_concurrent_run_reuses_cached_generations_and_counts_the_hits_as_one_at_a_time(
    loaded, model_server, reply, valid_email, settings
):
    first = run_at(settings, loaded, model_server, CountingResponder(reply, valid_email), 4)
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "CONCURRENCY": 4}
    model_server.reset()
    model_server.respond_with(CountingResponder(reply, valid_email, gather=4))

    again = start_and_execute(loaded)  # not a fresh sample: the cache answers

    variants = again.trace.document["generation"]["variants"]
    assert [v["cache_hit"] for v in variants] == [True] * GENERATIONS
    assert {v["attempt_log"][0]["detail"] for v in variants} == {
        f"Reused the output of run {first.pk}."
    }
    assert not [b for b in model_server.chat_requests if not is_judge_request(b)]
    entries = GenerationCacheEntry.objects.filter(source_run=first)
    assert entries.count() == GENERATIONS and {e.hits for e in entries} == {1}
