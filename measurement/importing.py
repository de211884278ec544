"""Parse a file of campaign events (CSV or JSON) into ``EventIn``, or into row-level errors.

Columns: ``event_id``, ``kind`` (delivered, opened, clicked, unsubscribed, complained,
converted), ``occurred_at`` (ISO 8601; without an offset it is read in the server's time zone; a
bare date is its midnight), ``key`` (the publish key the email carried: ``marketingai_key``),
``variant`` (``marketingai_variant``), ``recipient`` (the customer id), and optionally ``email``
(only to suppress an unsubscribe or complaint; never stored). Other columns are ignored.
A file with any error is rejected whole, every error listed with its row as a person counts it
(in a CSV the header is row 1; in JSON the first record is row 1).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from typing import Any

from measurement.events import KINDS, EventIn
from workflows.import_errors import ErrorCollector, RowError
from workflows.uploads import (
    Upload,
    UploadError,
    UploadSource,
    chosen_format,
    format_from,
    scalar_text,
)

REQUIRED_COLUMNS = ("event_id", "kind", "occurred_at", "key", "variant", "recipient")
OPTIONAL_COLUMNS = ("email",)
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_LENGTHS = {"event_id": 200, "key": 60, "variant": 200, "recipient": 200, "email": 254}
RECORDS_KEY = "events"


@dataclass
class ParseResult:
    events: list[EventIn] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_moment(text: str, *, zone: tzinfo, now: datetime) -> datetime:
    if not text:
        raise ValueError("is empty; give the time it happened (ISO 8601)")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or time: {text!r}") from None
    if len(text) == 10:  # a bare date: its midnight
        moment = datetime.combine(date.fromisoformat(text), time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment > now:
        raise ValueError(f"{text} is in the future")
    return moment


class _Builder:
    def __init__(self, errors: ErrorCollector, zone: tzinfo, now: datetime) -> None:
        self.errors = errors
        self.zone = zone
        self.now = now
        self.first_row_of: dict[str, int] = {}
        self.events: list[EventIn] = []

    def add(self, row: int, known: dict[str, Any]) -> None:
        texts: dict[str, str] = {}
        for column in KNOWN_COLUMNS:
            try:
                texts[column] = scalar_text(known.get(column))
            except ValueError as exc:
                self.errors.add(row, column, str(exc))
                continue
            limit = MAX_LENGTHS.get(column)
            if limit and len(texts[column]) > limit:
                self.errors.add(row, column, f"is longer than {limit} characters")
        for column in ("event_id", "key", "recipient"):
            if column in texts and not texts[column]:
                self.errors.add(row, column, f"is empty; every event needs its {column}")
        kind = texts.get("kind", "").lower()
        if "kind" in texts and kind not in KINDS:
            self.errors.add(row, "kind", f"{kind or '(empty)'} is not one of {', '.join(KINDS)}")
        moment = None
        if "occurred_at" in texts:
            try:
                moment = parse_moment(texts["occurred_at"], zone=self.zone, now=self.now)
            except ValueError as exc:
                self.errors.add(row, "occurred_at", str(exc))
        event_id = texts.get("event_id")
        if event_id:
            first = self.first_row_of.setdefault(event_id, row)
            if first != row:
                self.errors.add(row, "event_id", f"{event_id} is already in row {first}")
        if self.errors:
            return  # the file is rejected: its events are no longer needed
        self.events.append(
            EventIn(
                event_id=texts["event_id"],
                kind=kind,
                occurred_at=moment,
                email=texts.get("email", ""),
                recipient=texts["recipient"],
                key=texts["key"],
                variant=texts["variant"],
            )
        )


def _header_ok(header: list[str], errors: ErrorCollector) -> bool:
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    repeated = sorted({n for n in header if n in KNOWN_COLUMNS and header.count(n) > 1})
    if missing:
        found = ", ".join(n for n in header if n) or "no column names"
        errors.add(1, None, f"missing column(s) {', '.join(missing)} (the header has: {found})")
    if repeated:
        errors.add(1, None, f"column(s) {', '.join(repeated)} appear more than once")
    return not (missing or repeated)


def _parse_csv(lines: Iterable[str], errors: ErrorCollector, builder: _Builder) -> None:
    reader = csv.reader(lines, strict=True)
    row = 0
    header: list[str] = []
    try:
        for record in reader:
            row += 1
            if row == 1:
                header = [name.strip().lower() for name in record]
                if not _header_ok(header, errors):
                    return
                continue
            if not record or all(not value.strip() for value in record):
                continue
            if len(record) > len(header):
                errors.add(row, None, f"has {len(record)} values but the header has {len(header)}")
                continue
            builder.add(row, {n: v for n, v in zip(header, record) if n in KNOWN_COLUMNS})
    except csv.Error as exc:
        errors.add(row or 1, None, f"not readable as CSV: {exc}")
        return
    if row == 0:
        errors.add(None, None, "The file is empty.")
    elif not builder.events and not errors:
        errors.add(None, None, "The file has a header but no events.")


def _parse_json(text: str, errors: ErrorCollector, builder: _Builder) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.add(None, None, f"The file is not valid JSON: {exc.msg} at line {exc.lineno}.")
        return
    records = document.get(RECORDS_KEY) if isinstance(document, dict) else document
    if not isinstance(records, list) or not records:
        errors.add(
            None, None, 'The JSON must be a non-empty list of events (or {"events": [...]}).'
        )
        return
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            errors.add(index, None, f"must be a JSON object, got {type(record).__name__}")
            continue
        missing = [name for name in REQUIRED_COLUMNS if name not in record]
        if missing:
            errors.add(index, None, f"has no {', '.join(missing)}")
            continue
        builder.add(index, {k: record[k] for k in KNOWN_COLUMNS if k in record})


def parse_events(
    data: UploadSource,
    *,
    zone: tzinfo,
    now: datetime,
    filename: str = "",
    format: str | None = None,
) -> ParseResult:
    """Parse a whole file: the result has either events or errors, never part of a file."""
    given = chosen_format(format, what="events")
    errors = ErrorCollector()
    builder = _Builder(errors, zone, now)
    try:
        upload = Upload(data)
        first = upload.first_byte()
        if not first:
            return ParseResult(errors=[RowError(None, None, "The file is empty.")])
        if (given or format_from(filename=filename, first_byte=first)) == "csv":
            _parse_csv(upload.lines(), errors, builder)
        else:
            _parse_json(upload.read_text(), errors, builder)
    except UploadError as exc:
        return ParseResult(errors=[RowError(None, None, str(exc))])
    if errors:
        return ParseResult(errors=errors.as_list())
    return ParseResult(events=builder.events)
