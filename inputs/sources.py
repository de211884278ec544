"""Pulling a segment's recipients from an HTTP JSON endpoint (an AudienceSource).

The credential is read from the environment at pull time: it is never stored, logged or
put in a message. The response is mapped onto our recipient fields and then goes through
the same import (and the same validation) as an uploaded file.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone

from inputs.importing import count_errors
from inputs.imports import audience_import
from inputs.models import AudienceImport, AudienceSource
from workflows.models import with_history_context
from workflows.redaction import redact, safe_url

# Our recipient fields; any other field of ours (or unmapped field of theirs) is an attribute.
RECIPIENT_FIELDS = ("customer_id", "email", "role", "plan", "consent", "usage_summary", "usage_as_of")
ATTRIBUTES = "attributes"
MAX_RESPONSE_BYTES = 50 * 1024 * 1024
STATUS_MAX_LENGTH = AudienceSource._meta.get_field("last_status").max_length
_MISSING = object()


class SourceError(Exception):
    """A pull that could not fetch or read its source. The message is a plain sentence, free of secrets."""


# --- Mapping (pure) ----------------------------------------------------------------------


def _dig(value: Any, dotted: str) -> Any:
    for key in dotted.split(".") if dotted else ():
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def map_records(payload: Any, *, records_path: str, field_mapping: dict[str, str]) -> list[dict]:
    """Their records as our recipient records.

    ``field_mapping`` maps our field to their (possibly dotted) field; our fields without a
    mapping are read under their own name. Mapped fields of ours that are not recipient
    fields, and top-level fields of theirs that nothing reads, go into ``attributes``.
    Values are passed on as they are (a boolean 'subscribed' is a valid consent) and a field
    missing from a record is left out: validation is the import's, shared with file uploads.
    """
    records = _dig(payload, records_path)
    if not isinstance(records, list):
        if records_path:
            raise SourceError(f"The response has no list at '{records_path}'.")
        raise SourceError("The response is not a list of records; give the path to the list in the source.")
    if not isinstance(field_mapping or {}, dict) or not all(
        isinstance(theirs, str) for theirs in (field_mapping or {}).values()
    ):
        raise SourceError('The field mapping must map our field names to theirs, e.g. {"email": "contact.email"}.')
    mapping = {ours: theirs.strip() for ours, theirs in (field_mapping or {}).items() if theirs.strip()}
    for ours in RECIPIENT_FIELDS:
        mapping.setdefault(ours, ours)
    read_keys = {theirs.split(".", 1)[0] for theirs in mapping.values()} | set(RECIPIENT_FIELDS) | {ATTRIBUTES}

    mapped = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise SourceError(f"Record {number} of the response is not an object.")
        own_attributes = record.get(ATTRIBUTES) if ATTRIBUTES not in mapping else None
        attributes = dict(own_attributes) if isinstance(own_attributes, dict) else {}
        attributes.update({key: value for key, value in record.items() if key not in read_keys})
        row: dict[str, Any] = {}
        for ours, theirs in mapping.items():
            value = _dig(record, theirs)
            if value is _MISSING:
                continue
            if ours in RECIPIENT_FIELDS:
                row[ours] = value
            elif ours != ATTRIBUTES:
                attributes[ours] = value
        row[ATTRIBUTES] = attributes
        mapped.append(row)
    return mapped


# --- Fetching ----------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would send the credential header on to the new host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _credential(source: AudienceSource, url: str) -> str:
    name = source.auth_env_var.strip()
    value = os.environ.get(name, "")
    if not value:
        raise SourceError(f"The environment variable {name} that holds the credential for {url} is not set.")
    return value


def _headers(source: AudienceSource, url: str) -> tuple[dict[str, str], list[str]]:
    """Request headers and the secrets that must not appear in any message."""
    headers = {"Accept": "application/json"}
    if not source.auth_env_var.strip():
        return headers, []
    credential = _credential(source, url)
    header = source.auth_header.strip() or "Authorization"
    value = credential
    if header.lower() == "authorization" and " " not in credential.strip():
        value = f"Bearer {credential.strip()}"  # a bare token: the usual scheme
    headers[header] = value
    return headers, [credential, credential.strip()]


def _url_secrets(raw_url: str) -> list[str]:
    """Parts of the stored URL that may be credentials: user info and query string."""
    parts = urlsplit(raw_url)
    secrets = [parts.query, parts.username or "", parts.password or "", parts.netloc.rpartition("@")[0]]
    return [secret for secret in secrets if secret]


def _fetch(source: AudienceSource, url: str, headers: dict[str, str]) -> Any:
    parts = urlsplit(source.url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SourceError(f"The source URL {url} is not an http or https URL.")
    if "@" in parts.netloc:
        raise SourceError(
            f"The source URL {url} carries a user name or password; put the credential in an environment variable instead."
        )
    request = urllib.request.Request(source.url, headers=headers, method="GET")
    timeout = source.timeout_seconds or 20
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            content_type = response.headers.get("Content-Type", "") or "no content type"
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        if 300 <= exc.code < 400:
            raise SourceError(
                f"{url} answered with a redirect (HTTP {exc.code}); point the source at the final URL."
            ) from None
        raise SourceError(f"{url} answered HTTP {exc.code} ({exc.reason}).") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise SourceError(f"{url} did not answer within {timeout} seconds.") from None
        raise SourceError(f"Could not reach {url}: {exc.reason}.") from None
    except (TimeoutError, socket.timeout):
        raise SourceError(f"{url} did not answer within {timeout} seconds.") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"Could not read {url}: {type(exc).__name__}.") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise SourceError(f"{url} returned more than {MAX_RESPONSE_BYTES // (1024 * 1024)} MB.")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SourceError(f"{url} did not return JSON (HTTP {status}, {content_type}).") from None


# --- Pulling -----------------------------------------------------------------------------


def _record(source: AudienceSource, *, status: str, fetched_at: datetime | None, by) -> None:
    source.last_status = status[:STATUS_MAX_LENGTH]
    fields = ["last_status"]
    if fetched_at is not None:
        source.last_fetched_at = fetched_at
        fields.append("last_fetched_at")
    with_history_context(source, by=by, reason=f"Pull: {source.last_status}")
    source.save(update_fields=fields)


def audience_pull(*, source: AudienceSource, pulled_by=None, now: datetime | None = None) -> AudienceImport:
    """Fetch the source, map its records and import them into the source's segment.

    Returns the AudienceImport (imported, or rejected with row errors). Raises SourceError
    when the source could not be fetched or read; the source's last_status says why either
    way. last_fetched_at moves only when recipients were imported, so it dates the data in use.
    """
    now = now or timezone.now()
    url = safe_url(source.url)
    secrets = _url_secrets(source.url)
    try:
        headers, credentials = _headers(source, url)
        secrets += credentials
        payload = _fetch(source, url, headers)
        mapped = map_records(payload, records_path=source.records_path, field_mapping=source.field_mapping or {})
    except SourceError as exc:
        message = redact(str(exc), secrets)
        _record(source, status=message, fetched_at=None, by=pulled_by)
        raise SourceError(message) from None

    result = audience_import(
        segment=source.segment,
        data=json.dumps({"recipients": mapped}).encode(),
        filename=url,
        format="json",
        imported_by=pulled_by,
        now=now,
    )
    if result.status == AudienceImport.Status.IMPORTED:
        _record(source, status=f"imported {result.row_count} recipients", fetched_at=now, by=pulled_by)
    else:
        count = count_errors(result.errors or [])
        _record(source, status=f"rejected: {count} error{'' if count == 1 else 's'}", fetched_at=None, by=pulled_by)
    return result


def source_age_hours(source: AudienceSource, now: datetime | None = None) -> float | None:
    """Hours since the source's data now in use was fetched; None if it never was."""
    if source.last_fetched_at is None:
        return None
    now = now or timezone.now()
    return max(0.0, (now - source.last_fetched_at).total_seconds() / 3600)
