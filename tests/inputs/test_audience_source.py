"""Pulling recipients from an HTTP JSON source, over real HTTP.

The source is a tiny loopback server that answers what the test tells it to and records the
requests it saw. (Pulling from the demo CDP, with its field mapping, is in tests/demo.)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inputs.models import AudienceImport, AudienceSource, Recipient
from inputs.sources import SourceError, audience_pull, source_age_hours
from workflows.models import AudienceSegment

CREDENTIAL_ENV = "TEST_AUDIENCE_SOURCE_CREDENTIAL"
TOKEN = "test-source-token-7f3a9c"
SEGMENT_SLUG = "trial_ending_3_days"


# --- A tiny loopback server ------------------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, document, **kwargs) -> Answer:
        return cls(body=json.dumps(document).encode(), **kwargs)


class TinyServer:
    def __init__(self) -> None:
        self.answer = Answer()
        self.requests: list[dict] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/recipients.json") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def start(self) -> TinyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
                )
                answer = server.answer
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test)

        return Handler


@pytest.fixture(scope="module")
def tiny_server_process():
    server = TinyServer().start()
    yield server
    server.stop()


@pytest.fixture
def tiny_server(tiny_server_process):
    tiny_server_process.answer = Answer()
    tiny_server_process.requests.clear()
    return tiny_server_process


# --- Fixtures ----------------------------------------------------------------------------


def our_records(count: int = 3, *, now=None) -> list[dict]:
    """Records already in our shape: they need no mapping at all."""
    now = now or timezone.now()
    return [
        {
            "customer_id": f"cus_{n:03d}",
            "email": f"person{n}@example.com",
            "role": "engineering manager",
            "plan": "Team trial",
            "consent": "opted_in",
            "usage_summary": "Created 3 dashboards.",
            "usage_as_of": (now - timedelta(hours=2)).isoformat(),
        }
        for n in range(1, count + 1)
    ]


@pytest.fixture
def segment(db):
    return AudienceSegment.objects.create(slug=SEGMENT_SLUG, name="Trial ending in 3 days")


@pytest.fixture
def credential(monkeypatch, settings):
    """The source's credential: an operator-named secret, from the environment only."""
    monkeypatch.setenv(CREDENTIAL_ENV, f"Bearer {TOKEN}")
    settings.MARKETINGAI_SECRETS = [CREDENTIAL_ENV]
    return TOKEN


def allow_loopback(settings, url: str) -> None:
    """The fakes listen on loopback, which the outbound guard refuses unless the operator allows it."""
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [urlsplit(url).netloc]


@pytest.fixture
def tiny_source(tiny_server, segment, credential, settings):
    allow_loopback(settings, tiny_server.url())
    return AudienceSource.objects.create(
        segment=segment,
        url=tiny_server.url(),
        auth_secret=CREDENTIAL_ENV,
        records_path="recipients",
        timeout_seconds=2,
    )


def snapshot(segment) -> list[tuple]:
    return list(
        Recipient.objects.filter(segment=segment)
        .order_by("customer_id")
        .values_list("customer_id", "email", "audience_import_id")
    )


# --- Credentials -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_bare_token_is_sent_as_a_bearer_credential(tiny_source, tiny_server, monkeypatch):
    monkeypatch.setenv(CREDENTIAL_ENV, "bare-token-abc123")
    tiny_server.answer = Answer.json({"recipients": our_records()})

    audience_pull(source=tiny_source)

    (request,) = tiny_server.requests
    assert request["headers"]["authorization"] == "Bearer bare-token-abc123"
    assert request["headers"]["accept"] == "application/json"


@pytest.mark.django_db
def test_a_custom_auth_header_carries_the_value_as_is(tiny_source, tiny_server, monkeypatch):
    monkeypatch.setenv(CREDENTIAL_ENV, "key-abc123")
    tiny_source.auth_header = "X-Api-Key"
    tiny_source.save()
    tiny_server.answer = Answer.json({"recipients": our_records()})

    audience_pull(source=tiny_source)

    headers = tiny_server.requests[0]["headers"]
    assert headers["x-api-key"] == "key-abc123" and "authorization" not in headers


