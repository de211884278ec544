"""What every public webhook endpoint shares (event triggers, email platforms' events)."""

from __future__ import annotations


def bounded_body(request, limit: int) -> bytes | None:
    """The request body, or None when it is over ``limit`` bytes (never read past limit + 1)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body
