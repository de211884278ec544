"""Parse an eval dataset file (CSV or JSON) into brief rows, or into row-level errors. Pure functions.

A file is taken whole or not at all: every error is collected (up to ``MAX_ERRORS``) so one
upload shows everything to fix, with row numbers as a person sees them (CSV: the header is
row 1; JSON: the first record is row 1).

CSV columns: external_id, name, audience_role, plan_name (required); segment,
product_usage_summary, offer, offer_expires_at (ISO 8601 with a time zone), key_facts (one
per line, or separated by " | "), tags (separated by ";"), sends, clicks, unsubscribes,
upgrades (the past campaign's outcomes). JSON: a list of objects with the same keys, or
``{"items": [...]}``; key_facts and tags may be lists, outcomes may sit in ``metrics``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from workflows.import_errors import ErrorCollector, RowError
from workflows.uploads import (
    Upload,
    UploadError,
    UploadSource,
    chosen_format,
    format_from,
    scalar_text,
)

REQUIRED = ("external_id", "name", "audience_role", "plan_name")
TEXT_FIELDS = (
    "external_id",
    "name",
    "audience_role",
    "plan_name",
    "segment",
    "product_usage_summary",
    "offer",
)
METRIC_FIELDS = ("sends", "clicks", "unsubscribes", "upgrades")
KNOWN = (*TEXT_FIELDS, "offer_expires_at", "key_facts", "tags", "metrics", *METRIC_FIELDS)
# Mirrors evals.models.EvalDatasetItem, so a file that parses also fits the table.
MAX_LENGTHS = {
    "external_id": 120,
    "name": 200,
    "audience_role": 120,
    "plan_name": 120,
    "segment": 80,
}
MAX_TEXT = 20_000


@dataclass(frozen=True)
class BriefRow:
    external_id: str
    name: str
    audience_role: str
    plan_name: str
    segment: str = ""
    product_usage_summary: str = ""
    offer: str = ""
    offer_expires_at: datetime | None = None
    key_facts: str = ""
    tags: tuple[str, ...] = ()
    metrics: dict[str, int] = field(default_factory=dict)


@dataclass
class DatasetParse:
    rows: list[BriefRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _lines(value: Any, *, separator: str) -> list[str]:
    """A list of non-empty strings from a JSON list or from text split on newlines and ``separator``."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of strings")
        parts = value
    elif isinstance(value, str):
        parts = [p for line in value.splitlines() for p in line.split(separator)]
    else:
        raise ValueError(f"must be text or a list of strings, got {type(value).__name__}")
    return [p.strip() for p in parts if p.strip()]


def _timestamp(value: Any) -> datetime | None:
    text = scalar_text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from None
    if moment.utcoffset() is None:
        raise ValueError(f"needs a time zone, e.g. 2026-11-22T23:59:00Z: {text!r}")
    return moment