@pytest.mark.django_db
def test_a_missing_secret_fails_before_any_request(tiny_source, tiny_server, monkeypatch):
    monkeypatch.delenv(CREDENTIAL_ENV)

    with pytest.raises(SourceError) as caught:
        audience_pull(source=tiny_source)

    assert (
        str(caught.value) == f"The secret {CREDENTIAL_ENV} is not set in the server's environment."
    )
    assert tiny_server.requests == []
    tiny_source.refresh_from_db()
    assert tiny_source.last_status == str(caught.value)
    assert tiny_source.last_fetched_at is None


@pytest.mark.django_db
def test_no_secret_means_no_credential(tiny_source, tiny_server):
    tiny_source.auth_secret = ""
    tiny_source.save()
    tiny_server.answer = Answer.json({"recipients": our_records()})

    audience_pull(source=tiny_source)

    assert "authorization" not in tiny_server.requests[0]["headers"]


@pytest.mark.django_db
def test_a_query_string_stays_out_of_messages_and_records(tiny_source, tiny_server):
    tiny_source.url = tiny_server.url("/recipients.json?api_key=query-secret-999")
    tiny_source.save()
    tiny_server.answer = Answer(status=500, body=b"query-secret-999")

    with pytest.raises(SourceError) as caught:
        audience_pull(source=tiny_source)

    tiny_source.refresh_from_db()
    assert tiny_server.requests[0]["path"] == "/recipients.json?api_key=query-secret-999"
    assert "HTTP 500" in str(caught.value)
    for text in (str(caught.value), tiny_source.last_status):
        assert "query-secret-999" not in text


@pytest.mark.django_db
def test_a_url_with_a_password_is_refused_before_any_request(tiny_source, tiny_server):
    tiny_source.url = tiny_server.url().replace("://", "://user:url-secret-888@")
    tiny_source.save()

    with pytest.raises(SourceError, match="named secret instead") as caught:
        audience_pull(source=tiny_source)

    assert tiny_server.requests == []
    tiny_source.refresh_from_db()
    for text in (str(caught.value), tiny_source.last_status):
        assert "url-secret-888" not in text and "user:" not in text


@pytest.mark.django_db
def test_a_redirect_is_not_followed_with_the_credential(tiny_source, tiny_server):
    tiny_server.answer = Answer(
        status=302, body=b"", headers={"Location": "http://127.0.0.1:9/elsewhere"}
    )

    with pytest.raises(SourceError, match="redirect") as caught:
        audience_pull(source=tiny_source)

    assert len(tiny_server.requests) == 1
    assert TOKEN not in str(caught.value)


# --- Failures leave the segment as it was ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer(status=500, body=b'{"error": "boom"}'), "HTTP 500"),
        (
            Answer(status=200, body=b"<html>maintenance</html>", content_type="text/html"),
            "did not return JSON",
        ),
        (Answer(status=200, body=b"\xff\xfe not utf-8"), "did not return JSON"),
        (Answer.json({"recipients": []}, delay=3.0), "did not answer within 2 seconds"),
    ],
    ids=["server-error", "html", "binary", "slow"],
)
def test_a_failed_fetch_leaves_existing_recipients_untouched(
    tiny_source, tiny_server, segment, answer, expected
):
    fetched = timezone.now() - timedelta(hours=5)
    tiny_server.answer = Answer.json({"recipients": our_records(3, now=fetched)})
    assert audience_pull(source=tiny_source, now=fetched).status == AudienceImport.Status.IMPORTED
    before = snapshot(segment)
    assert len(before) == 3

    tiny_server.answer = answer
    with pytest.raises(SourceError) as caught:
        audience_pull(source=tiny_source)

    message = str(caught.value)
    assert expected in message
    assert tiny_server.url() in message
    assert TOKEN not in message
    assert snapshot(segment) == before
    tiny_source.refresh_from_db()
    assert tiny_source.last_status == message
    assert tiny_source.last_fetched_at == fetched  # the data in use is still the earlier pull's
    assert source_age_hours(tiny_source) == pytest.approx(5.0, abs=0.01)


