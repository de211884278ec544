"""Benchmark: one demo run against a model with a fixed latency, one call at a time and several.

Starts a loopback OpenAI-compatible server that answers every chat request after ``L`` seconds
(valid copy for generations, a pass for judges) and counts the requests it answers at once, loads
the demo on a temporary SQLite database, and executes the demo's trial-expiration email run (a
fresh sample each time) at each concurrency. Prints the calls (generations g, judge calls j), the
most in flight, the median wall time of a run (after one warm-up run), the ideal (ceil(g/C) + ceil(j/C)) * L and their ratio.

    .venv/bin/python bench/run_concurrency.py [--latency 0.5] [--concurrency 1 4]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EMAIL = {
    "subject_lines": [
        "Your trial ends in 3 days",
        "Keep your boards",
        "Pick a plan for your workspace",
    ],
    "preview_text": "Your boards and dashboards stay where your team left them.",
    "email_body": "Hi there,\n\nYour Kestrel Boards trial ends in 3 days. Choose a plan to keep your workspace.\n\nThe Kestrel team",
    "cta_text": "Choose a plan",
    "rationale": "Plain reminder.",
    "risk_flags": [],
}
VERDICT = {"verdict": "pass", "reasons": ["Grounded in the evidence."]}


class FixedLatencyServer:
    """Answers every chat completion after ``latency`` seconds: a verdict to judges, copy otherwise."""

    def __init__(self, latency: float):
        self.latency = latency
        self.in_flight = self.max_in_flight = self.generations = self.judge_calls = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            # One send per answer and no Nagle delay: otherwise each call gains about 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _send(self, payload: dict) -> None:
                body = json.dumps(payload).encode()
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                self.wfile.write(head + body)

            def do_GET(self):
                self._send({"object": "list", "data": [{"id": "bench-model", "object": "model"}]})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                is_judge = "verdict" in json.dumps(request.get("response_format", ""))
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    if is_judge:
                        server.judge_calls += 1
                    else:
                        server.generations += 1
                time.sleep(server.latency)
                with server.lock:
                    server.in_flight -= 1
                self._send(
                    {
                        "id": "bench",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": "bench-model",
                        "choices": [
                            {
                                "index": 0,
                                "message": {
                                    "role": "assistant",
                                    "content": json.dumps(VERDICT if is_judge else EMAIL),
                                },
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 900, "completion_tokens": 120},
                    }
                )

        Handler.protocol_version = "HTTP/1.1"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reset(self) -> None:
        with self.lock:
            self.max_in_flight = self.generations = self.judge_calls = 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.5, help="Seconds per model call (L).")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per concurrency.")
    args = parser.parse_args()

    server = FixedLatencyServer(args.latency)
    workdir = tempfile.mkdtemp(prefix="marketingai-bench-")
    os.environ["MARKETINGAI_VAR_DIR"] = workdir
    os.environ["MARKETINGAI_ENV_FILE"] = ""
    os.environ.pop("DATABASE_URL", None)
    os.environ["OPENAI_BASE_URL"] = server.base_url
    os.environ["OPENAI_API_KEY"] = "bench-placeholder-key"
    os.environ["MARKETINGAI_MODEL"] = "bench-model"
    os.environ["MARKETINGAI_STRUCTURED_OUTPUT"] = "json_schema"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from demo.loader import load_demo
    from workflows import services
    from workflows.models import Workflow

    call_command("migrate", verbosity=0)
    load_demo(force=True)
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    brief = workflow.briefs.order_by("pk").first()
    ops = get_user_model().objects.get(username="ops")
    print(f"SQLite (WAL) in {workdir}; demo run of {brief}; model latency L = {args.latency:g} s")
    print(
        f"{'concurrency':>11} {'calls (g+j)':>12} {'max in flight':>14} {'wall s':>7}"
        f" {'ideal s':>8} {'ratio':>6}"
    )

    def one_run(calls: int) -> tuple[int, int, int, float]:
        settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "CONCURRENCY": calls}
        server.reset()
        run = services.run_start(
            workflow=workflow, brief=brief, started_by=ops, fresh_sample=True, enqueue=False
        )
        started = time.perf_counter()
        run = services.run_execute(run_id=run.pk)
        wall = time.perf_counter() - started
        assert run.status in {"awaiting_approval", "generated"}, run.error_detail
        if os.environ.get("BENCH_STEPS"):
            print([(s["name"], s["duration_ms"]) for s in run.trace.document["steps"]])
        return server.generations, server.judge_calls, server.max_in_flight, wall

    one_run(max(args.concurrency))  # warm-up, not counted: imports and the client's connections
    for calls in args.concurrency:
        results = [one_run(calls) for _ in range(args.repeat)]
        g, j, in_flight, _ = results[0]
        wall = statistics.median(r[3] for r in results)
        ideal = (math.ceil(g / calls) + math.ceil(j / calls)) * args.latency
        print(
            f"{calls:>11} {f'{g + j} ({g}+{j})':>12} {in_flight:>14}"
            f" {wall:>7.2f} {ideal:>8.2f} {wall / ideal:>6.2f}"
        )
    print(f"(wall: the median of {args.repeat} runs, from the worker's start to the run's end)")


if __name__ == "__main__":
    main()
