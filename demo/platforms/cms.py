"""The demo CMS: WordPress REST posts, the part a WordPress adapter calls.

The site root is the destination's API base URL (``…/demo-platforms/cms``):

- ``POST {site}/wp-json/wp/v2/posts`` (title, content, excerpt, status draft|publish|future,
  date_gmt, slug) -> 201, the post (``id``, ``link``, ``status``, ``slug``, ...).
- ``POST {site}/wp-json/wp/v2/posts/<id>`` (any of those fields) -> 200, the post.
- ``GET {site}/wp-json/wp/v2/posts?slug=<slug>&status=any`` -> the matching posts.
- ``GET {site}/wp-json/wp/v2/posts/<id>``; ``DELETE`` moves it to the trash (``force=true``
  deletes it).

As in WordPress: HTTP Basic auth with ``username:application password`` (here ``demo`` and the
platform token); a wrong one is 401 whatever the request; without one only published posts
can be read. ``publish`` with a future date becomes ``future``, ``future`` with a past date
``publish``; a published post's slug is made unique with ``-2``, ``-3``. Errors are WordPress's
``{"code", "message", "data": {"status"}}``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, linebreaks
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from demo.models import OutboxMessage
from demo.platforms.common import (
    CMS_USER,
    NotJSON,
    basic_credentials,
    basic_ok,
    json_body,
    platform_view,
)

Status = OutboxMessage.Status
# WordPress's status names -> the Outbox's, and back.
FROM_WP = {"draft": Status.DRAFT, "publish": Status.PUBLISHED, "future": Status.FUTURE}
TO_WP = {
    Status.DRAFT: "draft",
    Status.PUBLISHED: "publish",
    Status.FUTURE: "future",
    Status.DELETED: "trash",
}
IDEMPOTENCY_MARKER = re.compile(r"mai_[0-9a-f]{40}")
MAX_SLUG = 200
MAX_ID = 2**53  # larger ids are no post's (and overflow a database integer)


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, params: dict | None = None):
        super().__init__(message)
        self.response = _error(status, code, message, params)


def _error(status: int, code: str, message: str, params: dict | None = None) -> JsonResponse:
    data: dict = {"status": status}
    if params:
        data["params"] = params
    return JsonResponse({"code": code, "message": message, "data": data}, status=status)


def _invalid(name: str, reason: str) -> Refused:
    return Refused(400, "rest_invalid_param", f"Invalid parameter(s): {name}", {name: reason})


def _signed_in(request) -> bool:
    """Whether the request carries the demo's application password; Refused for a wrong one."""
    if "Authorization" not in request.headers:
        return False
    credentials = basic_credentials(request)
    if credentials is None:
        return False  # not Basic auth: WordPress ignores it and treats the request as anonymous
    user, password = credentials
    if user != CMS_USER:
        raise Refused(
            401, "invalid_username", "Unknown username. Check again or try your email address."
        )
    if not basic_ok(user, password):
        raise Refused(
            401, "incorrect_password", "The provided password is an invalid application password."
        )
    return True


def site_root(request) -> str:
    return request.build_absolute_uri(reverse("demo_cms_site")).rstrip("/")


def _wp_status(post: OutboxMessage) -> str:
    status = post.shown_status
    return TO_WP.get(status, "draft")


def _naive_iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() if value else None


def post_document(request, post: OutboxMessage) -> dict:
    date = post.scheduled_for or post.received_at
    site = site_root(request)

    def text(value: str) -> dict:
        return {"raw": value, "rendered": value}

    return {
        "id": post.pk,
        "date": _naive_iso(date),
        "date_gmt": _naive_iso(date),
        "modified_gmt": _naive_iso(post.updated_at),
        "slug": post.slug,
        "status": _wp_status(post),
        "type": "post",
        "link": f"{site}/?p={post.pk}",
        "title": text(post.subject),
        "content": {**text(post.body), "protected": False},
        "excerpt": {**text(post.details.get("excerpt", "")), "protected": False},
    }


def _text_field(document: dict, name: str) -> str | None:
    """A title, content or excerpt: a string, or WordPress's ``{"raw": ...}``."""
    if name not in document:
        return None
    value = document[name]
    if isinstance(value, dict):
        value = value.get("raw")
    if not isinstance(value, str):
        raise _invalid(name, f"{name} is not of type string.")
    return value


def _date_field(document: dict) -> datetime | None:
    for name in ("date_gmt", "date"):  # the site's time zone is UTC
        if document.get(name) is None:
            continue
        value = document[name]
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        try:
            parsed = (
                parsed.astimezone(UTC) if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
            )
        except (AttributeError, OverflowError):
            parsed = None
        if parsed is None:
            raise _invalid(name, "Invalid date.")
        return parsed
    return None


def _slug_field(document: dict) -> str | None:
    if "slug" not in document:
        return None
    value = document["slug"]
    if not isinstance(value, str):
        raise _invalid("slug", "slug is not of type string.")
    slug = re.sub(r"[^a-z0-9_-]+", "-", value.strip().lower()).strip("-")
    return slug[:MAX_SLUG]


def _gone(post: OutboxMessage) -> bool:
    """Deleted for good (``DELETE ?force=true``): kept in the Outbox, unknown to the API."""
    return post.details.get("deleted") is True


def _posts():
    return OutboxMessage.objects.filter(platform=OutboxMessage.Platform.CMS)


def _unique_slug(slug: str, *, exclude_pk: int | None) -> str:
    taken = {
        post.slug
        for post in _posts().filter(slug__startswith=slug).exclude(pk=exclude_pk)
        if not _gone(post)
    }
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate


def _apply(post: OutboxMessage, document, *, creating: bool) -> None:
    """Set the post's fields from a create or update body, as WordPress would."""
    if not isinstance(document, dict):
        raise Refused(400, "rest_invalid_json", "Invalid JSON body passed.")
    title = _text_field(document, "title")
    content = _text_field(document, "content")
    excerpt = _text_field(document, "excerpt")
    date = _date_field(document)
    slug = _slug_field(document)
    wanted = document.get("status")
    if wanted is None:
        wanted = "draft" if creating else TO_WP.get(post.status, "draft")
    if wanted not in FROM_WP:
        raise _invalid("status", "status is not one of draft, publish, future (the demo CMS).")
    if title is not None:
        post.subject = title
    if content is not None:
        post.body = content
    if excerpt is not None:
        post.details = {**post.details, "excerpt": excerpt}
    now = timezone.now()
    when = date or (post.scheduled_for if not creating else None)
    if wanted == "publish" and when is not None and when > now:
        wanted = "future"
    if wanted == "future" and (when is None or when <= now):
        wanted = "publish"
    post.status = FROM_WP[wanted]
    post.scheduled_for = when if wanted == "future" else None
    if slug is not None:
        post.slug = slug
    if post.status != Status.DRAFT:
        # WordPress gives published posts a slug, unique on the site; drafts keep theirs as given.
        base = post.slug or _slug_field({"slug": post.subject}) or "post"
        post.slug = _unique_slug(base, exclude_pk=post.pk)
    marker = IDEMPOTENCY_MARKER.search(post.slug)
    post.idempotency_key = marker.group(0) if marker else ""


def _post_or_404(post_id: int) -> OutboxMessage:
    post = _posts().select_for_update().filter(pk=post_id).first() if post_id < MAX_ID else None
    if post is None or _gone(post):
        raise Refused(404, "rest_post_invalid_id", "Invalid post ID.")
    return post


def _body(request):
    try:
        return json_body(request)
    except NotJSON:
        raise Refused(400, "rest_invalid_json", "Invalid JSON body passed.") from None


@platform_view
@require_http_methods(["GET", "POST"])
def posts_view(request):
    try:
        signed_in = _signed_in(request)
        if request.method == "GET":
            return _list(request, signed_in=signed_in)
        if not signed_in:
            raise Refused(
                401,
                "rest_cannot_create",
                "Sorry, you are not allowed to create posts as this user.",
            )
        document = _body(request)
        post = OutboxMessage(platform=OutboxMessage.Platform.CMS, to=site_root(request))
        with transaction.atomic():
            _apply(post, document, creating=True)
            post.external_id = ""
            post.save()
            post.external_id = str(post.pk)
            post.save(update_fields=["external_id"])
        return JsonResponse(post_document(request, post), status=201)
    except Refused as refused:
        return refused.response


def _list(request, *, signed_in: bool) -> JsonResponse:
    wanted = request.GET.get("status", "publish")
    statuses = {s.strip() for s in wanted.split(",") if s.strip()}
    if "any" in statuses:
        statuses = {"draft", "publish", "future"}
    if not statuses <= {"draft", "publish", "future", "trash"}:
        raise _invalid("status", "Status is not one of draft, publish, future, trash, any.")
    if statuses != {"publish"} and not signed_in:
        raise _invalid("status", "Status is forbidden.")
    posts = _posts()
    if "slug" in request.GET:
        posts = posts.filter(slug__in=[s for s in request.GET["slug"].split(",") if s])
    found = [
        p
        for p in posts.order_by("-received_at", "-pk")
        if not _gone(p) and _wp_status(p) in statuses
    ][:100]
    return JsonResponse([post_document(request, p) for p in found], safe=False)


@platform_view
@require_http_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
def post_view(request, post_id: int):
    try:
        signed_in = _signed_in(request)
        with transaction.atomic():
            post = _post_or_404(post_id)
            if request.method == "GET":
                if not signed_in and _wp_status(post) != "publish":
                    raise Refused(401, "rest_forbidden", "Sorry, you are not allowed to do that.")
                return JsonResponse(post_document(request, post))
            if not signed_in:
                raise Refused(
                    401, "rest_cannot_edit", "Sorry, you are not allowed to edit this post."
                )
            if request.method == "DELETE":
                return _delete(request, post)
            _apply(post, _body(request), creating=False)
            post.save()
        return JsonResponse(post_document(request, post))
    except Refused as refused:
        return refused.response


def _delete(request, post: OutboxMessage) -> JsonResponse:
    if request.GET.get("force") in ("true", "1"):
        previous = post_document(request, post)
        post.status = Status.DELETED
        post.details = {**post.details, "deleted": True}
        post.save()
        return JsonResponse({"deleted": True, "previous": previous})
    if post.status == Status.DELETED:
        raise Refused(410, "rest_already_trashed", "The post has already been moved to the Trash.")
    post.status = Status.DELETED
    post.save()
    return JsonResponse(post_document(request, post))


@platform_view
@require_GET
def site_view(request):
    """The site's plain permalink (``?p=<id>``): a published post as a small page."""
    number = request.GET.get("p", "")
    found = number.isdigit() and int(number) < MAX_ID
    post = _posts().filter(pk=int(number)).first() if found else None
    if post is None or _gone(post) or _wp_status(post) != "publish":
        return HttpResponse("Not found", status=404, content_type="text/plain")
    return HttpResponse(
        format_html(
            "<!doctype html><html lang='en'><head><title>{}</title></head>"
            "<body><main><h1>{}</h1>{}</main></body></html>",
            post.subject,
            post.subject,
            mark_safe(linebreaks(post.body, autoescape=True)),  # escaped by linebreaks
        )
    )
