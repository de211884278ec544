"""Pulling a segment's recipients from an HTTP JSON endpoint (an AudienceSource).

The source names an operator-configured secret (workflows.secrets); its value is read from
the environment at pull time and is never stored, logged or put in a message. The request
goes through the guarded outbound client (workflows.outbound). The response is mapped onto our recipient fields and then goes through
the same import (and the same validation) as an uploaded file.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.utils import timezone

from inputs.imports import audience_import
from inputs.models import AudienceImport, AudienceSource
from workflows import outbound, secrets
from workflows.import_errors import count_errors
from workflows.pulls import pull_headers, record_pull
from workflows.redaction import redact, safe_url

# Our recipient fields; any other field of ours (or unmapped field of theirs) is an attribute.
RECIPIENT_FIELDS = (
    "customer_id",
    "email",
    "role",
    "plan",
    "consent",
    "usage_summary",
    "usage_as_of",
)
ATTRIBUTES = "attributes"
MAX_RESPONSE_BYTES = 50 * 1024 * 1024
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
        raise SourceError(
            "The response is not a list of records; give the path to the list in the source."
        )
    if not isinstance(field_mapping or {}, dict) or not all(
        isinstance(theirs, str) for theirs in (field_mapping or {}).values()
    ):
        raise SourceError(
            'The field mapping must map our field names to theirs, e.g. {"email": "contact.email"}.'
        )
    mapping = {
        ours: theirs.strip() for ours, theirs in (field_mapping or {}).items() if theirs.strip()
    }
    for ours in RECIPIENT_FIELDS:
        mapping.setdefault(ours, ours)
    read_keys = (
        {theirs.split(".", 1)[0] for theirs in mapping.values()}
        | set(RECIPIENT_FIELDS)
        | {ATTRIBUTES}
    )

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


def _headers(source: AudienceSource) -> tuple[dict[str, str], list[str]]:
    """Request headers and the secrets that must not appear in any message."""
    try:
        return pull_headers(secret_name=source.auth_secret, header=source.auth_header)
    except secrets.SecretError as exc:
        raise SourceError(str(exc)) from None


def _fetch(
    source: AudienceSource, *, url: str, headers: dict[str, str], credentials: list[str]
) -> Any:
    try:
        return outbound.get_json(
            source.url,
            headers=headers,
            timeout=source.timeout_seconds or None,
            max_bytes=MAX_RESPONSE_BYTES,
            label=url,
            secrets_to_redact=credentials,
        )
    except outbound.OutboundError as exc:
        raise SourceError(str(exc)) from None


# --- Pulling -----------------------------------------------------------------------------


def _record(source: AudienceSource, *, status: str, fetched_at: datetime | None, by) -> None:
    record_pull(source, status=status, fetched_at=fetched_at, by=by)


def audience_pull(
    *, source: AudienceSource, pulled_by=None, now: datetime | None = None
) -> AudienceImport:
    """Fetch the source, map its records and import them into the source's segment.

    Returns the AudienceImport (imported, or rejected with row errors). Raises SourceError
    when the source could not be fetched or read; the source's last_status says why either
    way. last_fetched_at moves only when recipients were imported, so it dates the data in use.
    """
    now = now or timezone.now()
    url = safe_url(source.url)
    hidden = outbound.url_secrets(source.url)
    try:
        headers, credentials = _headers(source)
        hidden += credentials
        payload = _fetch(source, url=url, headers=headers, credentials=credentials)
        mapped = map_records(
            payload, records_path=source.records_path, field_mapping=source.field_mapping or {}
        )
    except SourceError as exc:
        message = redact(str(exc), hidden)
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
        _record(
            source, status=f"imported {result.row_count} recipients", fetched_at=now, by=pulled_by
        )
    else:
        count = count_errors(result.errors or [])
        _record(
            source,
            status=f"rejected: {count} error{'' if count == 1 else 's'}",
            fetched_at=None,
            by=pulled_by,
        )
    return result


def source_age_hours(source: AudienceSource, now: datetime | None = None) -> float | None:
    """Hours since the source's data now in use was fetched; None if it never was."""
    if source.last_fetched_at is None:
        return None
    now = now or timezone.now()
    return max(0.0, (now - source.last_fetched_at).total_seconds() / 3600)
