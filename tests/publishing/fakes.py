"""Loopback fakes of the providers' documented APIs, reached through the real guarded client.

One threaded HTTP server on 127.0.0.1 speaks the parts of each API the adapters use:

- SendGrid v3: ``POST /v3/mail/batch`` (201 ``{"batch_id"}``), ``POST /v3/mail/send`` (202, the
  message id in ``X-Message-Id``; 400 with ``{"errors": [...]}`` for a request the docs forbid:
  no personalizations, more than 1,000, no from, no content, send_at without a batch),
  ``POST /v3/user/scheduled_sends`` (201 ``{"batch_id", "status"}``). Bearer API key required.
- Slack Web API: ``POST /api/chat.postMessage`` (200 ``{"ok": true, "channel", "ts"}``; ``ok:
  false`` with ``invalid_blocks`` beyond 50 blocks or 3,000 characters in a section,
  ``not_authed`` without the bot token), ``POST /api/chat.delete`` (``message_not_found`` for an
  unknown ts).
- Slack incoming webhook: ``POST /hooks/...`` answers ``ok``.

Scripted failures are taken in order per path before the normal answer: ``"500"``,
``("429", seconds)`` with Retry-After, ``"accept_then_timeout"``: the request is accepted and
recorded like any other, and the answer never comes (the client's deadline runs out), and
``"hold"``: the request is accepted and recorded, and its answer waits until the test calls
``hold.release()`` (or ``Hold.SECONDS`` pass): a worker can be killed while it waits.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

import pytest

from tests.support.loopback import QuietHandler, send_json, serve

SENDGRID_KEY = "SG.fake-sendgrid-key-000000"
SLACK_TOKEN = "xoxb-fake-bot-token-000000"
SLACK_HOOK_PATH = "/hooks/T000/B000/fakewebhooksecret"
KEYED_PATH = "/keyed/messages"
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000


class Hold:
    """The answers of ``"hold"`` requests, held back until the test releases them."""

    SECONDS = 60.0

    def __init__(self):
        self.taken = threading.Event()  # a held request was accepted and recorded
        self._released = threading.Event()

    def wait(self) -> None:
        self.taken.set()
        self._released.wait(self.SECONDS)

    def release(self) -> None:
        self._released.set()


class ProviderFake:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        owner = self

        class Handler(QuietHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"null")
                except json.JSONDecodeError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.handle(self, self.path, headers, body)

        self._server = serve(Handler)
        self.port = self._server.server_address[1]

    def reset(self):
        with self.lock:
            if hasattr(self, "hold"):
                self.hold.release()
            self.hold = Hold()
            self.requests: list[dict] = []  # every request, failures included
            self.mails: list[dict] = []  # accepted mail sends
            self.batches: list[str] = []
            self.cancelled: list[str] = []
            self.messages: dict[str, dict] = {}  # ts -> accepted Slack bot message
            self.deleted: list[str] = []
            self.hook_posts: list[dict] = []
            self.keyed: dict[str, str] = {}  # idempotency key -> the one delivery it made
            self.keyed_requests: dict[str, int] = defaultdict(int)
            self.failures: dict[str, list] = defaultdict(list)
            self.counter = 0

    @property
    def key(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *failures) -> None:
        self.failures[path].extend(failures)

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    # --- Answers ----------------------------------------------------------------------------------

    def _next_id(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def handle(self, handler, path, headers, body):
        self.requests.append({"path": path, "headers": headers, "body": body})
        failure = self.failures[path].pop(0) if self.failures[path] else None
        if failure == "500":
            return send_json(handler, 500, {"errors": [{"message": "internal error"}]})
        if isinstance(failure, tuple) and failure[0] == "429":
            return send_json(
                handler, 429, {"error": "ratelimited"}, {"Retry-After": str(failure[1])}
            )
        status, document, extra = self.answer(path, headers, body)
        if failure == "accept_then_timeout":
            time.sleep(3)  # accepted and recorded; the answer never comes in time
            return
        if failure == "hold":
            self.hold.wait()  # accepted and recorded; the answer waits for the test
        send_json(handler, status, document, extra)

    def answer(self, path, headers, body):
        if path.startswith("/v3/"):
            if headers.get("authorization") != f"Bearer {SENDGRID_KEY}":
                return 401, {"errors": [{"message": "authorization required"}]}, {}
            if path == "/v3/mail/batch":
                batch_id = f"batch_{self._next_id()}"
                self.batches.append(batch_id)
                return 201, {"batch_id": batch_id}, {}
            if path == "/v3/mail/send":
                return self._mail_send(body)
            if path == "/v3/user/scheduled_sends":
                if body.get("status") != "cancel" or body.get("batch_id") not in self.batches:
                    return 400, {"errors": [{"field": "batch_id", "message": "invalid"}]}, {}
                self.cancelled.append(body["batch_id"])
                return 201, {"batch_id": body["batch_id"], "status": "cancel"}, {}
        if path.startswith("/api/"):
            if headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
                return 200, {"ok": False, "error": "not_authed"}, {}
            if path == "/api/chat.postMessage":
                return self._post_message(body)
            if path == "/api/chat.delete":
                if body.get("ts") not in self.messages or body["ts"] in self.deleted:
                    return 200, {"ok": False, "error": "message_not_found"}, {}
                self.deleted.append(body["ts"])
                return 200, {"ok": True, "channel": body["channel"], "ts": body["ts"]}, {}
        if path == KEYED_PATH:
            # A platform that honours Idempotency-Key (as Resend and SparkPost document it).
            key = headers.get("idempotency-key", "")
            if not key:
                return 400, {"error": "Idempotency-Key required by this fake"}, {}
            if key not in self.keyed:
                self.keyed[key] = f"keyed_{self._next_id()}"
            self.keyed_requests[key] += 1
            return 200, {"id": self.keyed[key]}, {}
        if path == SLACK_HOOK_PATH:
            if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
                return 400, b"invalid_payload", {}
            self.hook_posts.append(body)
            return 200, b"ok", {}
        return 404, {"error": "not found"}, {}

    def _mail_send(self, body):
        personalizations = body.get("personalizations") or []
        errors = []
        if not 1 <= len(personalizations) <= 1000:
            errors.append("personalizations: between 1 and 1000")
        if not (body.get("from") or {}).get("email"):
            errors.append("from.email is required")
        if not body.get("content") or body["content"][0].get("type") != "text/plain":
            errors.append("content: text/plain first")
        if "send_at" in body and "batch_id" not in body:
            errors.append("send_at without a batch_id cannot be cancelled")
        if errors:
            return 400, {"errors": [{"message": e} for e in errors]}, {}
        message_id = f"msg_{self._next_id()}"
        self.mails.append({**body, "message_id": message_id})
        return 202, b"", {"X-Message-Id": message_id}

    def _post_message(self, body):
        blocks = body.get("blocks") or []
        too_long = [
            b
            for b in blocks
            if b.get("type") == "section" and len(b["text"]["text"]) > MAX_SECTION_CHARS
        ]
        if not body.get("channel"):
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if len(blocks) > MAX_BLOCKS or too_long:
            return 200, {"ok": False, "error": "invalid_blocks"}, {}
        if sum(len(b["text"]["text"]) for b in blocks if "text" in b) > 13000:
            return 200, {"ok": False, "error": "msg_blocks_too_long"}, {}
        ts = f"1700000000.{self._next_id():06d}"
        self.messages[ts] = body
        return (
            200,
            {
                "ok": True,
                "channel": body["channel"],
                "ts": ts,
                "message": {"text": body.get("text")},
            },
            {},
        )

    # --- What tests count -------------------------------------------------------------------------

    def recipients_mailed(self) -> list[str]:
        return [p["to"][0]["email"] for mail in self.mails for p in mail["personalizations"]]

    def sends_per_key(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for mail in self.mails:
            counts[mail["custom_args"]["marketingai_key"]] += 1
        return dict(counts)


@pytest.fixture(scope="session")
def provider_process():
    fake = ProviderFake()
    yield fake
    fake.close()


@pytest.fixture
def provider(provider_process, settings, monkeypatch):
    """The fake, allow-listed, with the three secrets configured and a short outbound deadline."""
    provider_process.reset()
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [provider_process.key]
    settings.MARKETINGAI_OUTBOUND_MAX_TIMEOUT = 1.0
    settings.MARKETINGAI_SECRETS = ["SENDGRID_API_KEY", "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL"]
    monkeypatch.setenv("SENDGRID_API_KEY", SENDGRID_KEY)
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", provider_process.url(SLACK_HOOK_PATH))
    yield provider_process
    provider_process.reset()
