"""Pulling a workflow's daily ad rows from an HTTP JSON endpoint (an AnalyticsSource).

The request goes through the guarded outbound client (workflows.outbound); the credential is
an operator-named secret (workflows.secrets), read at pull time and never stored, logged or put
in a message. The records (objects with our column names, at ``records_path``) go through the
same validation and import as an uploaded file: a bad response is rejected whole.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.utils import timezone

from analytics.imports import analytics_import
from analytics.models import AnalyticsImport, AnalyticsSource
from workflows import outbound, secrets
from workflows.import_errors import count_errors
from workflows.pulls import pull_headers, record_pull
from workflows.redaction import redact, safe_url

MAX_RESPONSE_BYTES = 50 * 1024 * 1024


class SourceError(Exception):
    """A pull that could not fetch or read its source. The message is a plain sentence, free of secrets."""


def records_at(payload: Any, records_path: str) -> list:
    """The list of records at the dotted ``records_path`` of the response."""
    value = payload
    for key in records_path.split(".") if records_path else ():
        if not isinstance(value, dict) or key not in value:
            raise SourceError(f"The response has no list at '{records_path}'.")
        value = value[key]
    if not isinstance(value, list):
        if records_path:
            raise SourceError(f"The response has no list at '{records_path}'.")
        raise SourceError(
            "The response is not a list of rows; give the path to the list in the source."
        )
    return value


def _headers(source: AnalyticsSource) -> tuple[dict[str, str], list[str]]:
    """Request headers and the secrets that must not appear in any message."""
    try:
        return pull_headers(secret_name=source.auth_secret, header=source.auth_header)
    except secrets.SecretError as exc:
        raise SourceError(str(exc)) from None


def _record(source: AnalyticsSource, *, status: str, fetched_at: datetime | None, by) -> None:
    record_pull(source, status=status, fetched_at=fetched_at, by=by)


def analytics_pull(
    *, source: AnalyticsSource, pulled_by=None, now: datetime | None = None
) -> AnalyticsImport:
    """Fetch the source and import its rows into the source's workflow.

    Returns the AnalyticsImport (imported, or rejected with row errors). Raises SourceError
    when the source could not be fetched or read. The source's last_status says what happened
    either way; last_fetched_at moves only when rows were imported.
    """
    now = now or timezone.now()
    url = safe_url(source.url)
    hidden = outbound.url_secrets(source.url)
    try:
        headers, credentials = _headers(source)
        hidden += credentials
        try:
            payload = outbound.get_json(
                source.url,
                headers=headers,
                timeout=source.timeout_seconds or None,
                max_bytes=MAX_RESPONSE_BYTES,
                label=url,
                secrets_to_redact=credentials,
            )
        except outbound.OutboundError as exc:
            raise SourceError(str(exc)) from None
        records = records_at(payload, source.records_path)
    except SourceError as exc:
        message = redact(str(exc), hidden)
        _record(source, status=message, fetched_at=None, by=pulled_by)
        raise SourceError(message) from None

    result = analytics_import(
        workflow=source.workflow,
        data=json.dumps({"rows": records}).encode(),
        filename=url,
        format="json",
        imported_by=pulled_by,
        now=now,
    )
    if result.status == AnalyticsImport.Status.IMPORTED:
        _record(source, status=f"imported {result.row_count} rows", fetched_at=now, by=pulled_by)
    else:
        count = count_errors(result.errors or [])
        _record(
            source,
            status=f"rejected: {count} error{'' if count == 1 else 's'}",
            fetched_at=None,
            by=pulled_by,
        )
    return result