def _count(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ValueError(f"must be a whole number of at least 0, got {value!r}")
    if number < 0:
        raise ValueError("must be at least 0")
    return number


def _build(
    row_number: int, record: dict[str, Any], errors: ErrorCollector, seen: dict[str, int]
) -> BriefRow | None:
    before = len(errors.kept) + errors.dropped
    values: dict[str, str] = {}
    for name in TEXT_FIELDS:
        try:
            values[name] = scalar_text(record.get(name))
        except ValueError as exc:
            errors.add(row_number, name, str(exc))
            continue
        limit = MAX_LENGTHS.get(name, MAX_TEXT)
        if len(values[name]) > limit:
            errors.add(row_number, name, f"is longer than {limit} characters")
    for name in REQUIRED:
        if values.get(name) == "":
            errors.add(row_number, name, "is empty; every brief needs it")
    external_id = values.get("external_id")
    if external_id:
        first = seen.setdefault(external_id, row_number)
        if first != row_number:
            errors.add(
                row_number,
                "external_id",
                f"duplicate id {external_id!r}, first seen in row {first}",
            )
    expires = None
    try:
        expires = _timestamp(record.get("offer_expires_at"))
    except ValueError as exc:
        errors.add(row_number, "offer_expires_at", str(exc))
    if expires is not None and not values.get("offer"):
        errors.add(row_number, "offer_expires_at", "an expiry date needs an offer")
    facts: list[str] = []
    tags: list[str] = []
    try:
        facts = _lines(record.get("key_facts"), separator=" | ")
    except ValueError as exc:
        errors.add(row_number, "key_facts", str(exc))
    try:
        tags = _lines(record.get("tags"), separator=";")
    except ValueError as exc:
        errors.add(row_number, "tags", str(exc))
    metrics: dict[str, int] = {}
    source = record.get("metrics")
    if source is not None and not isinstance(source, dict):
        errors.add(row_number, "metrics", f"must be an object, got {type(source).__name__}")
        source = {}
    merged = {**(source or {}), **{k: record[k] for k in METRIC_FIELDS if k in record}}
    for name in METRIC_FIELDS:
        try:
            number = _count(merged.get(name))
        except ValueError as exc:
            errors.add(row_number, name, str(exc))
            continue
        if number is not None:
            metrics[name] = number
    unknown = sorted(set(merged) - set(METRIC_FIELDS))
    if unknown:
        errors.add(
            row_number,
            "metrics",
            f"unknown outcome names: {', '.join(unknown)} (known: {', '.join(METRIC_FIELDS)})",
        )
    if metrics and "sends" not in metrics:
        errors.add(row_number, "sends", "outcomes need the number of sends")
    elif metrics:
        over = [name for name in METRIC_FIELDS[1:] if metrics.get(name, 0) > metrics["sends"]]
        if over:
            errors.add(row_number, over[0], f"cannot exceed sends ({metrics['sends']})")
    if len(errors.kept) + errors.dropped > before:
        return None
    return BriefRow(
        external_id=values["external_id"],
        name=values["name"],
        audience_role=values["audience_role"],
        plan_name=values["plan_name"],
        segment=values["segment"],
        product_usage_summary=values["product_usage_summary"],
        offer=values["offer"],
        offer_expires_at=expires,
        key_facts="\n".join(facts),
        tags=tuple(tags),
        metrics=metrics,
    )


def _records_from_csv(
    lines: Iterable[str], errors: ErrorCollector
) -> list[tuple[int, dict[str, Any]]]:
    records = []
    reader = csv.reader(lines, strict=True)
    header: list[str] = []
    row_number = 0
    try:
        for cells in reader:
            row_number += 1
            if row_number == 1:
                header = [c.strip().lower() for c in cells]
                missing = [name for name in REQUIRED if name not in header]
                unknown = [name for name in header if name and name not in KNOWN]
                if missing:
                    errors.add(
                        1,
                        None,
                        f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                    )
                if unknown:
                    errors.add(
                        1,
                        None,
                        f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; known: {', '.join(KNOWN)}",
                    )
                if missing or unknown:
                    return []
                continue
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                errors.add(
                    row_number,
                    None,
                    f"has {len(cells)} values but the header has {len(header)} columns",
                )
                continue
            records.append((row_number, dict(zip(header, cells))))
    except csv.Error as exc:
        errors.add(row_number or 1, None, f"not readable as CSV: {exc}")
    return records


def _records_from_json(text: str, errors: ErrorCollector) -> list[tuple[int, dict[str, Any]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.add(
            None,
            None,
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
        )
        return []
    records = document.get("items") if isinstance(document, dict) else document
    if not isinstance(records, list):
        errors.add(
            None,
            None,
            'The JSON must be a list of brief objects, or an object with an "items" list.',
        )
        return []
    found = []
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            errors.add(index, None, f"must be a JSON object, got {type(record).__name__}")
            continue
        unknown = sorted(set(record) - set(KNOWN))
        if unknown:
            errors.add(index, None, f"unknown keys {', '.join(unknown)}")
            continue
        found.append((index, record))
    return found


def parse_dataset(
    data: UploadSource, *, filename: str = "", format: str | None = None, limit: int | None = None
) -> DatasetParse:
    """Parse a whole dataset file, read as a stream within the upload limit: rows, or every error and no rows."""
    given = chosen_format(format, what="dataset")
    errors = ErrorCollector()
    try:
        upload = Upload(data, limit=limit)
        first = upload.first_byte()
        if not first:
            return DatasetParse(errors=[RowError(None, None, "The file is empty.")])
        if (given or format_from(filename=filename, first_byte=first)) == "csv":
            records = _records_from_csv(upload.lines(), errors)
        else:
            records = _records_from_json(upload.read_text(), errors)
    except UploadError as exc:
        return DatasetParse(errors=[RowError(None, None, str(exc))])
    seen: dict[str, int] = {}
    rows = [
        row
        for number, record in records
        if (row := _build(number, record, errors, seen)) is not None
    ]
    if not errors.kept and not rows:
        errors.add(None, None, "The file has no briefs.")
    if errors.kept:
        return DatasetParse(errors=errors.as_list())
    return DatasetParse(rows=rows)


# --- Campaign outcomes per prompt version ---------------------------------------------------

OUTCOME_REQUIRED = ("prompt_version", "period_start", "period_end", "sends")
OUTCOME_COUNTS = ("sends", "clicks", "unsubscribes", "upgrades", "reviewed", "approved")
OUTCOME_COLUMNS = (
    *OUTCOME_REQUIRED,
    "clicks",
    "unsubscribes",
    "upgrades",
    "reviewed",
    "approved",
    "source",
)


@dataclass(frozen=True)
class OutcomeRow:
    row: int
    version: int
    period_start: date
    period_end: date
    counts: dict[str, int]
    source: str


@dataclass
class OutcomesParse:
    rows: list[OutcomeRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _version_number(text: str) -> int:
    number = text.strip().rsplit(":", 1)[-1].lower().removeprefix("v")
    if not number.isdigit():
        raise ValueError(f"not a prompt version like v7: {text!r}")
    return int(number)


def parse_outcomes(
    data: UploadSource, *, default_source: str = "import", limit: int | None = None
) -> OutcomesParse:
    """Parse a CSV of campaign outcomes, read as a stream within the upload limit: one row per prompt version and period."""
    errors = ErrorCollector()
    rows: list[OutcomeRow] = []
    header: list[str] = []
    row_number = 0
    try:
        upload = Upload(data, limit=limit)
        for cells in csv.reader(upload.lines(), strict=True):
            row_number += 1
            if row_number == 1:
                header = [c.strip().lower() for c in cells]
                missing = [c for c in OUTCOME_REQUIRED if c not in header]
                unknown = [c for c in header if c and c not in OUTCOME_COLUMNS]
                if missing or unknown:
                    if missing:
                        errors.add(1, None, f"missing required columns {', '.join(missing)}")
                    if unknown:
                        errors.add(
                            1,
                            None,
                            f"unknown columns {', '.join(unknown)}; known: {', '.join(OUTCOME_COLUMNS)}",
                        )
                    break
                continue
            if not cells or all(not c.strip() for c in cells):
                continue
            record = dict(zip(header, (c.strip() for c in cells)))
            before = len(errors.kept) + errors.dropped
            version = start = end = None
            try:
                version = _version_number(record.get("prompt_version", ""))
            except ValueError as exc:
                errors.add(row_number, "prompt_version", str(exc))
            for name in ("period_start", "period_end"):
                try:
                    value = date.fromisoformat(record.get(name, ""))
                except ValueError:
                    errors.add(
                        row_number, name, f"not a date like 2026-06-01: {record.get(name, '')!r}"
                    )
                    continue
                if name == "period_start":
                    start = value
                else:
                    end = value
            if start and end and end < start:
                errors.add(row_number, "period_end", "is before period_start")
            counts: dict[str, int] = {}
            for name in OUTCOME_COUNTS:
                try:
                    number = _count(record.get(name))
                except ValueError as exc:
                    errors.add(row_number, name, str(exc))
                    continue
                counts[name] = number or 0
            if "sends" in counts and not counts["sends"]:
                errors.add(row_number, "sends", "must be at least 1")
            for name in ("clicks", "unsubscribes", "upgrades"):
                if counts.get(name, 0) > counts.get("sends", 0) and counts.get("sends"):
                    errors.add(row_number, name, f"cannot exceed sends ({counts['sends']})")
            if counts.get("approved", 0) > counts.get("reviewed", 0):
                errors.add(
                    row_number, "approved", f"cannot exceed reviewed ({counts.get('reviewed', 0)})"
                )
            if len(errors.kept) + errors.dropped == before:
                rows.append(
                    OutcomeRow(
                        row_number,
                        version,
                        start,
                        end,
                        counts,
                        (record.get("source") or default_source)[:120],
                    )
                )
    except csv.Error as exc:
        errors.add(row_number or 1, None, f"not readable as CSV: {exc}")
    except UploadError as exc:
        return OutcomesParse(errors=[RowError(None, None, str(exc))])
    if not errors.kept and not rows:
        errors.add(None, None, "The file has no outcome rows.")
    if errors.kept:
        return OutcomesParse(errors=errors.as_list())
    return OutcomesParse(rows=rows)
