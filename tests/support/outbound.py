"""A loopback HTTP server for the outbound gate's tests: it counts every TCP connection it accepts.

The ``server`` and ``other_server`` fixtures are imported by the tests that use them.
A test sets ``server.respond`` to one of the answers below (or its own function of the
request handler); the server records each request's path and headers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# The refusal every internal address gets, whichever it is.
REFUSED = "resolves to a loopback, private, link-local or metadata address"


class CountingServer:
    def __init__(self, host: str = "127.0.0.1", family: int = socket.AF_INET, tls_context=None):
        self.connections = 0
        self.requests: list[dict] = []
        self.respond = json_answer({"ok": True})
        owner = self

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

            def verify_request(self, request, client_address):
                owner.connections += 1
                return True

            def get_request(self):
                sock, address = super().get_request()
                if tls_context is not None:
                    try:
                        sock = tls_context.wrap_socket(sock, server_side=True)
                    except OSError:
                        owner.connections += 1
                        sock.close()
                        raise
                return sock, address

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                owner.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
                )
                try:
                    owner.respond(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as the test wanted

            do_GET = do_POST = _handle

        self._server = Server((host, 0), Handler)
        self.host = host
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(
        self, path: str = "/recipients.json", *, host: str | None = None, scheme: str = "http"
    ) -> str:
        host = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{scheme}://{host}:{self.port}{path}"

    @property
    def key(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def json_answer(
    document,
    *,
    status: int = 200,
    delay: float = 0.0,
    content_type: str = "application/json",
    headers=None,
):
    body = json.dumps(document).encode() if not isinstance(document, bytes) else document

    def respond(handler: BaseHTTPRequestHandler) -> None:
        if delay:
            time.sleep(delay)
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def redirect_to(location: str, *, status: int = 302):
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def unbounded_body(total_bytes: int):
    """A JSON-looking body with no Content-Length, ended only by closing the connection."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        sent = 0
        while sent < total_bytes:
            chunk = b" " * min(65536, total_bytes - sent)
            handler.wfile.write(chunk)
            sent += len(chunk)

    return respond


def drip(*, byte_every: float, total_bytes: int):
    """Headers at once, then the body one byte at a time: each read is quick, the whole is slow."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(total_bytes))
        handler.end_headers()
        handler.wfile.flush()
        for _ in range(total_bytes):
            time.sleep(byte_every)
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return respond


@pytest.fixture(scope="module")
def counting_server_process():
    server = CountingServer()
    yield server
    server.close()


@pytest.fixture
def server(counting_server_process):
    counting_server_process.connections = 0
    counting_server_process.requests.clear()
    counting_server_process.respond = json_answer({"recipients": []})
    return counting_server_process


@pytest.fixture
def other_server():
    server = CountingServer()
    yield server
    server.close()


def scripted_dns(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Resolve the given names to the given addresses (in turn, one list per lookup); others as usual."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = answers[host][min(len(lookups), len(answers[host])) - 1]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups
