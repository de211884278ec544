"""WordPress REST posts, end to end through the real services against the loopback fake:
the request WordPress documents, its three statuses, refused credentials, no second post after a
retry, an unanswered request or a stopped worker (the post is found by its slug), and rollback."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from publishing import content, services
from publishing.models import Destination, PublishAttempt
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fake_wordpress import (  # noqa: F401 - fixtures
    CREATE,
    LOOKUP,
    WP_APP_PASSWORD,
    WP_SECRET,
    wordpress,
    wordpress_process,
)

pytestmark = pytest.mark.django_db


def blog(ws, wordpress, **values) -> Destination:
    return destination_for(
        ws,
        wordpress,
        "wordpress",
        **{
            "name": "Company blog",
            "secret_name": "WORDPRESS_APP_PASSWORD",
            "api_base_url": wordpress.url(),
            "requires_publish_gate": True,
            **values,
        },
    )


def publish(run, ws):
    """Approved, then Publish pressed by a manager, then the delivery task."""
    run = approve(run, ws)
    services.run_publish(run=run, user=ws["users"]["manager"], reason="Launch", enqueue=False)
    services.run_deliver(run_id=run.pk)
    return run


def unpublish(run, ws):
    (result,) = services.run_unpublish(run=run, user=ws["users"]["manager"], reason="Wrong offer")
    return result


def test_a_post_has_the_documented_fields_and_basic_auth_with_the_application_password(
    audience_workspace, wordpress, awaiting
):
    destination = blog(audience_workspace, wordpress)

    run = publish(awaiting, audience_workspace)

    (request,) = wordpress.creates()
    token = base64.b64encode(WP_SECRET.encode()).decode()
    assert request["headers"]["authorization"] == f"Basic {token}"
    assert request["headers"]["content-type"] == "application/json"
    parts = content.message_parts(run.output.content)
    body = request["body"]
    assert body["title"] == parts["subject"]
    assert body["excerpt"] == parts["preview"]
    assert body["content"].startswith("<p>") and parts["call_to_action"] in body["content"]
    assert body["status"] == "publish" and "date_gmt" not in body
    attempt = PublishAttempt.objects.get(destination=destination)
    digest = hashlib.sha256(attempt.idempotency_key.encode()).hexdigest()[:12]
    assert re.fullmatch(rf"[a-z0-9-]+-{digest}", body["slug"])
    (post,) = wordpress.posts.values()
    assert attempt.status == "delivered" and attempt.sent_count == 1
    assert attempt.external_ids == {
        "post_id": post["id"],
        "link": post["link"],
        "status": "publish",
        "slug": body["slug"],
    }
    assert [r["route"] for r in wordpress.requests] == [CREATE]  # first try: no look-up


@pytest.mark.parametrize(
    ("target", "ahead", "status"),
    [("draft", None, "draft"), ("", None, "publish"), ("publish", timedelta(days=30), "future")],
)
def test_target_and_schedule_make_a_draft_a_public_post_or_a_future_one_with_date_gmt(
    audience_workspace, wordpress, awaiting, target, ahead, status
):
    schedule = {"schedule": "at", "send_at": timezone.now() + ahead} if ahead else {}
    destination = blog(audience_workspace, wordpress, target=target, **schedule)

    publish(awaiting, audience_workspace)

    (request,) = wordpress.creates()
    (post,) = wordpress.posts.values()
    assert request["body"]["status"] == post["status"] == status
    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "delivered" and attempt.external_ids["status"] == status
    if ahead:
        when = destination.send_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert request["body"]["date_gmt"] == post["date_gmt"] == when
        assert attempt.external_ids["date_gmt"] == when
    else:
        assert "date_gmt" not in request["body"]
    (entry,) = attempt.run.trace.document["publish"]["destinations"]
    assert entry["status"] == ("scheduled" if ahead else "delivered")
    assert ("scheduled_for" in entry) == bool(ahead)


@pytest.mark.parametrize(
    ("secret_name", "value", "says"),
    [
        ("WORDPRESS_APP_PASSWORD", "editor:wrong pass word here", "HTTP 401"),
        ("WORDPRESS_APP_PASSWORD", "nobody:" + WP_APP_PASSWORD, "HTTP 401"),
        ("WORDPRESS_READER", "reader:zzzz", "HTTP 403"),
    ],
)
def test_refused_credentials_fail_the_attempt_in_a_plain_sentence_without_the_secret(
    audience_workspace, wordpress, awaiting, monkeypatch, secret_name, value, says
):
    monkeypatch.setenv(secret_name, value)
    destination = blog(audience_workspace, wordpress, secret_name=secret_name)

    run = publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "failed" and attempt.tries == 1  # refused: not retried
    assert says in attempt.error and secret_name in attempt.error
    password = value.partition(":")[2]
    run.trace.refresh_from_db()
    for text in (attempt.error, json.dumps(run.trace.document)):
        assert password not in text and base64.b64encode(value.encode()).decode() not in text
    assert wordpress.posts == {}


def test_a_secret_without_a_colon_is_refused_before_any_request(
    audience_workspace, wordpress, awaiting, monkeypatch
):
    monkeypatch.setenv("WORDPRESS_APP_PASSWORD", "only-a-password-0000")
    destination = blog(audience_workspace, wordpress)

    publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "failed"
    assert "separated by a colon" in attempt.error and "WORDPRESS_APP_PASSWORD" in attempt.error
    assert "only-a-password-0000" not in attempt.error
    assert wordpress.requests == []


@pytest.mark.parametrize("failure", ["500", ("429", 2)], ids=["500", "429"])
def test_a_500_or_429_is_retried_after_a_look_up_and_one_post_is_created(
    audience_workspace, wordpress, awaiting, waits, failure
):
    destination = blog(audience_workspace, wordpress)
    wordpress.script(CREATE, failure)

    publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert (attempt.status, attempt.tries) == ("delivered", 2)
    assert [r["route"] for r in wordpress.requests] == [CREATE, LOOKUP, CREATE]
    lookup = wordpress.requests[1]
    assert lookup["query"] == {"slug": attempt.external_ids["slug"], "status": "any"}
    assert lookup["headers"]["authorization"].startswith("Basic ")
    assert len(wordpress.posts) == 1
    assert waits == ([1.0] if failure == "500" else [2.0])


def test_a_post_stored_before_a_500_is_adopted_by_its_slug_not_posted_twice(
    audience_workspace, wordpress, awaiting, waits
):
    destination = blog(audience_workspace, wordpress)
    wordpress.script(CREATE, "store_then_500")

    publish(awaiting, audience_workspace)

    (post,) = wordpress.posts.values()
    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "delivered" and attempt.external_ids["post_id"] == post["id"]
    assert len(wordpress.creates()) == 1
    assert "no second post was created" in attempt.detail["adopted"]


def test_an_unanswered_create_is_looked_up_by_its_slug_and_adopted(
    audience_workspace, wordpress, awaiting, waits
):
    destination = blog(audience_workspace, wordpress)
    wordpress.script(CREATE, "accept_then_timeout")

    publish(awaiting, audience_workspace)

    (post,) = wordpress.posts.values()
    attempt = PublishAttempt.objects.get(destination=destination)
    assert (attempt.status, attempt.tries) == ("delivered", 1)
    assert attempt.external_ids["post_id"] == post["id"] and waits == []
    assert [r["route"] for r in wordpress.requests] == [CREATE, LOOKUP]


@pytest.mark.parametrize(
    ("create", "posts"), [("accept_then_timeout", 1), ("500", 0)], ids=["unanswered", "retried"]
)
def test_when_the_post_cannot_be_looked_up_the_attempt_waits_for_a_person(
    audience_workspace, wordpress, awaiting, waits, create, posts
):
    destination = blog(audience_workspace, wordpress)
    wordpress.script(CREATE, create)
    wordpress.script(LOOKUP, "500")

    run = publish(awaiting, audience_workspace)

    attempt = PublishAttempt.objects.get(destination=destination)
    assert attempt.status == "unknown"
    assert "check the platform before retrying" in attempt.error
    assert len(wordpress.creates()) == 1 and len(wordpress.posts) == posts
    services.run_deliver(run_id=run.pk)
    assert len(wordpress.creates()) == 1  # nothing is sent while it is unknown


def test_a_worker_stopped_after_wordpress_stored_the_post_resumes_and_adopts_it(
    audience_workspace, wordpress, awaiting
):
    destination = blog(audience_workspace, wordpress)
    run = publish(awaiting, audience_workspace)
    attempt = PublishAttempt.objects.get(destination=destination)
    (post,) = wordpress.posts.values()
    # The worker was killed after WordPress stored the post, before the answer was recorded.
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        status="sending",
        sending_started_at=timezone.now() - timedelta(hours=1),
        external_ids={},
    )

    services.run_deliver(run_id=run.pk)

    attempt.refresh_from_db()
    assert attempt.status == "delivered" and attempt.external_ids["post_id"] == post["id"]
    assert len(wordpress.creates()) == 1 and len(wordpress.posts) == 1
    assert "adopted" in attempt.detail
    assert wordpress.requests[-1]["route"] == LOOKUP


def test_a_stopped_worker_whose_post_cannot_be_looked_up_waits_for_a_person(
    audience_workspace, wordpress, awaiting
):
    destination = blog(audience_workspace, wordpress)
    run = publish(awaiting, audience_workspace)
    attempt = PublishAttempt.objects.get(destination=destination)
    PublishAttempt.objects.filter(pk=attempt.pk).update(
        status="sending", sending_started_at=timezone.now() - timedelta(hours=1), external_ids={}
    )
    wordpress.script(LOOKUP, "500")

    services.run_deliver(run_id=run.pk)

    attempt.refresh_from_db()
    assert attempt.status == "unknown" and "check the platform before retrying" in attempt.error
    assert len(wordpress.creates()) == 1


def test_unpublish_returns_a_public_post_to_draft_and_says_it_may_have_been_read(
    audience_workspace, wordpress, awaiting
):
    destination = blog(audience_workspace, wordpress)
    run = publish(awaiting, audience_workspace)
    attempt = PublishAttempt.objects.get(destination=destination)

    result = unpublish(run, audience_workspace)

    post = wordpress.posts[attempt.external_ids["post_id"]]
    assert post["status"] == "draft"
    update = wordpress.requests[-1]
    assert update["path"].endswith(f"/posts/{post['id']}") and update["body"] == {"status": "draft"}
    (said,) = result.taken_back
    assert "returned to draft" in said and "may already have been read" in said
    attempt.refresh_from_db()
    assert attempt.status == "rolled_back"


def test_unpublish_of_a_scheduled_post_before_its_time_says_it_was_never_public(
    audience_workspace, wordpress, awaiting
):
    blog(audience_workspace, wordpress, schedule="at", send_at=timezone.now() + timedelta(days=2))
    run = publish(awaiting, audience_workspace)

    result = unpublish(run, audience_workspace)

    (post,) = wordpress.posts.values()
    assert post["status"] == "draft"
    assert "it was never public" in result.taken_back[0]


def test_unpublish_says_what_failed_when_the_post_is_gone(audience_workspace, wordpress, awaiting):
    destination = blog(audience_workspace, wordpress)
    run = publish(awaiting, audience_workspace)
    wordpress.posts.clear()  # deleted in WordPress meanwhile

    result = unpublish(run, audience_workspace)

    assert result.taken_back == []
    assert "Returning WordPress post" in result.not_taken_back[0]
    assert "HTTP 404" in result.not_taken_back[0]
    assert PublishAttempt.objects.get(destination=destination).status == "delivered"


def test_a_wordpress_destination_needs_the_site_root_and_a_draft_or_publish_target(
    audience_workspace, wordpress
):
    common = {"kind": "wordpress", "secret_name": "WORDPRESS_APP_PASSWORD"}
    for values, field in [
        ({"api_base_url": ""}, "api_base_url"),
        ({"api_base_url": wordpress.url("/wp-json/wp/v2")}, "api_base_url"),
        ({"api_base_url": wordpress.url(), "target": "private"}, "target"),
        ({"api_base_url": wordpress.url(), "secret_name": ""}, "secret_name"),
    ]:
        destination = Destination(
            workflow=audience_workspace["workflow"], name="x", **{**common, **values}
        )
        with pytest.raises(ValidationError) as refused:
            destination.full_clean()
        assert field in refused.value.message_dict, values
    far_ahead = Destination(
        workflow=audience_workspace["workflow"],
        name="Next quarter",
        api_base_url=wordpress.url(),
        target="draft",
        schedule="at",
        send_at=timezone.now() + timedelta(days=120),
        **common,
    )
    far_ahead.full_clean()  # WordPress schedules any time ahead