@pytest.mark.django_db
def test_a_wrong_records_path_is_a_clear_error(tiny_source, tiny_server, segment):
    tiny_source.records_path = "data.recipients"
    tiny_source.save()
    tiny_server.answer = Answer.json({"data": {"members": our_records()}})

    with pytest.raises(SourceError, match=r"^The response has no list at 'data\.recipients'\.$"):
        audience_pull(source=tiny_source)

    assert not Recipient.objects.filter(segment=segment).exists()


@pytest.mark.django_db
def test_invalid_records_are_rejected_with_row_errors(tiny_source, tiny_server, segment):
    records = our_records(3)
    records[1]["email"] = "not-an-email"
    tiny_server.answer = Answer.json({"recipients": records})

    result = audience_pull(source=tiny_source)

    assert result.status == AudienceImport.Status.REJECTED
    assert result.errors
    assert not Recipient.objects.filter(segment=segment).exists()
    tiny_source.refresh_from_db()
    count = len(result.errors)
    assert tiny_source.last_status == f"rejected: {count} error{'' if count == 1 else 's'}"
    assert tiny_source.last_fetched_at is None


# --- The pull_audience command -----------------------------------------------------------


@pytest.mark.django_db
def test_pull_audience_command_imports_the_segment(
    tiny_source, tiny_server, segment, django_user_model
):
    user = django_user_model.objects.create_user(username="marketer")
    tiny_server.answer = Answer.json({"recipients": our_records(4)})
    out = StringIO()

    call_command("pull_audience", SEGMENT_SLUG, "--user", "marketer", stdout=out)

    assert out.getvalue().startswith(
        f"Pulled 4 recipients into {SEGMENT_SLUG} from {tiny_source.url} (fetched at "
    )
    assert Recipient.objects.filter(segment=segment).count() == 4
    assert AudienceImport.objects.get(segment=segment).imported_by == user


@pytest.mark.django_db
def test_pull_audience_command_needs_a_source(segment):
    with pytest.raises(
        CommandError, match=f"^Segment {SEGMENT_SLUG} has no HTTP source: add one in the admin.$"
    ):
        call_command("pull_audience", SEGMENT_SLUG)


@pytest.mark.django_db
def test_pull_audience_command_reports_a_source_error(tiny_source, tiny_server, service_account):
    tiny_server.answer = Answer(status=503)

    with pytest.raises(CommandError, match="HTTP 503"):
        call_command("pull_audience", SEGMENT_SLUG)


@pytest.mark.django_db
def test_pull_audience_command_prints_the_row_errors_of_a_rejected_pull(
    tiny_source, tiny_server, service_account
):
    records = our_records(2)
    records[0]["email"] = "not-an-email"
    tiny_server.answer = Answer.json({"recipients": records})
    err = StringIO()

    with pytest.raises(CommandError, match="rejected"):
        call_command("pull_audience", SEGMENT_SLUG, stderr=err)

    assert err.getvalue().strip()


@pytest.mark.django_db
def test_admin_pull_button_imports_and_reports(admin_client, tiny_source, tiny_server):
    from django.urls import reverse

    tiny_server.answer = Answer.json({"recipients": our_records(4)})
    url = reverse("admin:workflows_audiencesegment_pull", args=[tiny_source.segment_id])
    assert admin_client.get(url).status_code == 403  # a pull changes data: POST only

    response = admin_client.post(url, follow=True)

    assert "imported 4 recipients" in response.content.decode()
    assert Recipient.objects.current(tiny_source.segment_id).count() == 4


@pytest.mark.django_db
def test_admin_pull_needs_the_permission_to_add_recipients(
    client, tiny_source, tiny_server, django_user_model
):
    from django.urls import reverse

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(viewer)

    response = client.post(
        reverse("admin:workflows_audiencesegment_pull", args=[tiny_source.segment_id])
    )

    assert response.status_code == 403
    assert not Recipient.objects.exists()
