"""A loopback fake of Resend's batch send, reached through the real guarded client.

What it speaks, as Resend documents it (https://resend.com/docs/api-reference/emails/send-batch-emails,
/docs/dashboard/emails/idempotency-keys, /docs/api-reference/errors):

- ``POST /emails/batch`` with ``Authorization: Bearer <API key>`` (401 ``missing_api_key``
  without it, 403 ``validation_error`` for another key) and a JSON array of 1 to 100 emails,
  each with ``from``, ``to`` (1 to 50 addresses), ``subject`` and ``text`` or ``html``; ``tags``
  of ``{"name", "value"}`` in ASCII letters, digits, ``_`` and ``-`` (at most 256 characters).
  The batch endpoint takes no ``scheduled_at`` and no ``attachments``. Strict validation: one
  invalid email refuses the whole batch (422 ``validation_error``), and nothing is sent.
  200 ``{"data": [{"id"}, ...]}``, one id per email, in order.
- ``Idempotency-Key`` (1 to 256 characters, else 400 ``invalid_idempotency_key``): the same key
  with the same body answers the first answer again and sends nothing; with another body, 409
  ``invalid_idempotent_request``.

Scripted failures are taken in order before the normal answer: ``"500"``, ``("429", seconds)``
with Retry-After, ``"accept_then_timeout"``: the batch is accepted, sent and recorded like
any other (its key remembered), and the answer never comes (the client's deadline runs out),
and ``"hold"``: the batch is accepted, sent and recorded, and its answer waits until the test
calls ``hold.release()`` (or ``Hold.SECONDS`` pass): a worker can be killed while it waits.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections import Counter, defaultdict

import pytest

from tests.publishing.fakes import Hold
from tests.support.loopback import QuietHandler, send_json, serve

RESEND_KEY = "re_fake_resend_key_0000000000"
BATCH_PATH = "/emails/batch"
MAX_EMAILS = 100
MAX_TO = 50
MAX_KEY_CHARS = 256
TAG = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _error(status: int, name: str, message: str):
    return status, {"statusCode": status, "name": name, "message": message}, {}


class ResendFake:
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
                owner.handle(self, self.path, headers, raw, body)

        self._server = serve(Handler)
        self.port = self._server.server_address[1]

    def reset(self):
        with self.lock:
            if hasattr(self, "hold"):
                self.hold.release()
            self.hold = Hold()
            self.requests: list[dict] = []  # every request, failures included
            self.emails: list[dict] = []  # every email sent, with its id
            self.answers: dict[str, tuple] = {}  # idempotency key -> (body hash, answer)
            self.failures: dict[str, list] = defaultdict(list)

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

    def handle(self, handler, path, headers, raw, body):
        with self.lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
            failure = self.failures[path].pop(0) if self.failures[path] else None
        if failure == "500":
            return send_json(
                handler, *_error(500, "internal_server_error", "An unexpected error.")[:2]
            )
        if isinstance(failure, tuple) and failure[0] == "429":
            status, document, _ = _error(429, "rate_limit_exceeded", "Too many requests.")
            return send_json(handler, status, document, {"Retry-After": str(failure[1])})
        status, document, extra = self.answer(path, headers, raw, body)
        if failure == "accept_then_timeout":
            time.sleep(3)  # sent and recorded; the answer never comes in time
            return
        if failure == "hold":
            self.hold.wait()  # sent and recorded; the answer waits for the test
        send_json(handler, status, document, extra)

    def answer(self, path, headers, raw, body):
        authorization = headers.get("authorization", "")
        if not authorization:
            return _error(401, "missing_api_key", "Missing API key in the authorization header.")
        if authorization != f"Bearer {RESEND_KEY}":
            return _error(403, "validation_error", "API key is invalid.")
        if path != BATCH_PATH:
            return _error(404, "not_found", "The requested endpoint does not exist.")
        key = headers.get("idempotency-key")
        if key is not None and not 1 <= len(key) <= MAX_KEY_CHARS:
            return _error(
                400,
                "invalid_idempotency_key",
                "Idempotency keys, if present, must have between 1 and 256 characters.",
            )
        digest = hashlib.sha256(raw).hexdigest()
        with self.lock:
            if key is not None and key in self.answers:
                first_digest, first_answer = self.answers[key]
                if first_digest != digest:
                    return _error(
                        409,
                        "invalid_idempotent_request",
                        "Same idempotency key used with a different request payload.",
                    )
                return first_answer
            problems = _batch_problems(body)
            if problems:
                return _error(422, "validation_error", "; ".join(problems[:5]))
            data = []
            for email in body:
                email_id = str(uuid.uuid4())
                self.emails.append({**email, "id": email_id, "idempotency_key": key})
                data.append({"id": email_id})
            answer = (200, {"data": data}, {})
            if key is not None:
                self.answers[key] = (digest, answer)
            return answer

    # --- What tests count -------------------------------------------------------------------------

    def recipients_mailed(self) -> list[str]:
        return [address for email in self.emails for address in email["to"]]

    def batches_sent(self) -> int:
        return len({email["idempotency_key"] for email in self.emails})

    def sends_per_key(self) -> dict[str, int]:
        """How many emails each key sent (a key replayed sends none)."""
        return dict(Counter(email["idempotency_key"] for email in self.emails))

    def batch_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == BATCH_PATH]


def _batch_problems(body) -> list[str]:
    if not isinstance(body, list):
        return ["The request body must be an array of emails."]
    if not 1 <= len(body) <= MAX_EMAILS:
        return [f"A batch holds 1 to {MAX_EMAILS} emails, not {len(body)}."]
    problems = []
    for index, email in enumerate(body):
        if not isinstance(email, dict):
            problems.append(f"[{index}] is not an email object.")
            continue
        to = email.get("to")
        to = [to] if isinstance(to, str) else to
        if not email.get("from"):
            problems.append(f"[{index}] Missing `from` field.")
        if not to or not isinstance(to, list) or len(to) > MAX_TO:
            problems.append(f"[{index}] `to` takes 1 to {MAX_TO} addresses.")
        if not email.get("subject"):
            problems.append(f"[{index}] Missing `subject` field.")
        if not (email.get("text") or email.get("html")):
            problems.append(f"[{index}] Give `text` or `html`.")
        for field in ("scheduled_at", "attachments"):
            if field in email:
                problems.append(f"[{index}] `{field}` is not supported in batch emails.")
        for tag in email.get("tags") or []:
            if not (TAG.match(str(tag.get("name", ""))) and TAG.match(str(tag.get("value", "")))):
                problems.append(
                    f"[{index}] Tags may only contain ASCII letters, numbers, underscores or dashes."
                )
    return problems


@pytest.fixture(scope="session")
def resend_process():
    fake = ResendFake()
    yield fake
    fake.close()


@pytest.fixture
def resend(resend_process, settings, monkeypatch):
    """The fake, allow-listed, its API key configured as RESEND_API_KEY, a short outbound deadline."""
    resend_process.reset()
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [
        *getattr(settings, "MARKETINGAI_OUTBOUND_ALLOWED_HOSTS", []),
        resend_process.key,
    ]
    settings.MARKETINGAI_OUTBOUND_MAX_TIMEOUT = 1.0
    settings.MARKETINGAI_SECRETS = [*getattr(settings, "MARKETINGAI_SECRETS", []), "RESEND_API_KEY"]
    monkeypatch.setenv("RESEND_API_KEY", RESEND_KEY)
    yield resend_process
    resend_process.reset()
