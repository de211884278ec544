"""A scripted OpenAI-compatible server on loopback.

Tests push the replies it gives, in order, or set a responder that picks the reply from the
request (for concurrent callers); the real openai client talks to it over HTTP, so its
retries, timeouts and error mapping are exercised for real. It counts the requests it was
answering at the same time (``max_in_flight``). ``Reply.hanging()`` accepts the request and
never answers (a dead endpoint) until the server is reset or stopped.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str = ""
    prompt_tokens: int = 120
    completion_tokens: int = 40
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str = ""
    hang: bool = False

    @classmethod
    def hanging(cls) -> Reply:
        """Read the request, then never answer (until reset): an endpoint that accepts and hangs."""
        return cls(hang=True)

    @classmethod
    def json(cls, document: Any, **kwargs) -> Reply:
        return cls(content=json.dumps(document), **kwargs)

    @classmethod
    def error(cls, status: int, message: str = "scripted failure", **kwargs) -> Reply:
        # retry-after-ms keeps the SDK's backoff short in tests.
        headers = {"retry-after-ms": "10", **kwargs.pop("headers", {})}
        return cls(status=status, error_message=message, headers=headers, **kwargs)


class ScriptedOpenAIServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.models_delay = 0.0  # seconds before GET /models answers (a server busy generating)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._release_hung = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> ScriptedOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release_hung.set()
        self._server.shutdown()
        self._server.server_close()

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def respond_with(self, responder: Callable[[dict[str, Any]], Reply]) -> None:
        """Answer every chat request with ``responder(request_body)`` instead of the pushed replies."""
        self.responder = responder

    def reset(self) -> None:
        self._release_hung.set()  # hung handlers end; the next hang waits on a fresh event
        self._release_hung = threading.Event()
        with self._lock:
            self.replies.clear()
            self.requests.clear()
            self.responder = None
            self.models_delay = 0.0
            self.in_flight = 0
            self.max_in_flight = 0

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if self.responder is not None:
            return self.responder(body)
        with self._lock:
            if self.replies:
                return self.replies.popleft()
        return Reply.error(500, "The scripted server has no reply left for this request.")

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(
                self, status: int, payload: dict, headers: dict[str, str] | None = None
            ) -> None:
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test)

            def do_GET(self):
                server.requests.append(
                    {
                        "path": self.path,
                        "body": None,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                if self.path.rstrip("/").endswith("/models"):
                    time.sleep(server.models_delay)
                    self._send(
                        200,
                        {"object": "list", "data": [{"id": "scripted-model", "object": "model"}]},
                    )
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(
                    {
                        "path": self.path,
                        "body": body,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body):
                reply = server._next_reply(body)
                if reply.hang:
                    server._release_hung.wait(timeout=300)
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    self._send(
                        reply.status,
                        {
                            "error": {
                                "message": reply.error_message,
                                "type": "scripted",
                                "code": reply.status,
                            }
                        },
                        reply.headers,
                    )
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-scripted",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "scripted-model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply.content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": reply.prompt_tokens,
                            "completion_tokens": reply.completion_tokens,
                            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                        },
                    },
                    reply.headers,
                )

        return Handler
