"""The one guarded client for outbound HTTP (audience sources, webhooks, later destinations).

Every request here:
- goes only to http(s) URLs without user info;
- resolves the host once and refuses it when any address is loopback, private, link-local,
  reserved, multicast, unspecified or a cloud metadata address, unless the operator listed
  its exact ``host:port`` in ``MARKETINGAI_OUTBOUND_ALLOWED_HOSTS``;
- connects to exactly the address it checked (TLS SNI and Host still carry the host name),
  so a second DNS answer cannot swap it; no proxy is used;
- never follows a redirect; a 3xx is an error naming the status;
- is bounded: one deadline for the whole exchange (clamped to
  ``MARKETINGAI_OUTBOUND_MAX_TIMEOUT``) and a maximum response size;
- fails with OutboundError: one plain sentence that names the target by its safe label,
  never a resolved address of a refused host, a header value or any secret given.

The openai SDK (workflows/llm.py) and the OTLP trace exporter (workflows/telemetry.py) are the only
other clients; they talk to the operator's model endpoint and trace collector.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from workflows.redaction import redact, safe_url
from workflows.transactions import refuse_inside_transaction

DEFAULT_TIMEOUT_SECONDS = 20.0
DEFAULT_MAX_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
ALLOW_SETTING = "MARKETINGAI_OUTBOUND_ALLOWED_HOSTS"


class OutboundError(Exception):
    """A request that failed or was refused. The message is one sentence, free of secrets.

    What a caller that retries needs to know (publishing destinations):
    ``status`` is the HTTP status of an error answer (None when there was no answer),
    ``retry_after`` that answer's Retry-After header, and ``request_sent`` whether the request
    may have reached the host (False when the connection was never made: nothing was sent).
    """

    status: int | None = None
    retry_after: str | None = None
    request_sent: bool = False

    @classmethod
    def answered(cls, message: str, *, status: int, retry_after: str | None) -> OutboundError:
        error = cls(message)
        error.status, error.retry_after, error.request_sent = status, retry_after, True
        return error

    def with_facts_of(self, other: OutboundError) -> OutboundError:
        self.status, self.retry_after = other.status, other.retry_after
        self.request_sent = other.request_sent
        return self


class OutboundRefused(OutboundError):
    """A request refused by policy before any connection was made."""


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    # Lower-case names (e.g. a provider's message id: "x-message-id").
    headers: Mapping[str, str] = field(default_factory=dict)


# --- Policy (pure) -----------------------------------------------------------------------


def is_internal_address(address: str) -> bool:
    """True for addresses outbound requests must not reach unless allow-listed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in NAT64_PREFIX:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(inner is not None and is_internal_address(str(inner)) for inner in embedded):
            return True
    return (
        ip in METADATA_ADDRESSES
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def host_port_key(host: str, port: int) -> str:
    """How an allow-list entry names a host: lower case, no trailing dot, IPv6 in brackets."""
    host = host.strip().lower().rstrip(".")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_allow_entry(entry: str) -> str | None:
    """The normalised ``host:port`` of an allow-list entry, or None when it is not one."""
    entry = entry.strip()
    if not entry or "/" in entry or "@" in entry:
        return None
    parts = urlsplit(f"//{entry}")
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or port is None or port == 0:
        return None
    return host_port_key(parts.hostname, port)


def allowed_host_ports() -> frozenset[str]:
    entries = getattr(settings, ALLOW_SETTING, ()) or ()
    return frozenset(key for key in (parse_allow_entry(entry) for entry in entries) if key)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    label: str

    @property
    def key(self) -> str:
        return host_port_key(self.host, self.port)


def target_for(url: str, *, label: str | None = None) -> Target:
    """The URL's parts, or OutboundRefused when it is not a plain http(s) URL."""
    label = label or safe_url(url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise OutboundRefused(f"{label} is not an http or https URL.")
    if "@" in parts.netloc:
        raise OutboundRefused(
            f"{label} carries a user name or password; put the credential in a named secret instead."
        )
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise OutboundRefused(f"{label} has an invalid port.") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=parts.hostname, port=port, path=path, label=label)


def _refused_internal(target: Target) -> OutboundRefused:
    return OutboundRefused(
        f"{target.label} resolves to a loopback, private, link-local or metadata address, which outbound "
        f"requests may not reach unless the operator lists {target.key} in {ALLOW_SETTING}."
    )


def static_refusal(url: str, *, label: str | None = None) -> str | None:
    """Why the URL is refused without resolving it (scheme, user info, an internal IP literal)."""
    try:
        target = target_for(url, label=label)
    except OutboundRefused as exc:
        return str(exc)
    if target.key in allowed_host_ports():
        return None
    try:
        internal = is_internal_address(target.host)
    except ValueError:
        internal = target.host.lower().rstrip(".") == "localhost" or target.host.lower().endswith(
            ".localhost"
        )
    return str(_refused_internal(target)) if internal else None


def vetted_addresses(
    target: Target, *, also_allowed: frozenset[str] = frozenset()
) -> list[tuple[int, tuple]]:
    """(family, sockaddr) of every address of the host, all checked; OutboundRefused if one is internal."""
    try:
        infos = socket.getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError, OSError):
        raise OutboundError(f"Could not resolve the host of {target.label}.") from None
    addresses = [
        (family, sockaddr)
        for family, _, _, _, sockaddr in infos
        if family in (socket.AF_INET, socket.AF_INET6)
    ]
    if not addresses:
        raise OutboundError(f"Could not resolve the host of {target.label}.")
    if target.key not in allowed_host_ports() | also_allowed and any(
        is_internal_address(sockaddr[0]) for _, sockaddr in addresses
    ):
        raise _refused_internal(target)
    return addresses


