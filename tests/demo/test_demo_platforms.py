"""The demo platforms on their own: what each accepts, what it refuses as its real provider
would, and that nothing it refuses is stored. Requests go through Django's test client; the
story through the real adapters is in test_demo_outbox.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, timedelta

import pytest
from django.urls import Resolver404, resolve
from django.utils import timezone

from demo.models import OutboxBatch, OutboxMessage
from demo.platforms.common import PLATFORM_TOKEN_ENV

pytestmark = pytest.mark.django_db

TOKEN = "test-platform-token-5b2e"
EMAIL = "/demo-platforms/email/v3"
CHAT = "/demo-platforms/chat/api"
POSTS = "/demo-platforms/cms/wp-json/wp/v2/posts"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def basic(user: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


CMS_AUTH = basic("demo", TOKEN)


@pytest.fixture(autouse=True)
def platforms(demo_platforms_on, monkeypatch):
    monkeypatch.setenv(PLATFORM_TOKEN_ENV, TOKEN)


def post(client, url, document, headers=BEARER, raw: bytes | None = None):
    return client.post(
        url,
        raw if raw is not None else json.dumps(document),
        content_type="application/json",
        headers=headers,
    )


def mail(*addresses, send_at=None, batch_id=None, subject="Your trial ends Friday", **extra):
    document = {
        "personalizations": [
            {
                "to": [{"email": address}],
                "subject": subject,
                "custom_args": {"marketingai_recipient": f"cust_{n}", "marketingai_variant": "v1"},
            }
            for n, address in enumerate(addresses)
        ],
        "from": {"email": "hello@kestrel.example"},
        "subject": subject,
        "content": [{"type": "text/plain", "value": "Hi there,\n\nPick a plan."}],
        "custom_args": {"marketingai_key": "mai_" + "a" * 40},
        **extra,
    }
    if batch_id:
        document["batch_id"] = batch_id
        document["send_at"] = int(send_at.timestamp())
    return document


def new_batch(client) -> str:
    response = post(client, f"{EMAIL}/mail/batch", {})
    assert response.status_code == 201
    return response.json()["batch_id"]


# --- Routing ----------------------------------------------------------------------------------


def test_the_platforms_are_not_routed_while_they_are_off(settings):
    settings.MARKETINGAI_DEMO_PLATFORMS = False
    from tests.conftest import _reload_urlconf

    _reload_urlconf()
    with pytest.raises(Resolver404):
        resolve(f"{EMAIL}/mail/send")


def test_a_routed_platform_answers_404_once_switched_off(client, settings):
    settings.MARKETINGAI_DEMO_PLATFORMS = False
    assert post(client, f"{EMAIL}/mail/send", mail("ana@example.com")).status_code == 404
    assert not OutboxMessage.objects.exists()


# --- Email (SendGrid v3) ------------------------------------------------------------------------


def test_a_mail_send_stores_one_message_per_address_with_its_subject_variant_and_key(client):
    response = post(client, f"{EMAIL}/mail/send", mail("ana@example.com", "ben@example.com"))

    assert response.status_code == 202 and response.content == b""
    message_id = response["X-Message-Id"]
    rows = list(OutboxMessage.objects.order_by("to"))
    assert [(r.to, r.customer_id, r.variant_key) for r in rows] == [
        ("ana@example.com", "cust_0", "v1"),
        ("ben@example.com", "cust_1", "v1"),
    ]
    for row in rows:
        assert row.platform == "email" and row.status == "delivered"
        assert row.subject == "Your trial ends Friday" and row.body.startswith("Hi there")
        assert row.external_id == message_id and row.idempotency_key == "mai_" + "a" * 40
        assert row.details == {"from": "hello@kestrel.example"}


def test_a_scheduled_send_is_scheduled_and_shows_delivered_once_its_time_passed(client):
    send_at = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    batch_id = new_batch(client)

    post(client, f"{EMAIL}/mail/send", mail("ana@example.com", send_at=send_at, batch_id=batch_id))

    row = OutboxMessage.objects.get()
    assert (row.status, row.batch_id, row.scheduled_for) == ("scheduled", batch_id, send_at)
    assert row.shown_status == "scheduled"
    row.scheduled_for = timezone.now() - timedelta(minutes=1)
    row.save()
    assert row.shown_status == "delivered"
    assert OutboxMessage.objects.with_status_now().get().status_now == "delivered"


def test_cancelling_a_batch_cancels_its_scheduled_mail_once(client):
    send_at = timezone.now() + timedelta(hours=3)
    batch_id = new_batch(client)
    other = new_batch(client)
    post(
        client,
        f"{EMAIL}/mail/send",
        mail("ana@example.com", "ben@example.com", send_at=send_at, batch_id=batch_id),
    )
    post(client, f"{EMAIL}/mail/send", mail("cy@example.com", send_at=send_at, batch_id=other))

    response = post(
        client, f"{EMAIL}/user/scheduled_sends", {"batch_id": batch_id, "status": "cancel"}
    )

    assert response.status_code == 201
    assert response.json() == {"batch_id": batch_id, "status": "cancel"}
    statuses = dict(OutboxMessage.objects.values_list("to", "status"))
    assert statuses == {
        "ana@example.com": "cancelled",
        "ben@example.com": "cancelled",
        "cy@example.com": "scheduled",
    }
    again = post(
        client, f"{EMAIL}/user/scheduled_sends", {"batch_id": batch_id, "status": "cancel"}
    )
    assert again.status_code == 400 and "already cancelled" in again.json()["errors"][0]["message"]
    # Mail sent later with the cancelled batch is discarded at its send time too.
    post(client, f"{EMAIL}/mail/send", mail("di@example.com", send_at=send_at, batch_id=batch_id))
    assert OutboxMessage.objects.get(to="di@example.com").status == "cancelled"


def test_a_batch_is_not_cancelled_within_ten_minutes_of_its_send(client):
    batch_id = new_batch(client)
    soon = timezone.now() + timedelta(minutes=5)
    post(client, f"{EMAIL}/mail/send", mail("ana@example.com", send_at=soon, batch_id=batch_id))

    response = post(
        client, f"{EMAIL}/user/scheduled_sends", {"batch_id": batch_id, "status": "cancel"}
    )

    assert response.status_code == 400
    assert "10 minutes" in response.json()["errors"][0]["message"]
    assert OutboxMessage.objects.get().status == "scheduled"
    assert OutboxBatch.objects.get(batch_id=batch_id).cancelled_at is None


@pytest.mark.parametrize(
    "change, field",
    [
        (
            lambda d: d.update(
                subject="", personalizations=[{**d["personalizations"][0], "subject": ""}]
            ),
            "subject",
        ),
        (lambda d: d.update(content=[{"type": "text/plain", "value": ""}]), "content.0.value"),
        (lambda d: d.update(content=[]), "content"),
        (lambda d: d.pop("from"), "from"),
        (lambda d: d.update({"from": {"email": "not an address"}}), "from.email"),
        (
            lambda d: d["personalizations"][0].update(to=[{"email": "nobody"}]),
            "personalizations.0.to.0.email",
        ),
        (lambda d: d["personalizations"][0].update(to=[]), "personalizations.0.to"),
        (lambda d: d.update(personalizations=[]), "personalizations"),
        (
            lambda d: d.update(
                personalizations=[{"to": [{"email": f"p{n}@example.com"}]} for n in range(1001)]
            ),
            "personalizations",
        ),
        (
            lambda d: d["personalizations"][0].update(cc=[{"email": "ANA@example.com"}]),
            "personalizations.0",
        ),
        (
            lambda d: d.update(
                batch_id="no-such-batch", send_at=int(timezone.now().timestamp()) + 3600
            ),
            "batch_id",
        ),
        (
            lambda d: d.update(send_at=int((timezone.now() + timedelta(hours=73)).timestamp())),
            "send_at",
        ),
        (lambda d: d.update(send_at="tomorrow"), "send_at"),
        (lambda d: d.update(custom_args={"marketingai_key": 5}), "custom_args"),
        (lambda d: d.update(custom_args={"big": "x" * 10_001}), "personalizations.0.custom_args"),
    ],
)
def test_the_email_platform_refuses_what_sendgrid_refuses_and_stores_nothing(client, change, field):
    document = mail("ana@example.com")
    change(document)

    response = post(client, f"{EMAIL}/mail/send", document)

    assert response.status_code == 400
    assert field in {error["field"] for error in response.json()["errors"]}, response.json()
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize("path", ["/mail/send", "/mail/batch", "/user/scheduled_sends"])
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"}]
)
def test_the_email_platform_refuses_a_missing_or_wrong_token(client, path, headers):
    response = post(client, f"{EMAIL}{path}", mail("ana@example.com"), headers=headers)

    assert response.status_code == 401
    assert response.json()["errors"][0]["message"]
    assert not OutboxMessage.objects.exists() and not OutboxBatch.objects.exists()


def test_the_default_token_works_when_none_is_configured(client, monkeypatch):
    monkeypatch.delenv(PLATFORM_TOKEN_ENV)

    response = post(
        client,
        f"{EMAIL}/mail/send",
        mail("ana@example.com"),
        headers={"Authorization": "Bearer demo-platform-token"},
    )

    assert response.status_code == 202


def test_a_cancel_of_an_unknown_batch_or_another_status_is_refused(client):
    batch_id = new_batch(client)
    for document in (
        {"batch_id": "nope", "status": "cancel"},
        {"batch_id": batch_id, "status": "pause"},
        {"status": "cancel"},
    ):
        response = post(client, f"{EMAIL}/user/scheduled_sends", document)
        assert response.status_code == 400, document
        assert response.json()["errors"]


# --- Chat (Slack Web API) -----------------------------------------------------------------------

SLACK_MESSAGE = {
    "channel": "C0TRIALCAMP",
    "text": "Your trial ends Friday",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Your trial ends Friday"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Hi there,\n\nPick a plan."}},
    ],
}


def test_a_chat_message_is_posted_and_deleted_as_slack_answers(client):
    response = post(client, f"{CHAT}/chat.postMessage", SLACK_MESSAGE)

    answer = response.json()
    assert response.status_code == 200 and answer["ok"] is True
    assert answer["channel"] == "C0TRIALCAMP" and answer["ts"]
    row = OutboxMessage.objects.get()
    assert (row.platform, row.to, row.subject, row.body, row.status, row.external_id) == (
        "chat",
        "C0TRIALCAMP",
        "Your trial ends Friday",
        "Hi there,\n\nPick a plan.",
        "delivered",
        answer["ts"],
    )

    deleted = post(client, f"{CHAT}/chat.delete", {"channel": "C0TRIALCAMP", "ts": answer["ts"]})

    assert deleted.json() == {"ok": True, "channel": "C0TRIALCAMP", "ts": answer["ts"]}
    assert OutboxMessage.objects.get().status == "deleted"
    again = post(client, f"{CHAT}/chat.delete", {"channel": "C0TRIALCAMP", "ts": answer["ts"]})
    assert again.json() == {"ok": False, "error": "message_not_found"}


@pytest.mark.parametrize(
    "document, headers, error",
    [
        (SLACK_MESSAGE, {}, "not_authed"),
        (SLACK_MESSAGE, {"Authorization": "Bearer xoxb-wrong"}, "invalid_auth"),
        ({**SLACK_MESSAGE, "channel": ""}, BEARER, "channel_not_found"),
        ({"channel": "C0TRIALCAMP"}, BEARER, "no_text"),
        ({**SLACK_MESSAGE, "blocks": SLACK_MESSAGE["blocks"] * 26}, BEARER, "invalid_blocks"),
        (
            {
                **SLACK_MESSAGE,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            },
            BEARER,
            "invalid_blocks",
        ),
        ({**SLACK_MESSAGE, "blocks": "not a list"}, BEARER, "invalid_blocks"),
        ({**SLACK_MESSAGE, "text": "x" * 40_001, "blocks": []}, BEARER, "msg_too_long"),
    ],
)
def test_the_chat_refuses_what_slack_refuses_and_stores_nothing(client, document, headers, error):
    response = post(client, f"{CHAT}/chat.postMessage", document, headers=headers)

    assert response.status_code == 200
    assert response.json() == {"ok": False, "error": error}
    assert not OutboxMessage.objects.exists()


def test_a_chat_delete_with_a_wrong_token_deletes_nothing(client):
    ts = post(client, f"{CHAT}/chat.postMessage", SLACK_MESSAGE).json()["ts"]

    response = post(
        client,
        f"{CHAT}/chat.delete",
        {"channel": "C0TRIALCAMP", "ts": ts},
        headers={"Authorization": "Bearer nope"},
    )

    assert response.json() == {"ok": False, "error": "invalid_auth"}
    assert OutboxMessage.objects.get().status == "delivered"


# --- CMS (WordPress REST posts) -----------------------------------------------------------------


def create_post(client, **values):
    document = {
        "title": "Your trial ends Friday",
        "content": "Pick a plan.",
        "excerpt": "Trial",
        **values,
    }
    return post(client, POSTS, document, headers=CMS_AUTH)


def test_a_post_is_created_found_by_slug_and_updated_as_wordpress_does(client):
    response = create_post(client, status="draft", slug="trial-mai_" + "b" * 40)

    assert response.status_code == 201
    created = response.json()
    assert created["status"] == "draft" and created["slug"] == "trial-mai_" + "b" * 40
    assert created["link"] == f"http://testserver/demo-platforms/cms/?p={created['id']}"
    assert created["title"]["raw"] == "Your trial ends Friday"
    row = OutboxMessage.objects.get()
    assert (row.platform, row.to, row.status, row.external_id, row.idempotency_key) == (
        "cms",
        "http://testserver/demo-platforms/cms",
        "draft",
        str(created["id"]),
        "mai_" + "b" * 40,
    )

    found = client.get(POSTS, {"slug": created["slug"], "status": "any"}, headers=CMS_AUTH)
    assert [p["id"] for p in found.json()] == [created["id"]]
    assert client.get(POSTS, {"slug": "other", "status": "any"}, headers=CMS_AUTH).json() == []

    published = post(client, f"{POSTS}/{created['id']}", {"status": "publish"}, headers=CMS_AUTH)
    assert published.status_code == 200 and published.json()["status"] == "publish"
    assert OutboxMessage.objects.get().status == "published"
    page = client.get("/demo-platforms/cms/", {"p": created["id"]})
    assert page.status_code == 200 and b"Your trial ends Friday" in page.content

    back = post(client, f"{POSTS}/{created['id']}", {"status": "draft"}, headers=CMS_AUTH)
    assert back.json()["status"] == "draft" and OutboxMessage.objects.get().status == "draft"
    assert client.get("/demo-platforms/cms/", {"p": created["id"]}).status_code == 404


def test_a_future_post_is_scheduled_and_a_past_one_published(client):
    later = (timezone.now() + timedelta(days=1)).astimezone(UTC).replace(microsecond=0)
    future = create_post(client, status="future", date_gmt=later.replace(tzinfo=None).isoformat())
    past = create_post(client, status="future", date_gmt="2020-01-01T09:00:00")
    publish_later = create_post(
        client, status="publish", date_gmt=later.replace(tzinfo=None).isoformat()
    )

    assert (
        future.json()["status"] == "future"
        and future.json()["date_gmt"] == later.replace(tzinfo=None).isoformat()
    )
    assert past.json()["status"] == "publish"
    assert publish_later.json()["status"] == "future"
    assert OutboxMessage.objects.get(pk=future.json()["id"]).scheduled_for == later


def test_published_slugs_are_made_unique(client):
    first = create_post(client, status="publish", slug="trial-ends")
    second = create_post(client, status="publish", slug="trial-ends")
    draft = create_post(client, status="draft", slug="trial-ends")

    assert [first.json()["slug"], second.json()["slug"], draft.json()["slug"]] == [
        "trial-ends",
        "trial-ends-2",
        "trial-ends",
    ]


def test_trash_and_force_delete(client):
    created = create_post(client, status="publish").json()
    url = f"{POSTS}/{created['id']}"

    trashed = client.delete(url, headers=CMS_AUTH)
    assert trashed.status_code == 200 and trashed.json()["status"] == "trash"
    assert client.delete(url, headers=CMS_AUTH).status_code == 410
    gone = client.delete(f"{url}?force=true", headers=CMS_AUTH)
    assert gone.json()["deleted"] is True
    assert client.get(url, headers=CMS_AUTH).status_code == 404
    assert OutboxMessage.objects.get().status == "deleted"  # the Outbox keeps what was received


@pytest.mark.parametrize(
    "headers, status, code",
    [
        ({}, 401, "rest_cannot_create"),
        (basic("demo", "wrong"), 401, "incorrect_password"),
        (basic("admin", TOKEN), 401, "invalid_username"),
    ],
)
def test_the_cms_refuses_a_missing_or_wrong_application_password(client, headers, status, code):
    response = post(client, POSTS, {"title": "x", "status": "draft"}, headers=headers)

    assert response.status_code == status and response.json()["code"] == code
    assert response.json()["data"]["status"] == status
    assert not OutboxMessage.objects.exists()


def test_the_cms_shows_only_published_posts_to_anonymous_readers(client):
    draft = create_post(client, status="draft").json()
    published = create_post(client, status="publish").json()

    assert [p["id"] for p in client.get(POSTS).json()] == [published["id"]]
    forbidden = client.get(POSTS, {"status": "any"})
    assert forbidden.status_code == 400 and forbidden.json()["code"] == "rest_invalid_param"
    assert client.get(f"{POSTS}/{draft['id']}").status_code == 401
    wrong = client.get(POSTS, {"status": "any"}, headers=basic("demo", "wrong"))
    assert wrong.status_code == 401
    updated = post(client, f"{POSTS}/{draft['id']}", {"status": "publish"}, headers={})
    assert (
        updated.status_code == 401 and OutboxMessage.objects.get(pk=draft["id"]).status == "draft"
    )


@pytest.mark.parametrize(
    "document, param",
    [
        ({"title": "x", "status": "pending"}, "status"),
        ({"title": ["x"]}, "title"),
        ({"title": "x", "date_gmt": "someday"}, "date_gmt"),
        ({"title": "x", "date_gmt": "2026-13-45T00:00:00"}, "date_gmt"),
        ({"title": "x", "slug": 5}, "slug"),
    ],
)
def test_the_cms_refuses_invalid_parameters_and_stores_nothing(client, document, param):
    response = post(client, POSTS, document, headers=CMS_AUTH)

    assert response.status_code == 400
    assert (
        response.json()["code"] == "rest_invalid_param"
        and param in response.json()["data"]["params"]
    )
    assert not OutboxMessage.objects.exists()


def test_an_unknown_post_is_404(client):
    for post_id in (999, 2**70):
        response = post(client, f"{POSTS}/{post_id}", {"status": "draft"}, headers=CMS_AUTH)
        assert response.status_code == 404 and response.json()["code"] == "rest_post_invalid_id"
    assert client.get("/demo-platforms/cms/", {"p": "9" * 30}).status_code == 404


def test_the_site_page_escapes_what_was_posted(client):
    created = create_post(
        client, status="publish", title="<script>alert(1)</script>", content="<b>hi</b>"
    ).json()

    page = client.get("/demo-platforms/cms/", {"p": created["id"]}).content.decode()

    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;hi" in page


# --- Bodies that are not what the platform expects: 400, never 500 --------------------------------

ENDPOINTS = [
    (f"{EMAIL}/mail/send", BEARER),
    (f"{EMAIL}/user/scheduled_sends", BEARER),
    (f"{CHAT}/chat.postMessage", BEARER),
    (f"{CHAT}/chat.delete", BEARER),
    (POSTS, CMS_AUTH),
]


@pytest.mark.parametrize("url, headers", ENDPOINTS)
def test_a_body_that_is_not_json_is_400(client, url, headers):
    for raw in (b"{not json", b"\xff\xfe", b"[" * 100_000, b""):
        response = post(client, url, None, headers=headers, raw=raw)

        assert response.status_code == 400, raw[:10]
    assert not OutboxMessage.objects.exists()


ODD_BODIES = [
    [],
    "text",
    5,
    None,
    {"personalizations": "x"},
    {"personalizations": [1, None, "x"]},
    {"personalizations": [{"to": "ana@example.com"}]},
    {"personalizations": [{"to": [{"email": 5}], "custom_args": []}]},
    {"personalizations": [{"to": [None]}], "from": "x", "content": "x", "subject": 5},
    {
        "personalizations": [{"to": [{"email": "a@example.com"}]}],
        "from": {"email": ["x"]},
        "content": [None, 3],
    },
    {"send_at": 10**30, "batch_id": ["x"]},
    {"send_at": True},
    {"batch_id": {"a": 1}, "status": "cancel"},
    {"channel": ["C1"], "text": 5, "blocks": [None, {"type": 1}, {"type": "header", "text": "x"}]},
    {"channel": "C1", "ts": 1.5},
    {"title": {"raw": 5}, "content": None, "date": 5, "status": ["publish"]},
    {"title": "x", "date_gmt": "9999-12-31T23:59:59-14:00", "status": "future"},
    {"title": "x", "date_gmt": "0001-01-01T00:00:00+05:00", "status": "future"},
]


@pytest.mark.parametrize("url, headers", ENDPOINTS)
def test_odd_json_bodies_are_answered_never_a_server_error(client, url, headers):
    for document in ODD_BODIES:
        response = post(client, url, document, headers=headers)

        assert response.status_code < 500, (document, response.content)
