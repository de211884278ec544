"""The rollout story's scripted model: an OpenAI-compatible endpoint on loopback with fixed answers.

``demo_rollout --fast`` (and its tests) generate through it instead of the bundled model, so
the whole pipeline (generation, checks, judges, the blind pairwise judge) runs for real in
seconds. It answers by the JSON Schema a request asks for:

- the email (any other schema): a fixed production copy, or, when the system prompt is the
  candidate's (v9/v10: "You write one short email ..."), a fixed shorter candidate copy; both
  keep to the demo's approved claims, so they pass the checks;
- a judge's verdict (``verdict``): pass;
- the pairwise judge (``preferred``): the version whose body is shorter (so the candidate,
  wherever the blind order puts it).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from demo.workflow import FALLBACK_EMAIL

MODEL_NAME = "demo-scripted"
CANDIDATE_PROMPT_OPENING = "You write one short email for Kestrel Boards"

PRODUCTION_EMAIL = {
    **FALLBACK_EMAIL,
    "rationale": "Keeps the data-retention and viewer-seat claims.",
}
CANDIDATE_EMAIL = {
    "subject_lines": [
        "Your Kestrel Boards trial ends soon",
        "Keep your boards after the trial",
        "Choose a plan for your team",
    ],
    "preview_text": "Your boards and dashboards can stay where your team left them.",
    "email_body": (
        "Your Kestrel Boards trial ends soon. Pick the plan that suits your team to keep your "
        "workspace as it is.\n\n"
        "Viewer seats are free and unlimited on the Team and Business plans.\n\n"
        "Choose a plan"
    ),
    "cta_text": "Choose a plan",
    "rationale": "Shorter: one claim, the plan choice and the call to action.",
    "risk_flags": [],
}


def _schema(body: dict) -> dict:
    shape = body.get("response_format") or {}
    if "json_schema" in shape:
        return shape["json_schema"].get("schema") or {}
    return shape.get("schema") or {}


def _texts(body: dict) -> tuple[str, str]:
    system = " ".join(
        m.get("content", "") for m in body.get("messages", []) if m["role"] == "system"
    )
    user = " ".join(m.get("content", "") for m in body.get("messages", []) if m["role"] == "user")
    return system, user


def _shorter_version(user_text: str) -> str:
    """Which version ("A", "B" or "tie") shows the shorter JSON."""
    parts = re.split(r"\n\nVersion [AB]:\n", user_text)
    if len(parts) != 3:
        return "tie"
    a, b = len(parts[1]), len(parts[2])
    return "tie" if a == b else ("A" if a < b else "B")


def answer(body: dict) -> dict[str, Any]:
    """The JSON document the scripted model answers ``body`` (a chat completion request) with."""
    properties = _schema(body).get("properties") or {}
    system, user = _texts(body)
    if "preferred" in properties:
        return {"preferred": _shorter_version(user), "reasons": ["The shorter copy reads faster."]}
    if "verdict" in properties:
        return {"verdict": "pass", "reasons": ["Scripted judge: the rubric holds."]}
    if CANDIDATE_PROMPT_OPENING in system:
        return CANDIDATE_EMAIL
    return PRODUCTION_EMAIL


class ScriptedModel:
    """Serves ``answer`` at ``base_url`` (``/v1/chat/completions``, ``/v1/models``) until stopped."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedModel:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, {"error": {"message": "The body is not JSON."}})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found"}})
            return
        content = json.dumps(answer(body))
        self._send(
            200,
            {
                "id": "chatcmpl-demo-scripted",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or MODEL_NAME,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 200, "completion_tokens": len(content) // 4},
            },
        )
