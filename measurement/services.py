"""Campaign events in: the one path every source takes (webhook, file import, API, shell).

``events_ingest`` stores each event once per source and event id, ties it to the run, run
variant and prompt version through the ids publishing sent (the publish attempt's key and the
variant's key), counts it into the daily rollup in the same transaction, hands unsubscribes and
complaints to the suppression list and, once committed, announces the prompt versions it
counted for (``workflows.pipeline.announce_metrics_recorded``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from measurement.events import EventIn, IngestResult
from measurement.importing import parse_events
from measurement.models import (
    EVENT_FIELDS,
    KIND_FIELDS,
    SUPPRESSING_KINDS,
    CampaignEvent,
    DailyRollup,
    EventIngest,
    EventKind,
    RecipientFirstEvent,
)
from publishing.selectors import runs_by_attempt_key
from publishing.services.suppression import addresses_suppress
from workflows import pipeline
from workflows.import_errors import MAX_ERRORS, MORE_ERRORS_PREFIX, count_errors
from workflows.lifecycle import with_history_context
from workflows.models import Run, RunVariant
from workflows.uploads import UploadSource

CHUNK_SIZE = 5000
COUNTERS = [*KIND_FIELDS, *EVENT_FIELDS]
MAX_LENGTHS = {
    "source": CampaignEvent._meta.get_field("source").max_length,
    "event_id": CampaignEvent._meta.get_field("event_id").max_length,
    "recipient": CampaignEvent._meta.get_field("recipient").max_length,
    "key": CampaignEvent._meta.get_field("attempt_key").max_length,
    "variant": CampaignEvent._meta.get_field("variant_key").max_length,
}


class _Refusals:
    def __init__(self) -> None:
        self.kept: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_ERRORS:
            self.kept.append(message)

    def as_list(self) -> list[str]:
        dropped = self.count - len(self.kept)
        if not dropped:
            return list(self.kept)
        return [*self.kept, f"{MORE_ERRORS_PREFIX}{dropped} more error{'s' if dropped > 1 else ''}"]


def event_refusal(event: EventIn) -> str | None:
    """Why an event cannot be stored, or None."""
    if not isinstance(event.event_id, str) or not event.event_id.strip():
        return "has no event id"
    if event.kind not in EventKind.values:
        return f"kind {event.kind!r} is not one of {', '.join(EventKind.values)}"
    if not isinstance(event.occurred_at, datetime):
        return "has no time it occurred"
    if timezone.is_naive(event.occurred_at):
        return "gives its time without a time zone"
    for name in ("event_id", "recipient", "key", "variant"):
        value = getattr(event, name)
        if not isinstance(value, str):
            return f"{name} must be text"
        if len(value) > MAX_LENGTHS[name]:
            return f"{name} is longer than {MAX_LENGTHS[name]} characters"
    return None


def _chunks(events: Iterable[EventIn], size: int) -> Iterator[list[EventIn]]:
    iterator = iter(events)
    while chunk := list(islice(iterator, size)):
        yield chunk


def events_ingest(
    *,
    events: Iterable[EventIn],
    source: str,
    by=None,
    channel: str = EventIngest.Channel.API,
    source_name: str = "",
    refused: Iterable[str] = (),
) -> IngestResult:
    """Store, attribute and count ``events`` from ``source``; returns what became of them.

    Events are taken in chunks, each in one transaction with the rollup increments it causes.
    A repeated event id (already stored for this source, or twice in the batch) is a duplicate:
    counted nowhere. An event whose publish key names no delivery (or whose variant key is not
    the run's) is stored and counted as unattributed, never rolled up. An event that cannot be
    stored (no id, unknown kind, a time without zone) is refused with a reason; the rest go on.
    ``refused`` adds what a source's parser already refused, so the ingest record lists it too.
    """
    source = (source or "").strip().lower()
    if not source or len(source) > MAX_LENGTHS["source"]:
        raise ValueError(f"Name the events' source in at most {MAX_LENGTHS['source']} characters.")
    ingest = EventIngest(
        channel=channel, source=source, source_name=source_name[:300], received_by=by
    )
    with_history_context(ingest, by=by, reason=f"Events from {source} received")
    ingest.save()

    result = IngestResult(ingest_id=ingest.pk)
    refusals = _Refusals()
    for message in refused:
        refusals.add(message)
    touched: set[int] = set()
    received = 0
    watermark = 0  # the highest primary key this ingest has stored so far
    for chunk in _chunks(events, CHUNK_SIZE):
        received += len(chunk)
        fresh: dict[str, EventIn] = {}
        for event in chunk:
            reason = event_refusal(event)
            if reason:
                refusals.add(f"event {str(event.event_id)[:80] or '(no id)'}: {reason}")
                continue
            if event.event_id in fresh:
                result.duplicates += 1
                continue
            fresh[event.event_id] = event
        if fresh:
            watermark = _ingest_chunk(
                list(fresh.values()),
                source=source,
                ingest=ingest,
                watermark=watermark,
                by=by,
                result=result,
                touched=touched,
            )

    result.refused = refusals.as_list()
    result.prompt_version_ids = frozenset(touched)
    ingest.received_count = received
    ingest.stored_count = result.stored
    ingest.duplicate_count = result.duplicates
    ingest.unattributed_count = result.unattributed
    ingest.refused_count = refusals.count
    ingest.errors = result.refused
    with_history_context(
        ingest,
        by=by,
        reason=f"{result.stored} stored, {result.duplicates} duplicates, "
        f"{result.unattributed} unattributed, {refusals.count} refused",
    )
    ingest.save(
        update_fields=[
            "received_count",
            "stored_count",
            "duplicate_count",
            "unattributed_count",
            "refused_count",
            "errors",
        ]
    )
    if touched:
        pipeline.announce_metrics_recorded(
            pipeline.MetricsRecorded(prompt_version_ids=frozenset(touched), source=source)
        )
    return result


@dataclass(frozen=True)
class _Attribution:
    run_id: int
    run_variant_id: int | None
    prompt_version_id: int


def _attribute(events: list[EventIn]) -> dict[tuple[str, str], _Attribution]:
    """``{(publish key, variant key): attribution}`` for the keys that name a delivery."""
    run_of_key = runs_by_attempt_key(event.key for event in events)
    if not run_of_key:
        return {}
    run_ids = set(run_of_key.values())
    version_of_run = dict(Run.objects.filter(pk__in=run_ids).values_list("pk", "prompt_version_id"))
    variant_keys = {event.variant for event in events if event.key in run_of_key}
    variant_of = {
        (run_id, key): pk
        for pk, run_id, key in RunVariant.objects.filter(
            run_id__in=run_ids, key__in=variant_keys
        ).values_list("pk", "run_id", "key")
    }
    found = {}
    for event in events:
        run_id = run_of_key.get(event.key)
        if run_id is not None:
            found[(event.key, event.variant)] = _Attribution(
                run_id=run_id,
                run_variant_id=variant_of.get((run_id, event.variant)),
                prompt_version_id=version_of_run[run_id],
            )
    return found


def _day(moment: datetime) -> date:
    return timezone.localdate(moment)


@transaction.atomic
def _ingest_chunk(
    events: list[EventIn],
    *,
    source: str,
    ingest: EventIngest,
    watermark: int,
    by,
    result: IngestResult,
    touched: set[int],
) -> int:
    """Store, count and roll up one chunk (event ids unique within it); returns the new watermark."""
    attribution = _attribute(events)
    now = timezone.now()
    rows = []
    for event in events:
        where = attribution.get((event.key, event.variant))
        rows.append(
            CampaignEvent(
                ingest=ingest,
                source=source,
                event_id=event.event_id,
                kind=event.kind,
                occurred_at=event.occurred_at,
                received_at=now,
                run_id=where.run_id if where else None,
                run_variant_id=where.run_variant_id if where else None,
                prompt_version_id=where.prompt_version_id if where else None,
                recipient=event.recipient,
                attempt_key=event.key,
                variant_key=event.variant,
                extra=dict(event.extra),
            )
        )
    # The unique (source, event_id) constraint drops what is already stored (by an earlier
    # chunk or ingest, or another writer meanwhile). This ingest's rows above the watermark are
    # exactly the ones this chunk added: only this call writes rows of this ingest.
    CampaignEvent.objects.bulk_create(rows, ignore_conflicts=True)
    stored_pk = dict(
        CampaignEvent.objects.filter(ingest=ingest, pk__gt=watermark).values_list("event_id", "pk")
    )
    result.stored += len(stored_pk)
    result.duplicates += len(events) - len(stored_pk)

    events_counted: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # (run variant, kind, recipient) -> (when, event pk, day) of the chunk's earliest such event
    firsts: dict[tuple[int, str, str], tuple[datetime, int, date]] = {}
    variant_home: dict[int, _Attribution] = {}
    suppress: list[tuple[str, str]] = []
    for event in events:
        pk = stored_pk.get(event.event_id)
        if pk is None:
            continue
        if event.kind in SUPPRESSING_KINDS and event.email:
            suppress.append((event.email, f"{EventKind(event.kind).label} ({source} event)"))
        where = attribution.get((event.key, event.variant))
        if where is None or where.run_variant_id is None:
            result.unattributed += 1
            continue
        variant_home[where.run_variant_id] = where
        touched.add(where.prompt_version_id)
        day = _day(event.occurred_at)
        events_counted[(where.run_variant_id, day)][f"{event.kind}_events"] += 1
        if event.recipient:
            first_key = (where.run_variant_id, event.kind, event.recipient)
            earlier = firsts.get(first_key)
            if earlier is None or event.occurred_at < earlier[0]:
                firsts[first_key] = (event.occurred_at, pk, day)
    if firsts:
        # A recipient already counted for this variant and kind (an earlier chunk or ingest)
        # conflicts and is dropped; the rows that went in are read back by their event.
        RecipientFirstEvent.objects.bulk_create(
            [
                RecipientFirstEvent(
                    run_variant_id=variant_id, kind=kind, recipient=who, event_id=pk, day=day
                )
                for (variant_id, kind, who), (_, pk, day) in firsts.items()
            ],
            ignore_conflicts=True,
        )
        for variant_id, kind, day in RecipientFirstEvent.objects.filter(
            event_id__in=[pk for _, pk, _ in firsts.values()]
        ).values_list("run_variant_id", "kind", "day"):
            events_counted[(variant_id, day)][kind] += 1
    _rollups_add(events_counted, variant_home)
    if suppress:
        addresses_suppress(addresses=suppress, by=by)
    return max(stored_pk.values(), default=watermark)


def _rollups_add(
    increments: dict[tuple[int, date], dict[str, int]], variant_home: dict[int, _Attribution]
) -> None:
    """Add the counts to each (run variant, day) row, creating the rows that do not exist yet.

    One upsert statement run for every row (SQLite and PostgreSQL both take ``ON CONFLICT ...
    DO UPDATE``): each counter becomes its stored value plus the increment inside the database,
    so concurrent writers never overwrite each other's counts, and thousands of rows take one
    round of ``executemany`` instead of one ORM update each.
    """
    if not increments:
        return
    quote = connection.ops.quote_name
    table = quote(DailyRollup._meta.db_table)
    keys = ["prompt_version_id", "run_id", "run_variant_id", "day"]
    columns = ", ".join(quote(name) for name in [*keys, *COUNTERS])
    placeholders = ", ".join(["%s"] * (len(keys) + len(COUNTERS)))
    additions = ", ".join(
        f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in COUNTERS
    )
    statement = (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT ({quote('run_variant_id')}, {quote('day')}) DO UPDATE SET {additions}"
    )
    day_field = DailyRollup._meta.get_field("day")
    rows = [
        (
            variant_home[variant_id].prompt_version_id,
            variant_home[variant_id].run_id,
            variant_id,
            day_field.get_db_prep_value(day, connection),
            *(counts.get(name, 0) for name in COUNTERS),
        )
        for (variant_id, day), counts in increments.items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)


def events_import(
    *,
    data: UploadSource,
    filename: str,
    source: str,
    by=None,
    format: str | None = None,
) -> EventIngest:
    """Import a file of events (bytes, an upload or an open binary file), all or nothing.

    A file with any bad row is recorded as a rejected import listing its row errors, and nothing
    is stored. A clean file goes through ``events_ingest`` in one transaction; events already
    stored (by id, per source) are duplicates, so importing a file again counts nothing twice.
    """
    now = timezone.now()
    parsed = parse_events(
        data, zone=timezone.get_current_timezone(), now=now, filename=filename, format=format
    )
    if not parsed.ok:
        ingest = EventIngest(
            channel=EventIngest.Channel.FILE,
            source=(source or "").strip().lower()[: MAX_LENGTHS["source"]] or "(none)",
            source_name=(filename or "(unnamed)")[:300],
            status=EventIngest.Status.REJECTED,
            errors=[str(error) for error in parsed.errors],
            refused_count=count_errors([str(error) for error in parsed.errors]),
            received_by=by,
        )
        with_history_context(
            ingest, by=by, reason=f"Rejected {filename}: {ingest.refused_count} errors"
        )
        ingest.save()
        return ingest
    with transaction.atomic():
        result = events_ingest(
            events=parsed.events,
            source=source,
            by=by,
            channel=EventIngest.Channel.FILE,
            source_name=filename or "(unnamed)",
        )
    return EventIngest.objects.get(pk=result.ingest_id)
