"""WordPress REST posts (https://developer.wordpress.org/rest-api/reference/posts/).

- ``POST {site}/wp-json/wp/v2/posts`` with HTTP Basic auth (``username:application password``,
  WordPress's application passwords) and ``{"title", "content", "excerpt", "status", "slug"}``;
  a scheduled post is ``status: "future"`` with ``date_gmt`` (UTC, no offset: WordPress reads
  ``date_gmt`` as UTC whatever offset it carries). 201 with the post: ``{"id", "link",
  "status", ...}``; 401 (``rest_not_logged_in``, ``incorrect_password``, ``invalid_username``)
  when the credentials are refused, 403 when the user may not write posts.
- Destination: ``api_base_url`` is the site's root URL; ``target`` the status a post sent now
  gets (``draft`` or ``publish``; empty means publish); ``schedule = "at"`` makes it ``future``
  at ``send_at`` (a time already past publishes at once, as WordPress itself does).
- WordPress takes no idempotency key. Each post gets a slug derived from the attempt's key, so
  a post whose answer never came can be found: after an unanswered create, and before sending
  on any later try (a retry, or a Publish again), ``GET /wp-json/wp/v2/posts?slug=..&status=any``
  looks it up and an existing post is adopted instead of created twice. When the post cannot be
  looked up, the attempt is ``unknown`` like any keyless send: a person checks the site.
- Rollback: ``POST /wp-json/wp/v2/posts/<id>`` ``{"status": "draft"}``. A post that was public
  may already have been read, cached, syndicated or indexed: a draft does not take that back.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.text import slugify

from publishing import registry
from publishing.adapters.base import (
    Adapter,
    Outcome,
    Payload,
    Rejected,
    RollbackOutcome,
    SendError,
    Unanswered,
    classify,
    json_body,
)
from workflows import outbound

POSTS_PATH = "/wp-json/wp/v2/posts"
# What ``target`` may say: the status of a post sent at once ("" is publish).
STATUS_NOW = {"": "publish", "publish": "publish", "draft": "draft"}
SLUG_TITLE_CHARS = 60
# A look-up is short, so a try (look-up, create, look-up) stays well within the stale-send limit.
LOOKUP_TIMEOUT_SECONDS = 10.0


def post_slug(idempotency_key: str, subject: str) -> str:
    """Readable and deterministic: the subject's slug and 12 hex digits of the attempt's key."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    title = slugify(subject)[:SLUG_TITLE_CHARS].strip("-") or "post"
    return f"{title}-{digest}"


def post_html(payload: Payload) -> str:
    """The body as WordPress content: each paragraph escaped in ``<p>``, the call to action last."""
    paragraphs = [p.strip() for p in payload.message.text.split("\n\n") if p.strip()]
    parts = [f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs]
    if payload.message.call_to_action:
        parts.append(f"<p><strong>{html.escape(payload.message.call_to_action)}</strong></p>")
    return "\n".join(parts)


def gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class Credential:
    """The named secret's ``username:application password`` as a Basic header; never shown."""

    def __init__(self, secret_name: str, value: str):
        username, colon, password = value.strip().partition(":")
        if not colon or not username.strip() or not password.strip():
            raise Rejected(
                f"The secret {secret_name} must hold a WordPress user name and an application "
                "password separated by a colon (username:application password)."
            )
        token = base64.b64encode(value.strip().encode()).decode()
        self.secret_name = secret_name
        self.header = {"Authorization": f"Basic {token}"}
        self.redact = [value, value.strip(), password, password.strip(), token]


