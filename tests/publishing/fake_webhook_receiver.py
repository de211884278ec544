"""A loopback receiver of Standard Webhooks (https://www.standardwebhooks.com/), as the customer's
middleware would run one, reached through the real guarded client.

It verifies each request with the reference library (``standardwebhooks.Webhook(secret).verify``:
the three headers, the timestamp within 5 minutes, a ``v1`` signature over the raw body) and
answers 401 when that fails; it processes each ``webhook-id`` once and acknowledges a repeat
with 200 without processing it again, as the spec asks receivers to.

Scripted failures, taken in order before the normal answer: ``"500"``, ``("429", seconds)``,
``"410"`` and ``"accept_then_timeout"`` (verified and processed, the answer never comes).
"""

from __future__ import annotations

import base64
import threading
import time
from collections import defaultdict

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.loopback import QuietHandler, send_json, serve

HOOK_PATH = "/hooks/marketingai"
WEBHOOK_KEY = bytes(range(1, 33))  # 32 bytes
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(101, 133))).decode()
SECRET_NAMES = ["WEBHOOK_SIGNING_SECRET", "WEBHOOK_OTHER_SECRET"]


class WebhookReceiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        owner = self

        class Handler(QuietHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.handle(self, self.path, headers, raw)

        self._server = serve(Handler)
        self.port = self._server.server_address[1]

    def reset(self):
        with self.lock:
            self.secret = WEBHOOK_SECRET  # what the receiver verifies with
            self.requests: list[dict] = []  # every request: path, headers, raw body
            self.events: dict[str, dict] = {}  # webhook-id -> the event, processed once
            self.deliveries: dict[str, int] = defaultdict(int)  # webhook-id -> verified requests
            self.refused: list[str] = []  # why a request failed verification
            self.failures: list = []

    @property
    def key(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = HOOK_PATH) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *failures) -> None:
        self.failures.extend(failures)

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def events_of(self, event_type: str) -> list[dict]:
        return [e for e in self.events.values() if e["type"] == event_type]

    def handle(self, handler, path, headers, raw):
        self.requests.append({"path": path, "headers": headers, "raw": raw})
        failure = self.failures.pop(0) if self.failures else None
        if failure in ("500", "410"):
            return send_json(handler, int(failure), {"error": "scripted"})
        if isinstance(failure, tuple) and failure[0] == "429":
            return send_json(handler, 429, {"error": "slow down"}, {"Retry-After": str(failure[1])})
        if path != HOOK_PATH:
            return send_json(handler, 404, {"error": "not found"})
        try:
            event = Webhook(self.secret).verify(raw, headers)
        except WebhookVerificationError as exc:
            self.refused.append(str(exc))
            return send_json(handler, 401, {"error": "invalid signature"})
        webhook_id = headers["webhook-id"]
        with self.lock:
            self.deliveries[webhook_id] += 1
            duplicate = webhook_id in self.events
            if not duplicate:
                self.events[webhook_id] = event
        if failure == "accept_then_timeout":
            time.sleep(3)  # processed; the answer never comes in time
            return
        send_json(handler, 200, {"received": webhook_id, "duplicate": duplicate})


@pytest.fixture(scope="session")
def webhook_receiver_process():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def webhook_receiver(webhook_receiver_process, settings, monkeypatch):
    """The receiver, allow-listed; the signing secret in WEBHOOK_SIGNING_SECRET; a short deadline."""
    webhook_receiver_process.reset()
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [
        *getattr(settings, "MARKETINGAI_OUTBOUND_ALLOWED_HOSTS", []),
        webhook_receiver_process.key,
    ]
    settings.MARKETINGAI_OUTBOUND_MAX_TIMEOUT = 1.0
    settings.MARKETINGAI_SECRETS = [*getattr(settings, "MARKETINGAI_SECRETS", []), *SECRET_NAMES]
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", WEBHOOK_SECRET)
    yield webhook_receiver_process
    webhook_receiver_process.reset()
