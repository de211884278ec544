"""/healthz: database, task broker and model endpoint, each ok or failing, over real connections."""

from __future__ import annotations

import socket
import threading

import pytest
from django.db import connections
from django_q.conf import Conf

from tests.support.outbound import CountingServer, json_answer

API_KEY = "sk-health-check-key-7c41"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def healthy_endpoint(model_server, settings):
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "API_KEY": API_KEY}
    return model_server


@pytest.fixture
def endpoint_at(settings):
    def point_at(base_url: str) -> None:
        settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "BASE_URL": base_url}

    return point_at


@pytest.fixture
def redis_broker_at(monkeypatch):
    """django-q2 on its Redis broker at this URL (its Conf is read once, at import)."""

    def point_at(url: str) -> None:
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
        monkeypatch.setattr(Conf, "REDIS", url)

    return point_at


def healthz(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    return response.status_code, response.json()


@pytest.mark.django_db
def test_all_checks_ok_answers_200_with_each_checks_latency(client, healthy_endpoint):
    status, report = healthz(client)

    assert status == 200, report
    assert report["status"] == "ok"
    assert set(report["checks"]) == {"database", "broker", "model_endpoint"}
    for name, check in report["checks"].items():
        assert check["status"] == "ok", name
        assert isinstance(check["latency_ms"], float | int) and check["latency_ms"] >= 0


@pytest.mark.django_db
def test_no_login_is_needed_and_head_is_answered(client, healthy_endpoint):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_a_database_that_cannot_be_opened_degrades_to_503(client, healthy_endpoint, tmp_path):
    # The check opens its own connection (in its own thread) from these settings.
    database = connections.settings["default"]
    if database["ENGINE"].endswith("sqlite3"):
        missing = str(tmp_path / "no-such-directory" / "marketingai.sqlite3")
    else:
        missing = "marketingai_no_such_database"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(database, "NAME", missing)
        status, report = healthz(client)

    assert status == 503
    assert report["status"] == "degraded"
    assert report["checks"]["database"] == {
        "status": "error",
        "error": "could not query the database",
        "latency_ms": report["checks"]["database"]["latency_ms"],
    }
    assert report["checks"]["model_endpoint"]["status"] == "ok"
    assert missing not in str(report)


@pytest.mark.django_db
def test_the_broker_check_pings_the_configured_broker(client, healthy_endpoint):
    status, report = healthz(client)

    assert report["checks"]["broker"]["status"] == "ok"


@pytest.mark.django_db
def test_a_redis_broker_on_a_closed_port_degrades_to_503(client, healthy_endpoint, redis_broker_at):
    port = closed_port()
    redis_broker_at(f"redis://:broker-pass-3f1e@127.0.0.1:{port}/0")

    status, report = healthz(client)

    assert status == 503 and report["status"] == "degraded"
    assert report["checks"]["broker"]["status"] == "error"
    assert report["checks"]["broker"]["error"] == "could not reach the task broker"
    assert report["checks"]["database"]["status"] == "ok"
    assert str(port) not in str(report) and "broker-pass" not in str(report)


@pytest.mark.django_db
def test_the_model_endpoint_is_asked_for_its_models_with_its_key(
    client, healthy_endpoint, settings
):
    server = CountingServer()
    server.respond = json_answer({"object": "list", "data": [{"id": "scripted-model"}]})
    try:
        settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "BASE_URL": server.url("/v1")}
        status, report = healthz(client)
    finally:
        server.close()

    assert status == 200, report
    [request] = server.requests
    assert request["path"] == "/v1/models"
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.django_db
def test_a_model_endpoint_on_a_closed_port_degrades_to_503(client, healthy_endpoint, endpoint_at):
    port = closed_port()
    endpoint_at(f"http://127.0.0.1:{port}/v1")

    status, report = healthz(client)

    assert status == 503 and report["status"] == "degraded"
    assert report["checks"]["model_endpoint"]["error"] == "could not connect to the model endpoint"
    assert report["checks"]["database"]["status"] == report["checks"]["broker"]["status"] == "ok"
    assert str(port) not in str(report)


@pytest.mark.django_db
def test_a_model_endpoint_refusing_the_key_degrades_to_503_without_showing_it(
    client, healthy_endpoint, settings
):
    server = CountingServer()
    server.respond = json_answer({"error": {"message": f"bad key {API_KEY}"}}, status=401)
    try:
        settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "BASE_URL": server.url("/v1")}
        status, report = healthz(client)
    finally:
        server.close()

    assert status == 503
    assert report["checks"]["model_endpoint"]["error"] == "the model endpoint answered HTTP 401"
    assert API_KEY not in str(report)


@pytest.mark.django_db
def test_a_silent_model_endpoint_fails_within_the_health_timeout(
    client, healthy_endpoint, settings
):
    settings.MARKETINGAI_HEALTH_TIMEOUT = 0.3
    healthy_endpoint.models_delay = 2.0

    status, report = healthz(client)

    assert status == 503
    assert report["checks"]["model_endpoint"]["error"] == (
        "the model endpoint gave no answer within 0.3 s"
    )


@pytest.mark.django_db
def test_the_bundled_model_busy_generating_counts_as_up(client, healthy_endpoint, settings):
    # The bundled single-slot server lists its models only after its current generation.
    settings.LOCAL_MODEL_PORT = int(healthy_endpoint.base_url.rsplit(":", 1)[1].split("/")[0])
    settings.MARKETINGAI_HEALTH_TIMEOUT = 0.3
    healthy_endpoint.models_delay = 2.0

    status, report = healthz(client)

    assert status == 200, report
    assert report["checks"]["model_endpoint"]["status"] == "ok"
    assert report["checks"]["model_endpoint"]["note"] == "busy generating"


@pytest.mark.django_db
def test_the_model_endpoint_check_passes_the_outbound_guard_only_for_that_endpoint(
    client, healthy_endpoint, settings
):
    from workflows import outbound

    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = []
    status, _ = healthz(client)
    assert status == 200  # the endpoint on loopback is the operator's own

    with pytest.raises(outbound.OutboundRefused):  # and nothing else is let through
        outbound.get_json(f"{healthy_endpoint.base_url}/models")


@pytest.mark.django_db
def test_healthz_is_exempt_from_the_https_redirect(client, healthy_endpoint, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200  # a load balancer's plain-http probe
    assert client.get("/admin/login/").status_code == 301


@pytest.mark.django_db
def test_a_redis_broker_that_never_answers_fails_within_the_health_timeout(
    client, healthy_endpoint, redis_broker_at, settings
):
    settings.MARKETINGAI_HEALTH_TIMEOUT = 0.3
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        redis_broker_at(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")

        status, report = healthz(client)

    assert status == 503
    assert report["checks"]["broker"]["error"] == "could not reach the task broker"


def test_a_check_that_hangs_is_reported_once_the_deadline_passes(monkeypatch):
    from marketingai import health

    release = threading.Event()
    checks = {"database": lambda timeout: release.wait(30) and "", "broker": lambda timeout: ""}
    monkeypatch.setattr(health, "CHECKS", checks)
    try:
        report = health.health_report(timeout=0.1)
    finally:
        release.set()

    assert report["status"] == "degraded"
    assert report["checks"]["database"]["status"] == "error"
    assert report["checks"]["database"]["error"] == "no answer within 0.1 s"
    assert report["checks"]["broker"]["status"] == "ok"
