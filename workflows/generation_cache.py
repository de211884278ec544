"""The cache of identical generations: its key, and the in-memory cache read from and written to the table.

A generation is identified by everything that determines it (prompt version, rendered messages,
model and parameters); a hit costs no tokens.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import F

from workflows.models import GenerationCacheEntry, Run


def cache_key(
    *,
    prompt_version_id: int,
    model: str,
    messages: list[dict[str, str]],
    temperature: float,
    max_tokens: int,
    schema: dict,
    structured_output: str,
    seed: int | None = None,
) -> str:
    material = {
        "prompt_version": prompt_version_id,
        "model": model,
        "messages": messages,
        "temperature": round(float(temperature), 4),
        "max_tokens": int(max_tokens),
        "schema": schema,
        "structured_output": structured_output,
    }
    if seed is not None:
        material["seed"] = int(seed)
    material = json.dumps(
        material,
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class CachedGeneration:
    text: str
    origin: str  # where it came from, e.g. "run 12"


class GenerationCache(Protocol):
    def lookup(self, key: str) -> CachedGeneration | None: ...

    def record_hit(self, key: str) -> None: ...

    def store(
        self, key: str, *, model: str, text: str, input_tokens: int, output_tokens: int
    ) -> None: ...


class MemoryCache:
    """Cache entries read beforehand; hits and new entries are kept for the caller to write.

    For worker threads that must not touch the database (SQLite has one writer): runs and eval
    suites read their entries with ``preloaded`` and write with ``write`` on their own thread.
    """

    def __init__(
        self, entries: dict[str, CachedGeneration] | None = None, *, origin: str = "an eval suite"
    ):
        self._entries = dict(entries or {})
        self._lock = threading.Lock()
        self.origin = origin  # what a later hit on an entry stored here names as its source
        self.hits: list[str] = []
        self.new_entries: dict[str, dict[str, Any]] = {}

    @classmethod
    def preloaded(cls, keys, *, origin: str = "an eval suite") -> MemoryCache:
        """A cache holding the stored entries of ``keys``, read now (in batches of 500)."""
        entries: dict[str, CachedGeneration] = {}
        ordered = sorted(set(keys))
        for start in range(0, len(ordered), 500):
            for key, text, run_id in GenerationCacheEntry.objects.filter(
                key__in=ordered[start : start + 500]
            ).values_list("key", "response_text", "source_run_id"):
                entries[key] = CachedGeneration(
                    text=text, origin=f"run {run_id}" if run_id else "an eval suite"
                )
        return cls(entries, origin=origin)

    def view(self) -> MemoryCache:
        """The same entries, with hits and new entries of its own (one caller's writes)."""
        view = MemoryCache(origin=self.origin)
        view._entries, view._lock = self._entries, self._lock
        return view

    def lookup(self, key: str) -> CachedGeneration | None:
        with self._lock:
            return self._entries.get(key)

    def record_hit(self, key: str) -> None:
        with self._lock:
            self.hits.append(key)

    def store(
        self, key: str, *, model: str, text: str, input_tokens: int, output_tokens: int
    ) -> None:
        with self._lock:
            self._entries[key] = CachedGeneration(text=text, origin=self.origin)
            self.new_entries[key] = {
                "model_name": model,
                "response_text": text,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
            }

    def take_writes(self) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """The hits and new entries since the last call, for the caller to write."""
        with self._lock:
            hits, new = self.hits, self.new_entries
            self.hits, self.new_entries = [], {}
        return hits, new

    def write(self, *, source_run: Run | None = None) -> None:
        """Write the hits and new entries taken since the last call (the caller's thread)."""
        hits, new_entries = self.take_writes()
        for key in hits:
            GenerationCacheEntry.objects.filter(key=key).update(hits=F("hits") + 1)
        for key, values in new_entries.items():
            GenerationCacheEntry.objects.update_or_create(
                key=key, defaults={**values, "source_run": source_run}
            )
