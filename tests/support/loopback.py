"""What every loopback fake of a provider's HTTP API shares: a quiet handler, a server on a free
port in a daemon thread, and a JSON answer that tolerates a client that already hung up."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True


def serve(handler_class: type[BaseHTTPRequestHandler]) -> LoopbackServer:
    """The handler served on 127.0.0.1 at a free port (``server.server_address[1]``)."""
    server = LoopbackServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def send_json(
    handler, status: int, document, headers=None, *, content_type: str = "application/json"
) -> None:
    """Answer ``document`` as JSON (bytes go as they are, as text/plain)."""
    if isinstance(document, bytes):
        body, content_type = document, "text/plain"
    else:
        body = json.dumps(document).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass
