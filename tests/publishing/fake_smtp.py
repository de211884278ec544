"""A loopback SMTP server (aiosmtpd), reached through Django's real SMTP email backend.

It accepts every message and records it (envelope and parsed headers), and can be scripted:

- ``refuse(address)``: RCPT TO that address answers ``550 5.1.1 <address>: Recipient address
  rejected`` (the address in the answer, as real servers write it).
- ``script_connections("421")``: the next connection is greeted with ``421 4.3.2 Service not
  available`` and closed (smtplib raises SMTPConnectError while opening: nothing handed over).
- ``script_messages(*actions)``: one action per message, in order (``None``: accept):
  ``"451"`` answers the end of the data ``451 4.3.0 Try again later`` and keeps nothing;
  ``"drop_after_data"`` keeps the message (it was handed over and will be delivered) and
  drops the connection before answering. ``drop_after(n)`` accepts n messages and drops the
  connection after handing over the next.
- ``login``: with ``EMAIL_HOST_USER``/``EMAIL_HOST_PASSWORD`` set, AUTH PLAIN/LOGIN checks them
  against ``SMTP_USER``/``SMTP_PASSWORD`` (535 otherwise).
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO

SMTP_USER = "mailer@kestrel.example"
SMTP_PASSWORD = "smtp-fake-password-0000"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpFake:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        owner = self

        class ScriptedSMTP(SMTP):
            async def _handle_client(self):
                if owner._next("connections") == "421":
                    await self.push("421 4.3.2 Service not available")
                    self.transport.close()
                    return
                await super()._handle_client()

        class ScriptedController(Controller):
            def factory(self):
                return ScriptedSMTP(self.handler, **self.SMTP_kwargs)

        self.port = _free_port()
        self._controller = ScriptedController(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )
        self._controller.start()

    def reset(self):
        with self.lock:
            self.messages: list[dict] = []  # every message handed over
            self.refused: set[str] = set()
            self.scripts: dict[str, list] = {"connections": [], "messages": []}
            self.logins: list[str] = []

    def _next(self, kind: str):
        with self.lock:
            return self.scripts[kind].pop(0) if self.scripts[kind] else None

    def refuse(self, *addresses: str) -> None:
        self.refused.update(a.lower() for a in addresses)

    def script_connections(self, *actions) -> None:
        self.scripts["connections"].extend(actions)

    def script_messages(self, *actions) -> None:
        self.scripts["messages"].extend(actions)

    def drop_after(self, n: int) -> None:
        self.script_messages(*([None] * n), "drop_after_data")

    def close(self):
        self._controller.stop()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        self.logins.append(login)
        ok = login == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
        return AuthResult(success=ok, handled=False)

    # --- What tests count -------------------------------------------------------------------------

    def recipients_mailed(self) -> list[str]:
        return [address for m in self.messages for address in m["to"]]

    def message_ids(self) -> list[str]:
        return [m["headers"]["Message-ID"] for m in self.messages]


class _Handler:
    def __init__(self, fake: SmtpFake):
        self.fake = fake

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.fake.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        action = self.fake._next("messages")
        if action == "451":
            return "451 4.3.0 Try again later"
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.fake.lock:
            self.fake.messages.append(
                {
                    "mail_from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "headers": {name: str(value).strip() for name, value in parsed.items()},
                    "body": parsed.get_body(("plain",)).get_content(),
                }
            )
        if action == "drop_after_data":
            server.transport.abort()  # handed over; the answer never comes
        return "250 2.0.0 Ok: queued"


@pytest.fixture(scope="session")
def smtp_process():
    fake = SmtpFake()
    yield fake
    fake.close()


@pytest.fixture
def smtp_server(smtp_process, settings):
    """Django's SMTP backend pointed at the fake, without a login, with a short timeout."""
    smtp_process.reset()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_process.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2.0
    yield smtp_process
    smtp_process.reset()
