"""The outbound gate: one guarded client, and credentials only from secrets the operator named.

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
from django.core import checks
from django.core.exceptions import ValidationError

from inputs.admin import AudienceSourceForm
from inputs.checks import check_audience_sources
from inputs.demo_cdp import DEMO_CDP_TOKEN_ENV
from inputs.models import AudienceImport, AudienceSource
from inputs.sources import SourceError, audience_pull
from tests.outbound_support import CountingServer, drip, json_answer, redirect_to, unbounded_body
from workflows import outbound, secrets
from workflows.checks import check_outbound
from workflows.models import AudienceSegment

SECRET_NAME = "TEST_CDP_TOKEN"
SECRET_VALUE = "cdp-secret-value-5d1e8a"
SERVER_SECRET = "server-own-secret-value-9c2b7f"
REFUSED = "resolves to a loopback, private, link-local or metadata address"


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


@pytest.fixture
def named_secret(settings, monkeypatch):
    settings.MARKETINGAI_SECRETS = [SECRET_NAME]
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_SECRET)
    monkeypatch.setenv("DJANGO_SECRET_KEY", SERVER_SECRET)
    return SECRET_VALUE


@pytest.fixture
def source(db, server, named_secret, settings):
    """A source on the counting server, which the operator allowed; its credential is a named secret."""
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    segment = AudienceSegment.objects.create(slug="gate_segment", name="Gate segment")
    return AudienceSource.objects.create(segment=segment, url=server.url(), auth_secret=SECRET_NAME, timeout_seconds=2)


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


# --- Internal addresses are refused before any connection -------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433", "0.0.0.0", "127.1.2.3"],
    ids=["loopback", "localhost-name", "ipv4-mapped-ipv6", "decimal-loopback", "unspecified", "loopback-range"],
)
def test_a_loopback_host_is_refused_before_connecting(settings, server, host):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []

    with pytest.raises(outbound.OutboundRefused, match=REFUSED) as caught:
        outbound.get_json(server.url(host=host))

    assert server.connections == 0 and server.requests == []
    assert "127.0.0.1" not in str(caught.value) or "127.0.0.1" in host  # a refused name's address is not told


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
    ids=["10.x", "192.168.x", "172.16.x", "cgnat", "metadata", "ipv6-loopback", "ec2-metadata-v6", "link-local-v6", "nat64-to-private", "multicast"],
)
def test_a_private_or_metadata_address_is_refused_at_once(settings, url):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    started = time.monotonic()

    with pytest.raises(outbound.OutboundRefused, match=REFUSED):
        outbound.get_json(url, timeout=10)

    assert time.monotonic() - started < 0.5  # no connection attempt to an address that would not answer


def test_a_host_name_resolving_to_a_private_address_is_refused_without_telling_the_address(settings, monkeypatch):
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

    assert outbound.get_json(f"http://cdp.example:{server.port}/recipients.json", timeout=2) == {"recipients": []}

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
        ("ftp://files.example/recipients.json", "ftp://files.example/recipients.json is not an http or https URL."),
        ("file:///etc/passwd", "file:///etc/passwd is not an http or https URL."),
        ("http://user:pw-7788@cdp.example/x", "http://cdp.example/x carries a user name or password; put the credential in a named secret instead."),
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
        outbound.get_json(server.url(), headers={"Authorization": f"Bearer {SECRET_VALUE}"}, secrets_to_redact=[SECRET_VALUE])

    assert str(caught.value) == f"{server.url()} answered with a redirect (HTTP 307); point it at the final URL."
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET_VALUE}"
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
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=cdp.example",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen_names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: seen_names.append(name)
    server = CountingServer(tls_context=context)
    server.seen_names = seen_names
    yield server
    server.close()


def test_tls_is_verified_against_the_host_name_on_the_pinned_address(settings, tls_server, monkeypatch):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [f"cdp.example:{tls_server.port}"]
    scripted_dns(monkeypatch, {"cdp.example": ["127.0.0.1"]})
    url = f"https://cdp.example:{tls_server.port}/recipients.json"

    with pytest.raises(outbound.OutboundError) as caught:
        outbound.get_json(url, timeout=2)

    assert str(caught.value) == f"The TLS certificate of {url} could not be verified."  # self-signed
    assert tls_server.seen_names[-1] == "cdp.example"  # SNI carries the name, not the address
    assert tls_server.requests == []


# --- Operator-named secrets --------------------------------------------------------------


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "DJANGO_SECRET_KEY", "HOME", "SOME_UNLISTED_NAME"])
def test_a_source_naming_anything_but_a_configured_secret_fails_validation(source, name):
    source.auth_secret = name

    with pytest.raises(ValidationError) as caught:
        source.full_clean()

    assert set(caught.value.message_dict) == {"auth_secret"}


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "DJANGO_SECRET_KEY", "SOME_UNLISTED_NAME"])
def test_a_pull_with_an_unconfigured_secret_is_refused_before_connecting(source, server, name):
    AudienceSource.objects.filter(pk=source.pk).update(auth_secret=name)  # as if stored before this gate
    source.refresh_from_db()

    with pytest.raises(SourceError) as caught:
        audience_pull(source=source)

    assert name in str(caught.value)
    assert server.connections == 0
    source.refresh_from_db()
    assert source.last_status == str(caught.value)
    assert SERVER_SECRET not in source.last_status


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "DJANGO_SECRET_KEY"])
def test_the_servers_own_secrets_stay_refused_even_when_listed(settings, source, server, name):
    settings.MARKETINGAI_SECRETS = [SECRET_NAME, name]
    AudienceSource.objects.filter(pk=source.pk).update(auth_secret=name)
    source.refresh_from_db()

    with pytest.raises(ValidationError):
        source.full_clean()
    with pytest.raises(SourceError, match="one of the server's own secrets"):
        audience_pull(source=source)
    with pytest.raises(secrets.SecretError):
        secrets.get(name)
    assert server.connections == 0
    assert "workflows.E011" in {m.id for m in check_outbound()}


def test_a_configured_secret_is_sent_and_never_shown(settings, source, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    server.respond = json_answer(
        f"echo {SECRET_VALUE}".encode(), status=200, content_type=f"text/plain; token={SECRET_VALUE}"
    )

    with pytest.raises(SourceError) as caught:
        audience_pull(source=source)

    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET_VALUE}"
    source.refresh_from_db()
    texts = [str(caught.value), source.last_status, *source.history.values_list("last_status", flat=True)]
    texts += list(source.history.values_list("history_change_reason", flat=True))
    texts += list(AudienceImport.objects.values_list("source_name", flat=True))
    assert "did not return JSON" in str(caught.value)
    assert all(SECRET_VALUE not in (text or "") for text in texts)


def test_an_imported_pull_stores_nothing_of_the_secret(settings, source, server):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    record = {"customer_id": "c1", "email": "a@example.com", "consent": "opted_in", "role": "r", "plan": "p"}
    server.respond = json_answer({"recipients": [record]})
    source.records_path = "recipients"
    source.save()

    result = audience_pull(source=source)

    assert result.status == AudienceImport.Status.IMPORTED
    stored = json.dumps([*AudienceImport.objects.values(), *AudienceSource.history.values()], default=str)
    assert SECRET_VALUE not in stored and SECRET_NAME in stored


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254", "[::1]"],
    ids=["loopback", "localhost-name", "10.x", "metadata", "ipv6-loopback"],
)
def test_a_pull_to_a_private_address_is_refused_and_recorded(settings, source, server, host):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    AudienceSource.objects.filter(pk=source.pk).update(url=server.url(host=host))  # as if stored before this gate
    source.refresh_from_db()

    with pytest.raises(SourceError, match=REFUSED) as caught:
        audience_pull(source=source)

    assert server.connections == 0
    source.refresh_from_db()
    assert source.last_status == str(caught.value) and source.last_fetched_at is None


def test_the_admin_form_offers_only_configured_secrets(source):
    form = AudienceSourceForm(instance=source)
    assert [value for value, _ in form.fields["auth_secret"].choices] == ["", SECRET_NAME]

    data = {
        "segment": source.segment_id, "url": "https://cdp.example/recipients.json", "auth_header": "Authorization",
        "auth_secret": "OPENAI_API_KEY", "records_path": "", "field_mapping": "{}", "timeout_seconds": 5,
    }
    assert "auth_secret" in AudienceSourceForm(data=data, instance=source).errors
    assert AudienceSourceForm(data={**data, "auth_secret": SECRET_NAME}, instance=source).is_valid()


def test_a_source_with_an_internal_ip_literal_fails_validation(source):
    source.url = "http://169.254.169.254/latest/meta-data/"

    with pytest.raises(ValidationError) as caught:
        source.full_clean()

    assert set(caught.value.message_dict) == {"url"}


# --- The chat webhook goes through the same client ---------------------------------------


def test_a_webhook_to_a_private_address_is_refused_and_recorded(settings, workspace, model_server, reply, valid_email, server, caplog):
    from approvals import services
    from approvals.models import Notification
    from tests.approvals_support import open_item, routed_run, with_unsupported_claim

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    settings.MARKETINGAI_SLACK_WEBHOOK_URL = server.url("/services/T000/B000/hook-secret-4411")
    item = open_item(routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email)))

    services.item_notify(item_id=item.pk)

    failed = Notification.objects.get(channel="webhook")
    assert failed.status == Notification.Status.FAILED
    assert failed.detail.startswith("The chat webhook " + REFUSED)
    assert "hook-secret-4411" not in failed.detail and "hook-secret-4411" not in caplog.text
    assert server.connections == 0


# --- System checks and the demo's own configuration --------------------------------------


@pytest.mark.parametrize("entry", ["cdp.internal", "http://cdp.internal:80", "cdp.internal:0", "cdp.internal:http", ":8000"])
def test_an_allow_list_entry_that_is_not_host_and_port_is_an_error(settings, entry):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [entry]
    assert {m.id for m in check_outbound()} == {"workflows.E010"}


def test_good_outbound_settings_pass_the_checks(settings):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = ["cdp.internal:8443", "[fd00::5]:443", "127.0.0.1:8000"]
    settings.MARKETINGAI_SECRETS = ["CDP_TOKEN", "SLACK_TOKEN"]
    assert check_outbound() == []


def test_a_webhook_url_to_an_internal_literal_is_a_check_error(settings):
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    settings.MARKETINGAI_SLACK_WEBHOOK_URL = "http://10.0.0.8/hook"
    assert "workflows.E014" in {m.id for m in check_outbound()}


def test_a_source_naming_an_unknown_secret_is_a_check_warning(source, settings):
    assert check_audience_sources(databases=["default"]) == []
    AudienceSource.objects.filter(pk=source.pk).update(auth_secret="OPENAI_API_KEY")

    messages = check_audience_sources(databases=["default"])

    assert {m.id for m in messages} == {"inputs.W001"}
    assert all(m.level == checks.WARNING for m in messages)


def _settings_under(env: dict[str, str]) -> dict:
    code = (
        "import json, marketingai.settings as s; "
        "print(json.dumps({'allowed': s.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS, 'secrets': s.MARKETINGAI_SECRETS}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETINGAI_", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, cwd=Path(__file__).resolve().parent.parent,
        capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)


def test_the_demo_endpoint_is_allowed_by_the_demo_configuration_not_by_debug(tmp_path):
    var = {"MARKETINGAI_VAR_DIR": str(tmp_path), "MARKETINGAI_ADMIN_PORT": "8123"}

    demo_on = _settings_under({**var, "MARKETINGAI_DEMO_CDP": "1", "MARKETINGAI_DEBUG": "0"})
    debug_only = _settings_under({**var, "MARKETINGAI_DEMO_CDP": "0", "MARKETINGAI_DEBUG": "1"})
    operator = _settings_under(
        {**var, "MARKETINGAI_DEMO_CDP": "0", "MARKETINGAI_OUTBOUND_ALLOWED_HOSTS": "cdp.internal:8443",
         "MARKETINGAI_SECRET_NAMES": "CDP_TOKEN, SLACK_TOKEN"}
    )

    assert demo_on == {"allowed": ["127.0.0.1:8123"], "secrets": [DEMO_CDP_TOKEN_ENV]}
    assert debug_only == {"allowed": [], "secrets": []}
    assert operator == {"allowed": ["cdp.internal:8443"], "secrets": ["CDP_TOKEN", "SLACK_TOKEN"]}
