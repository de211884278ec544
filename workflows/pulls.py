"""What every pull from an operator's HTTP JSON source shares (audience and analytics sources).

A source names the secret holding its credential and the header it goes in; its pull records a
one-line status and, when data was imported, the time it was fetched.
"""

from __future__ import annotations

from datetime import datetime

from workflows import secrets
from workflows.models import with_history_context


def pull_headers(*, secret_name: str, header: str) -> tuple[dict[str, str], list[str]]:
    """Request headers, and the values that must not appear in any message.

    A bare token in the Authorization header gets the usual Bearer scheme. Raises
    ``secrets.SecretError`` when the named secret is not configured.
    """
    headers = {"Accept": "application/json"}
    name = secret_name.strip()
    if not name:
        return headers, []
    credential = secrets.get(name)
    header = header.strip() or "Authorization"
    value = credential
    if header.lower() == "authorization" and " " not in credential.strip():
        value = f"Bearer {credential.strip()}"
    headers[header] = value
    return headers, [credential, credential.strip(), value]


def record_pull(source, *, status: str, fetched_at: datetime | None, by) -> None:
    """Store a pull's status (cut to the field) and, when data was imported, its fetch time."""
    source.last_status = status[: source._meta.get_field("last_status").max_length]
    fields = ["last_status"]
    if fetched_at is not None:
        source.last_fetched_at = fetched_at
        fields.append("last_fetched_at")
    with_history_context(source, by=by, reason=f"Pull: {source.last_status}")
    source.save(update_fields=fields)
