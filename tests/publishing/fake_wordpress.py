"""A loopback fake of WordPress's REST posts, as documented
(https://developer.wordpress.org/rest-api/reference/posts/), reached through the real guarded client.

- Application passwords over HTTP Basic auth: no Authorization header is 401
  ``rest_not_logged_in``; an unknown user 401 ``invalid_username``; a wrong password 401
  ``incorrect_password`` (spaces in the password do not count, as in WordPress); a user whose
  role cannot write posts 403 ``rest_cannot_create``.
- ``POST /wp-json/wp/v2/posts`` creates (201, the post); ``status`` is one of publish, future,
  draft, pending, private (else 400 ``rest_invalid_param``); ``future`` needs ``date_gmt``
  (``YYYY-MM-DDTHH:MM:SS``); a future date already past publishes at once; a slug taken by a
  public post gets ``-2`` as in ``wp_unique_post_slug``.
- ``POST /wp-json/wp/v2/posts/<id>`` updates (200; 404 ``rest_post_invalid_id``).
- ``GET /wp-json/wp/v2/posts?slug=..&status=..`` lists (status defaults to publish; ``any`` is
  every status but trash; any status but publish needs a user who can edit posts, else 401
  ``rest_forbidden_status``).

Scripted failures, taken in order per ``"METHOD path"`` (e.g. ``"POST /wp-json/wp/v2/posts"``)
before the normal answer: ``"500"``, ``("429", seconds)``, ``"accept_then_timeout"`` (the post
is stored, the answer never comes) and ``"store_then_500"`` (stored, then a 500, as a plugin
failing after the insert does).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.loopback import QuietHandler, send_json, serve

WP_USER = "editor"
WP_APP_PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"
WP_SECRET = f"{WP_USER}:{WP_APP_PASSWORD}"
WP_SUBSCRIBER = "reader"
POSTS = "/wp-json/wp/v2/posts"
CREATE = f"POST {POSTS}"
LOOKUP = f"GET {POSTS}"
STATUSES = ("publish", "future", "draft", "pending", "private")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?$")
ITEM = re.compile(r"/\d+$")
SECRET_NAMES = ["WORDPRESS_APP_PASSWORD", "WORDPRESS_READER", "WORDPRESS_OTHER"]


def _error(status: int, code: str, message: str, **data) -> tuple[int, dict]:
    return status, {"code": code, "message": message, "data": {"status": status, **data}}


class WordPressFake:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        owner = self

        class Handler(QuietHandler):
            def do_GET(self):
                owner.handle(self, "GET")

            def do_POST(self):
                owner.handle(self, "POST")

        self._server = serve(Handler)
        self.port = self._server.server_address[1]

    def reset(self):
        with self.lock:
            self.requests: list[dict] = []  # every request, failures included
            self.posts: dict[int, dict] = {}
            self.users = {
                WP_USER: (WP_APP_PASSWORD, "editor"),
                WP_SUBSCRIBER: ("zzzz", "subscriber"),
            }
            self.failures: dict[str, list] = defaultdict(list)
            self.counter = 0

    @property
    def key(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, route: str, *failures) -> None:
        self.failures[route].extend(failures)

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def creates(self) -> list[dict]:
        return [r for r in self.requests if r["route"] == CREATE]

    # --- Answers ------------------------------------------------------------------------------

    def handle(self, handler, method):
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            body = None
        headers = {k.lower(): v for k, v in handler.headers.items()}
        route = f"{method} {ITEM.sub('/<id>', parts.path)}"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.requests.append(
            {"route": route, "path": parts.path, "query": query, "headers": headers, "body": body}
        )
        failure = self.failures[route].pop(0) if self.failures[route] else None
        if failure == "500":
            return _send(handler, *_error(500, "internal_server_error", "Critical error."))
        if isinstance(failure, tuple) and failure[0] == "429":
            status, document = _error(429, "too_many_requests", "Slow down.")
            return _send(handler, status, document, {"Retry-After": str(failure[1])})
        status, document = self.answer(method, parts.path, query, headers, body)
        if failure == "accept_then_timeout":
            time.sleep(3)  # processed; the answer never comes in time
            return
        if failure == "store_then_500":
            return _send(handler, *_error(500, "internal_server_error", "Critical error."))
        _send(handler, status, document)

    def authenticate(self, headers) -> tuple[str | None, tuple[int, dict] | None]:
        value = headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None, _error(401, "rest_not_logged_in", "You are not currently logged in.")
        try:
            user, _, password = base64.b64decode(value[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, _error(401, "rest_not_logged_in", "You are not currently logged in.")
        if user not in self.users:
            return None, _error(
                401, "invalid_username", "Unknown username. Check again or try your email address."
            )
        expected, _ = self.users[user]
        if re.sub(r"[^a-z\d]", "", password, flags=re.I) != expected.replace(" ", ""):
            return None, _error(
                401,
                "incorrect_password",
                "The provided password is an invalid application password.",
            )
        return user, None

    def answer(self, method, path, query, headers, body):
        if not path.startswith(POSTS):
            return _error(404, "rest_no_route", "No route was found matching the URL.")
        user, refused = self.authenticate(headers)
        if refused and "authorization" in headers:
            return refused  # WordPress checks credentials given before any route
        if method == "GET" and path == POSTS:
            return self._list(query, user)
        if refused:
            return refused
        if self.users[user][1] == "subscriber":
            return _error(
                403,
                "rest_cannot_create",
                "Sorry, you are not allowed to create posts as this user.",
            )
        if path == POSTS:
            return self._create(body if isinstance(body, dict) else {})
        match = re.fullmatch(rf"{POSTS}/(\d+)", path)
        if match:
            return self._update(int(match.group(1)), body if isinstance(body, dict) else {})
        return _error(404, "rest_no_route", "No route was found matching the URL.")

    def _fields(self, post: dict, body: dict) -> tuple[int, dict] | None:
        status = body.get("status", post.get("status", "draft"))
        if status not in STATUSES:
            return _error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): status",
                params={"status": f"status is not one of {', '.join(STATUSES)}."},
            )
        date_gmt = body.get("date_gmt", post.get("date_gmt"))
        if date_gmt is not None and not DATE.match(str(date_gmt)):
            return _error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): date_gmt",
                params={"date_gmt": "Invalid date."},
            )
        if status == "future" and not body.get("date_gmt"):
            return _error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): date_gmt",
                params={"date_gmt": "A scheduled post needs date_gmt."},
            )
        for name in ("title", "content", "excerpt"):
            if name in body:
                post[name] = {"raw": body[name], "rendered": body[name]}
        if date_gmt:
            post["date_gmt"] = str(date_gmt)[:19].replace(" ", "T")
        when = datetime.fromisoformat(post["date_gmt"]).replace(tzinfo=UTC)
        post["status"] = "publish" if status == "future" and when <= datetime.now(UTC) else status
        if "slug" in body:
            post["slug"] = self._unique_slug(str(body["slug"]), post)
        public = post["status"] in ("publish", "future")
        post["link"] = self.url(f"/{post['slug']}/" if public else f"/?p={post['id']}")
        return None

    def _unique_slug(self, slug: str, post: dict) -> str:
        """WordPress keeps a draft's slug as given; a public post's slug is made unique."""
        if post.get("status") not in ("publish", "future"):
            return slug
        taken = {
            p["slug"]
            for p in self.posts.values()
            if p["id"] != post["id"] and p["status"] in ("publish", "future")
        }
        candidate, number = slug, 2
        while candidate in taken:
            candidate, number = f"{slug}-{number}", number + 1
        return candidate

    def _create(self, body):
        with self.lock:
            self.counter += 1
            post = {
                "id": self.counter,
                "type": "post",
                "slug": "",
                "status": "draft",
                "date_gmt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            }
            refused = self._fields(post, body)
            if refused:
                return refused
            self.posts[post["id"]] = post
            return 201, post

    def _update(self, post_id, body):
        with self.lock:
            if post_id not in self.posts or self.posts[post_id]["status"] == "trash":
                return _error(404, "rest_post_invalid_id", "Invalid post ID.")
            post = dict(self.posts[post_id])
            refused = self._fields(post, body)
            if refused:
                return refused
            self.posts[post_id] = post
            return 200, post

    def _list(self, query, user):
        wanted = (query.get("status") or "publish").split(",")
        if wanted != ["publish"] and (user is None or self.users[user][1] == "subscriber"):
            return _error(401, "rest_forbidden_status", "Status is forbidden.")
        statuses = set(STATUSES) if "any" in wanted else set(wanted)
        slugs = set(query["slug"].split(",")) if query.get("slug") else None
        with self.lock:
            found = [
                p
                for p in sorted(self.posts.values(), key=lambda p: p["id"])
                if p["status"] in statuses and (slugs is None or p["slug"] in slugs)
            ]
        return 200, found


def _send(handler, status, document, headers=None):
    """WordPress answers JSON in UTF-8 and pages collections (X-WP-Total, X-WP-TotalPages)."""
    if isinstance(document, list):
        headers = {"X-WP-Total": str(len(document)), "X-WP-TotalPages": "1", **(headers or {})}
    send_json(handler, status, document, headers, content_type="application/json; charset=UTF-8")


@pytest.fixture(scope="session")
def wordpress_process():
    fake = WordPressFake()
    yield fake
    fake.close()


@pytest.fixture
def wordpress(wordpress_process, settings, monkeypatch):
    """The fake, allow-listed, its credentials in WORDPRESS_APP_PASSWORD, a short outbound deadline."""
    wordpress_process.reset()
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [
        *getattr(settings, "MARKETINGAI_OUTBOUND_ALLOWED_HOSTS", []),
        wordpress_process.key,
    ]
    settings.MARKETINGAI_OUTBOUND_MAX_TIMEOUT = 1.0
    settings.MARKETINGAI_SECRETS = [*getattr(settings, "MARKETINGAI_SECRETS", []), *SECRET_NAMES]
    monkeypatch.setenv("WORDPRESS_APP_PASSWORD", WP_SECRET)
    monkeypatch.setenv("WORDPRESS_READER", f"{WP_SUBSCRIBER}:zzzz")
    yield wordpress_process
    wordpress_process.reset()