# --- Pinned connections ------------------------------------------------------------------


def _connect_pinned(addresses: list[tuple[int, tuple]], timeout: float) -> socket.socket:
    last_error: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last_error or OSError("no address")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the vetted addresses only; the Host header still names the host."""

    def __init__(self, host: str, port: int, *, addresses, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self):
        self.sock = self.pinned_socket = _connect_pinned(self._addresses, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS verified against the host name (SNI and certificate)."""

    def __init__(self, host: str, port: int, *, addresses, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = addresses

    def connect(self):
        raw = _connect_pinned(self._addresses, self.timeout)
        self.sock = self.pinned_socket = self._context.wrap_socket(
            raw, server_hostname=self.host, do_handshake_on_connect=False
        )
        self.sock.do_handshake()  # under the deadline's watch, like every read


class _Deadline:
    """Closes the connection's socket when the whole exchange runs out of time."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._connection: http.client.HTTPConnection | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, connection: http.client.HTTPConnection) -> None:
        self._connection = connection
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        # Not connection.sock: http.client drops that once the response owns the socket.
        sock = getattr(self._connection, "pinned_socket", None)
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also under TLS
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


# --- Requests ----------------------------------------------------------------------------


def _bounded(value: float | None, default: float, ceiling: float) -> float:
    value = default if value is None or value <= 0 else value
    return min(value, ceiling)


def _read_body(response: http.client.HTTPResponse, *, max_bytes: int, label: str) -> bytes:
    too_big = OutboundError(f"{label} returned more than {_size(max_bytes)}.")
    length = response.getheader("Content-Length", "")
    if length.strip().isdigit() and int(length) > max_bytes:
        raise too_big
    chunks, total = [], 0
    while chunk := response.read1(CHUNK_BYTES):
        total += len(chunk)
        if total > max_bytes:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _size(max_bytes: int) -> str:
    if max_bytes >= 1024 * 1024:
        return f"{max_bytes / (1024 * 1024):g} MB"
    if max_bytes >= 1024:
        return f"{max_bytes / 1024:g} KB"
    return f"{max_bytes} bytes"


def _network_failure(exc: OSError, label: str) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"The TLS certificate of {label} could not be verified."
    if isinstance(exc, ssl.SSLError):
        return f"The TLS handshake with {label} failed."
    if isinstance(exc, ConnectionRefusedError):
        return f"Could not reach {label}: the connection was refused."
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return f"Could not reach {label}: the connection was reset."
    return f"Could not reach {label}: {type(exc).__name__}."


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
    label: str | None = None,
    secrets_to_redact: Iterable[str] = (),
    also_allowed: Iterable[str] = (),
) -> Response:
    """Send one request through the guard and return a 2xx response; OutboundError otherwise.

    ``also_allowed``: ``host:port`` entries the operator configured in another setting (the model
    endpoint's URL), allowed for this request as if listed in MARKETINGAI_OUTBOUND_ALLOWED_HOSTS.
    """
    refuse_inside_transaction("An outbound HTTP request")
    secrets = [s for s in secrets_to_redact if s] + url_secrets(url)
    try:
        return _request(
            method,
            url,
            headers=dict(headers or {}),
            body=body,
            timeout=timeout,
            max_bytes=max_bytes,
            label=label,
            also_allowed=frozenset(filter(None, map(parse_allow_entry, also_allowed))),
        )
    except OutboundError as exc:
        raise type(exc)(_sentence(redact(str(exc), secrets))).with_facts_of(exc) from None


def _sentence(text: str) -> str:
    """Capitalise a message that starts with a plain label ('the chat webhook ...'), not a URL."""
    first_word = text.split(" ", 1)[0]
    return text if "://" in first_word else text[:1].upper() + text[1:]


def _request(method, url, *, headers, body, timeout, max_bytes, label, also_allowed) -> Response:
    progress = {"sent": False}
    try:
        return _exchange(
            method, url, headers, body, timeout, max_bytes, label, progress, also_allowed
        )
    except OutboundError as exc:
        exc.request_sent = exc.request_sent or progress["sent"]
        raise


def _exchange(
    method, url, headers, body, timeout, max_bytes, label, progress, also_allowed
) -> Response:
    target = target_for(url, label=label)
    label = target.label
    ceiling = float(
        getattr(settings, "MARKETINGAI_OUTBOUND_MAX_TIMEOUT", DEFAULT_MAX_TIMEOUT_SECONDS)
    )
    seconds = _bounded(timeout, DEFAULT_TIMEOUT_SECONDS, ceiling)
    byte_limit = int(
        min(
            max_bytes or DEFAULT_MAX_BYTES,
            getattr(settings, "MARKETINGAI_OUTBOUND_MAX_BYTES", DEFAULT_MAX_BYTES),
        )
    )
    addresses = vetted_addresses(target, also_allowed=also_allowed)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, addresses=addresses, timeout=seconds)
    deadline = _Deadline(seconds)
    timed_out = OutboundError(
        f"{label} did not answer within {seconds:g} second{'' if seconds == 1 else 's'}."
    )
    try:
        deadline.watch(connection)
        connection.connect()
        progress["sent"] = True  # from here the host may have received the request
        connection.request(method, target.path, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        if 300 <= status < 400:
            raise OutboundError(
                f"{label} answered with a redirect (HTTP {status}); point it at the final URL."
            )
        if not 200 <= status < 300:
            raise OutboundError.answered(
                f"{label} answered HTTP {status}{_phrase(status)}.",
                status=status,
                retry_after=(response.getheader("Retry-After") or "")[:40] or None,
            )
        content_type = (response.getheader("Content-Type", "") or "")[:100]
        data = _read_body(response, max_bytes=byte_limit, label=label)
        if deadline.expired:
            raise timed_out
        headers_in = {name.lower(): value[:300] for name, value in response.getheaders()}
        return Response(status=status, content_type=content_type, body=data, headers=headers_in)
    except OutboundError:
        if deadline.expired:
            raise timed_out from None
        raise
    except (TimeoutError, socket.timeout):
        raise timed_out from None
    except OSError as exc:
        raise (
            timed_out if deadline.expired else OutboundError(_network_failure(exc, label))
        ) from None
    except http.client.HTTPException:
        raise (
            timed_out
            if deadline.expired
            else OutboundError(f"{label} sent an invalid HTTP response.")
        ) from None
    except (ValueError, UnicodeError):
        raise OutboundError(f"The request to {label} has an invalid header or body.") from None
    finally:
        deadline.cancel()
        connection.close()


def _phrase(status: int) -> str:
    try:
        return f" ({HTTPStatus(status).phrase})"
    except ValueError:
        return ""


def url_secrets(url: str) -> list[str]:
    """Parts of a URL that may be credentials: user info and query string."""
    parts = urlsplit(url)
    # Not the bare user name: a URL with user info is refused before any request is sent.
    candidates = [parts.query, parts.netloc.rpartition("@")[0]]
    try:
        candidates.append(parts.password or "")
    except ValueError:
        pass
    return [secret for secret in candidates if secret]


def get_json(url: str, *, headers: Mapping[str, str] | None = None, **options) -> Any:
    """GET a JSON document. Options as for request()."""
    response = request(
        "GET", url, headers={"Accept": "application/json", **(headers or {})}, **options
    )
    try:
        return json.loads(response.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        label = options.get("label") or safe_url(url)
        message = f"{label} did not return JSON (HTTP {response.status}, {response.content_type or 'no content type'})."
        raise OutboundError(
            _sentence(redact(message, [*options.get("secrets_to_redact", ()), *url_secrets(url)]))
        ) from None


def post_json(
    url: str, payload: Any, *, headers: Mapping[str, str] | None = None, **options
) -> Response:
    """POST a JSON document. Options as for request()."""
    body = json.dumps(payload).encode()
    return request(
        "POST",
        url,
        headers={"Content-Type": "application/json", **(headers or {})},
        body=body,
        **options,
    )
