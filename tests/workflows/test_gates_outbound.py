"""The outbound gate's client: internal addresses, the allow-list, pinning, redirects, size, time, TLS.

Over real HTTP on loopback. The fakes count the TCP connections they accept, so "refused
before connecting" is measured, not assumed. DNS answers are scripted (socket.getaddrinfo)
only where a test needs a host name that resolves somewhere particular.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from demo.cdp import DEMO_CDP_TOKEN_ENV
from tests.support.outbound import (  # noqa: F401 - fixtures
    REFUSED,
    CountingServer,
    counting_server_process,
    drip,
    json_answer,
    other_server,
    redirect_to,
    scripted_dns,
    server,
    unbounded_body,
)
from workflows import outbound
from workflows.checks import check_outbound

CREDENTIAL = "cdp-secret-value-5d1e8a"


# --- Internal addresses are refused before any connection -------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433", "0.0.0.0", "127.1.2.3"],
    ids=[
        "loopback",
        "localhost-name",
        "ipv4-mapped-ipv6",
        "decimal-loopback",
        "unspecified",
        "loopback-range",
    ],
)
def test_a_loopback_host_is_refused_before_connecting(settings, server, host):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []

    with pytest.raises(outbound.OutboundRefused, match=REFUSED) as caught:
        outbound.get_json(server.url(host=host))

    assert server.connections == 0 and server.requests == []
    assert (
        "127.0.0.1" not in str(caught.value) or "127.0.0.1" in host
    )  # a refused name's address is not told


@pytest.mark.parametrize(
    "url",
    [
        "http://10.255.255.1:81/recipients.json",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[::1]:81/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a00:1]/",
        "http://224.0.0.1/",
    ],
    ids=[
        "10.x",
        "192.168.x",
        "172.16.x",
        "cgnat",
        "metadata",
        "ipv6-loopback",
        "ec2-metadata-v6",
        "link-local-v6",
        "nat64-to-private",
        "multicast",
    ],
)
def test_a_private_or_metadata_address_is_refused_at_once(settings, url):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    started = time.monotonic()

    with pytest.raises(outbound.OutboundRefused, match=REFUSED):
        outbound.get_json(url, timeout=10)

    assert (
        time.monotonic() - started < 0.5
    )  # no connection attempt to an address that would not answer


def test_a_host_name_resolving_to_a_private_address_is_refused_without_telling_the_address(
    settings, monkeypatch
):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    scripted_dns(monkeypatch, {"cdp.corp.example": ["10.20.30.40"]})

    with pytest.raises(outbound.OutboundRefused) as caught:
        outbound.get_json("http://cdp.corp.example/recipients.json")

    assert str(caught.value) == (
        f"http://cdp.corp.example/recipients.json {REFUSED}, which outbound requests may not reach "
        "unless the operator lists cdp.corp.example:80 in MARKETINGAI_OUTBOUND_ALLOWED_HOSTS."
    )
    assert "10.20.30.40" not in str(caught.value)


def test_a_refused_host_tells_nothing_of_whether_it_answers(settings, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()

    messages = []
    for port in (server.port, closed_port):
        with pytest.raises(outbound.OutboundRefused) as caught:
            outbound.get_json(f"http://127.0.0.1:{port}/x")
        messages.append(str(caught.value).replace(str(port), "PORT"))

    assert messages[0] == messages[1]
    assert server.connections == 0


def test_an_allow_listed_loopback_host_and_port_is_reached(settings, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    server.respond = json_answer({"recipients": [{"customer_id": "c1"}]})

    assert outbound.get_json(server.url()) == {"recipients": [{"customer_id": "c1"}]}
    assert server.connections == 1


def test_an_outbound_request_inside_a_database_transaction_is_refused_before_connecting(
    settings, server, db
):
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]

    with transaction.atomic():
        with pytest.raises(
            TransactionManagementError, match="must not run inside a database transaction"
        ):
            outbound.get_json(server.url())
    assert server.connections == 0


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2"])
def test_the_allow_list_matches_the_exact_host(settings, server, host):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]

    with pytest.raises(outbound.OutboundRefused, match=REFUSED):
        outbound.get_json(server.url(host=host))

    assert server.connections == 0


def test_the_allow_list_matches_the_exact_port(settings, server, other_server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [other_server.key]

    with pytest.raises(outbound.OutboundRefused, match=REFUSED):
        outbound.get_json(server.url())

    assert server.connections == 0


def test_the_connection_goes_to_the_address_that_was_checked(settings, server, monkeypatch):
    """DNS rebinding: a second lookup would answer elsewhere; the client connects to the first, checked answer."""
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [f"cdp.example:{server.port}"]
    lookups = scripted_dns(monkeypatch, {"cdp.example": ["127.0.0.1", "10.255.255.1"]})

    assert outbound.get_json(f"http://cdp.example:{server.port}/recipients.json", timeout=2) == {
        "recipients": []
    }

    assert lookups == ["cdp.example"]
    assert server.connections == 1
    assert server.requests[0]["headers"]["host"] == f"cdp.example:{server.port}"


def test_a_name_with_one_private_answer_among_public_ones_is_refused(settings, monkeypatch):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "mixed.example":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("169.254.169.254", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    with pytest.raises(outbound.OutboundRefused, match=REFUSED):
        outbound.get_json("http://mixed.example/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://files.example/recipients.json",
            "ftp://files.example/recipients.json is not an http or https URL.",
        ),
        ("file:///etc/passwd", "file:///etc/passwd is not an http or https URL."),
        (
            "http://user:pw-7788@cdp.example/x",
            "http://cdp.example/x carries a user name or password; put the credential in a named secret instead.",
        ),
    ],
)
def test_only_plain_http_urls_are_requested(url, message):
    with pytest.raises(outbound.OutboundRefused) as caught:
        outbound.get_json(url)
    assert str(caught.value) == message


# --- Redirects, size and time ------------------------------------------------------------


def test_a_redirect_is_refused_and_not_followed(settings, server, other_server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key, other_server.key]
    server.respond = redirect_to(other_server.url("/collect"), status=307)

    with pytest.raises(outbound.OutboundError) as caught:
        outbound.get_json(
            server.url(),
            headers={"Authorization": f"Bearer {CREDENTIAL}"},
            secrets_to_redact=[CREDENTIAL],
        )

    assert (
        str(caught.value)
        == f"{server.url()} answered with a redirect (HTTP 307); point it at the final URL."
    )
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {CREDENTIAL}"
    assert other_server.connections == 0 and other_server.requests == []


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_an_oversize_response_is_refused(settings, server, declared):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    server.respond = json_answer(b" " * 300_000) if declared else unbounded_body(5_000_000)

    with pytest.raises(outbound.OutboundError) as caught:
        outbound.get_json(server.url(), max_bytes=256 * 1024)

    assert str(caught.value) == f"{server.url()} returned more than 256 KB."


def test_the_operator_ceiling_on_response_size_wins_over_the_caller(settings, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    settings.MARKETINGAI_OUTBOUND_MAX_BYTES = 1024
    server.respond = json_answer(b" " * 2048)

    with pytest.raises(outbound.OutboundError, match="returned more than 1 KB"):
        outbound.get_json(server.url(), max_bytes=10 * 1024 * 1024)


def test_a_slow_server_times_out(settings, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    server.respond = json_answer({}, delay=3.0)
    started = time.monotonic()

    with pytest.raises(outbound.OutboundError) as caught:
        outbound.get_json(server.url(), timeout=1)

    assert str(caught.value) == f"{server.url()} did not answer within 1 second."
    assert time.monotonic() - started < 2


def test_a_drip_fed_body_is_cut_at_the_deadline(settings, server):
    """Each byte arrives well within the timeout; the whole exchange still ends at the deadline."""
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    server.respond = drip(byte_every=0.2, total_bytes=30)
    started = time.monotonic()

    with pytest.raises(outbound.OutboundError, match="did not answer within 1 second"):
        outbound.get_json(server.url(), timeout=1)

    assert time.monotonic() - started < 2


def test_the_operator_ceiling_on_time_wins_over_the_caller(settings, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    settings.MARKETINGAI_OUTBOUND_MAX_TIMEOUT = 0.5
    server.respond = json_answer({}, delay=2.0)
    started = time.monotonic()

    with pytest.raises(outbound.OutboundError, match="did not answer within 0.5 seconds"):
        outbound.get_json(server.url(), timeout=600)

    assert time.monotonic() - started < 1.5


# --- TLS keeps the host name -------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=cdp.example",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen_names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: seen_names.append(name)
    server = CountingServer(tls_context=context)
    server.seen_names = seen_names
    yield server
    server.close()


def test_tls_is_verified_against_the_host_name_on_the_pinned_address(
    settings, tls_server, monkeypatch
):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [f"cdp.example:{tls_server.port}"]
    scripted_dns(monkeypatch, {"cdp.example": ["127.0.0.1"]})
    url = f"https://cdp.example:{tls_server.port}/recipients.json"

    with pytest.raises(outbound.OutboundError) as caught:
        outbound.get_json(url, timeout=2)

    assert (
        str(caught.value) == f"The TLS certificate of {url} could not be verified."
    )  # self-signed
    assert tls_server.seen_names[-1] == "cdp.example"  # SNI carries the name, not the address
    assert tls_server.requests == []


# --- System checks and the demo's own configuration --------------------------------------


@pytest.mark.parametrize(
    "entry",
    ["cdp.internal", "http://cdp.internal:80", "cdp.internal:0", "cdp.internal:http", ":8000"],
)
def test_an_allow_list_entry_that_is_not_host_and_port_is_an_error(settings, entry):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [entry]
    assert {m.id for m in check_outbound()} == {"workflows.E010"}


def test_good_outbound_settings_pass_the_checks(settings):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [
        "cdp.internal:8443",
        "[fd00::5]:443",
        "127.0.0.1:8000",
    ]
    settings.MARKETINGAI_SECRETS = ["CDP_TOKEN", "SLACK_TOKEN"]
    assert check_outbound() == []


def test_a_webhook_url_to_an_internal_literal_is_a_check_error(settings):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    settings.MARKETINGAI_SLACK_WEBHOOK_URL = "http://10.0.0.8/hook"
    assert "workflows.E014" in {m.id for m in check_outbound()}


def _settings_under(env: dict[str, str]) -> dict:
    code = (
        "import json, marketingai.settings as s; "
        "print(json.dumps({'allowed': s.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS, 'secrets': s.MARKETINGAI_SECRETS}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETINGAI_", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_demo_endpoint_is_allowed_by_the_demo_configuration_not_by_debug(tmp_path):
    var = {"MARKETINGAI_VAR_DIR": str(tmp_path), "MARKETINGAI_ADMIN_PORT": "8123"}

    demo_on = _settings_under({**var, "MARKETINGAI_DEMO_CDP": "1", "MARKETINGAI_DEBUG": "0"})
    debug_only = _settings_under({**var, "MARKETINGAI_DEMO_CDP": "0", "MARKETINGAI_DEBUG": "1"})
    operator = _settings_under(
        {
            **var,
            "MARKETINGAI_DEMO_CDP": "0",
            "MARKETINGAI_OUTBOUND_ALLOWED_HOSTS": "cdp.internal:8443",
            "MARKETINGAI_SECRET_NAMES": "CDP_TOKEN, SLACK_TOKEN",
        }
    )

    assert demo_on == {"allowed": ["127.0.0.1:8123"], "secrets": [DEMO_CDP_TOKEN_ENV]}
    assert debug_only == {"allowed": [], "secrets": []}
    assert operator == {"allowed": ["cdp.internal:8443"], "secrets": ["CDP_TOKEN", "SLACK_TOKEN"]}
