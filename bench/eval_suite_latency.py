"""Benchmark: wall time of a 120-brief eval suite against a model with a fixed latency.

Starts a loopback OpenAI-compatible server that answers every chat request after ``L`` seconds,
runs the demo's 120-brief suite (candidate and baseline: 240 generations, no judges, cache
cleared before each run) at several concurrencies on a temporary SQLite database, and prints
the wall time, the ideal 120 * L * 2 / C and their ratio.

    .venv/bin/python bench/eval_suite_latency.py [--latency 0.2] [--concurrency 1 4 8]
"""

from __future__ import annotations

import argparse
import json
import os
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


class FixedLatencyServer:
    """Answers every chat completion with the same valid email after ``latency`` seconds."""

    def __init__(self, latency: float):
        self.latency = latency
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send({"object": "list", "data": [{"id": "bench-model", "object": "model"}]})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
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
                                "message": {"role": "assistant", "content": json.dumps(EMAIL)},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 900,
                            "completion_tokens": 120,
                            "total_tokens": 1020,
                        },
                    }
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.2, help="Seconds per model call (L).")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()

    server = FixedLatencyServer(args.latency)
    workdir = tempfile.mkdtemp(prefix="marketingai-bench-")
    os.environ["MARKETINGAI_VAR_DIR"] = workdir
    os.environ.pop("DATABASE_URL", None)
    os.environ["OPENAI_BASE_URL"] = server.base_url
    os.environ["OPENAI_API_KEY"] = "bench-placeholder-key"
    os.environ["MARKETINGAI_MODEL"] = "bench-model"
    os.environ["MARKETINGAI_STRUCTURED_OUTPUT"] = "json_schema"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from demo.loader import load_demo
    from evals import services
    from evals.models import EvalPolicy
    from workflows.models import GenerationCacheEntry, Workflow

    call_command("migrate", verbosity=0)
    load_demo(force=True)
    workflow = Workflow.objects.select_related("production_version").get(
        slug="trial_expiration_email"
    )
    policy = EvalPolicy.objects.get(workflow=workflow)
    policy.judges = []  # one model call per generation, so the ideal is 120 * L * 2 / C
    policy.save()
    User = get_user_model()
    candidate = workflow.production_version.new_draft(by=User.objects.get(username="ops"))
    candidate.system_prompt += "\n- Keep it short."
    candidate.save()
    candidate.approve(by=User.objects.get(username="admin"))
    dataset = workflow.eval_datasets.get(slug="historical-trial-briefs")
    items = dataset.items.count()
    print(
        f"SQLite (WAL) in {workdir}; {items} briefs x 2 versions; model latency L = {args.latency:g} s"
    )
    print(f"{'concurrency':>11} {'wall s':>8} {'ideal s':>8} {'ratio':>6} {'max in flight':>14}")
    for concurrency in args.concurrency:
        GenerationCacheEntry.objects.all().delete()
        server.max_in_flight = 0
        suite = services.suite_start(
            workflow=workflow,
            candidate=candidate,
            dataset=dataset,
            concurrency=concurrency,
            started_by=None,
            enqueue=False,
        )
        started = time.perf_counter()
        suite = services.suite_execute(suite_id=suite.pk)
        wall = time.perf_counter() - started
        assert suite.status == "finished", suite.error_detail
        assert suite.results.exclude(error="").count() == 0
        ideal = items * args.latency * 2 / concurrency
        print(
            f"{concurrency:>11} {wall:>8.2f} {ideal:>8.2f} {wall / ideal:>6.2f} {server.max_in_flight:>14}"
        )


if __name__ == "__main__":
    main()
