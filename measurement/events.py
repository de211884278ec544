"""An event as a source reported it, before it is stored, and what ingesting a batch did. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KINDS = ("delivered", "opened", "clicked", "unsubscribed", "complained", "converted")


@dataclass(frozen=True)
class EventIn:
    """``key`` is the publish attempt's idempotency key, ``variant`` the run variant's key,
    ``recipient`` the customer id; ``email`` is used only to suppress an unsubscribe or a
    complaint and is never stored."""

    event_id: str
    kind: str
    occurred_at: datetime
    email: str = ""
    recipient: str = ""
    key: str = ""
    variant: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    unattributed: int = 0
    refused: list[str] = field(default_factory=list)
    ingest_id: int | None = None
    prompt_version_ids: frozenset[int] = frozenset()