@registry.register
class WordPressAdapter(Adapter):
    kind = "wordpress"
    takes_idempotency_key = False
    reconciles = True  # looks the post up by its slug before sending again
    schedules = True
    per_recipient = False

    def destination_errors(self, destination) -> dict[str, str]:
        errors = {}
        site = destination.api_base_url.strip()
        if not site:
            errors["api_base_url"] = (
                "Give the WordPress site's address (e.g. https://blog.example.com): "
                "posts are created at its /wp-json/wp/v2/posts."
            )
        elif "/wp-json" in site:
            errors["api_base_url"] = (
                "Give the site's root address, without /wp-json: the path is added when posting."
            )
        if destination.target.strip() not in STATUS_NOW:
            errors["target"] = (
                "Give the status a post sent now gets: draft or publish (empty means publish)."
            )
        return errors

    # --- Send -------------------------------------------------------------------------------------

    def send(self, attempt, payload: Payload) -> Outcome:
        destination = attempt.destination
        credential = Credential(destination.secret_name, self.secret(destination))
        slug = post_slug(payload.idempotency_key, payload.message.subject)
        document = self.post_document(destination, payload, slug)
        if attempt.tries > 1:
            # An earlier try may have created the post although its answer said otherwise.
            try:
                found = self.find(destination, credential, slug)
            except SendError as exc:
                raise Unanswered(
                    f"An earlier try may have created the post, and looking it up by its slug "
                    f"failed: {exc}"
                ) from None
            if found:
                return self.adopted(found, slug, document, "an earlier try")
        try:
            response = self.write(self.posts_url(destination), destination, credential, document)
        except Unanswered as exc:
            try:
                found = self.find(destination, credential, slug)
            except SendError as lookup:
                raise Unanswered(
                    f"{exc} Looking the post up by its slug failed: {lookup}"
                ) from None
            if found:
                return self.adopted(found, slug, document, "the unanswered request")
            raise Unanswered(f"{exc} No post with its slug ({slug}) was found yet.") from None
        post = json_body(response)
        if not isinstance(post, dict) or not post.get("id"):
            raise Unanswered("WordPress answered without the post's id.")
        return Outcome(sent=1, external_ids=self.ids_of(post, slug, document))

    def post_document(self, destination, payload: Payload, slug: str) -> dict[str, Any]:
        document = {
            "title": payload.message.subject,
            "content": post_html(payload),
            "excerpt": payload.message.preview,
            "slug": slug,
            "status": STATUS_NOW.get(destination.target.strip(), "publish"),
        }
        if payload.send_at is not None and payload.send_at > timezone.now():
            document["status"] = "future"
            document["date_gmt"] = gmt(payload.send_at)
        elif payload.send_at is not None:
            document["status"] = "publish"  # its time has passed: WordPress would publish it too
        return document

    def ids_of(self, post: dict, slug: str, document: dict) -> dict[str, Any]:
        ids = {
            "post_id": post["id"],
            "link": str(post.get("link") or ""),
            "status": str(post.get("status") or document["status"]),
            "slug": str(post.get("slug") or slug),
        }
        if document.get("date_gmt"):
            ids["date_gmt"] = document["date_gmt"]
        return ids

    def adopted(self, found: list[dict], slug: str, document: dict, source: str) -> Outcome:
        post = min(found, key=lambda p: p["id"])
        detail = {
            "adopted": f"WordPress already had post {post['id']} with this slug, created by "
            f"{source}: it was kept and no second post was created."
        }
        if len(found) > 1:
            others = ", ".join(str(p["id"]) for p in found if p is not post)
            detail["duplicates"] = (
                f"WordPress holds {len(found)} posts with the slug {slug} (also {others}): "
                "delete the extra ones."
            )
        return Outcome(sent=1, external_ids=self.ids_of(post, slug, document), detail=detail)

    def find(self, destination, credential: Credential, slug: str) -> list[dict]:
        """The posts (any status but trash) with this slug; SendError when it cannot be asked."""
        query = urlencode({"slug": slug, "status": "any"})
        try:
            answer = outbound.get_json(
                f"{self.posts_url(destination)}?{query}",
                headers=credential.header,
                timeout=LOOKUP_TIMEOUT_SECONDS,
                label=destination.label,
                secrets_to_redact=credential.redact,
            )
        except outbound.OutboundError as exc:
            raise self.failure(exc, credential) from None
        if not isinstance(answer, list):
            raise Rejected("WordPress answered the look-up with something other than a list.")
        return [
            p
            for p in answer
            if isinstance(p, dict) and p.get("slug") == slug and isinstance(p.get("id"), int)
        ]

    # --- Rollback ---------------------------------------------------------------------------------

    def rollback(self, attempt) -> RollbackOutcome:
        ids = attempt.external_ids or {}
        post_id = ids.get("post_id")
        if not post_id:
            return RollbackOutcome(
                False, "WordPress gave no post id: return the post to draft in WordPress."
            )
        destination = attempt.destination
        try:
            credential = Credential(destination.secret_name, self.secret(destination))
            self.write(
                f"{self.posts_url(destination)}/{post_id}",
                destination,
                credential,
                {"status": "draft"},
            )
        except SendError as exc:
            return RollbackOutcome(
                False, f"Returning WordPress post {post_id} to draft failed: {exc}"
            )
        name = f"WordPress post {post_id}" + (f" ({ids['link']})" if ids.get("link") else "")
        status = ids.get("status")
        if status == "future" and ids.get("date_gmt"):
            goes_out = datetime.fromisoformat(ids["date_gmt"]).replace(tzinfo=UTC)
            if goes_out > timezone.now():
                return RollbackOutcome(
                    True,
                    f"{name} was scheduled for {ids['date_gmt']} UTC and was returned to draft "
                    "before it went out: it was never public.",
                )
            status = "publish"
        if status == "publish":
            return RollbackOutcome(
                True,
                f"{name} was returned to draft. It was public, so it may already have been read, "
                "shared, cached or indexed (feeds, search engines): a draft does not take that back.",
            )
        return RollbackOutcome(
            True,
            f"{name} was sent as a {status or 'draft'} and is a draft again; if someone published "
            "it in WordPress meanwhile, it may have been read.",
        )

    # --- HTTP -------------------------------------------------------------------------------------

    def posts_url(self, destination) -> str:
        return f"{self.base_url(destination)}{POSTS_PATH}"

    def write(self, url: str, destination, credential: Credential, document: dict):
        try:
            return outbound.post_json(
                url,
                document,
                headers={"Accept": "application/json", **credential.header},
                label=destination.label,
                secrets_to_redact=credential.redact,
            )
        except outbound.OutboundError as exc:
            raise self.failure(exc, credential) from None

    def failure(self, exc: outbound.OutboundError, credential: Credential) -> SendError:
        if isinstance(exc, outbound.OutboundRefused):
            return Rejected(str(exc))
        if exc.status == 401:
            return Rejected(
                f"WordPress did not accept the user name and application password in the secret "
                f"{credential.secret_name} (HTTP 401): check both, and that application passwords "
                "are enabled on the site."
            )
        if exc.status == 403:
            return Rejected(
                f"WordPress says the user in the secret {credential.secret_name} may not do this "
                "(HTTP 403): it needs a role that publishes posts (Author, Editor or Administrator)."
            )
        return classify(exc)
