"""Parse a recipient file (CSV or JSON) into validated rows, or into row-level errors. Pure functions.

Nothing here touches the database: ``parse_recipients`` turns a file (bytes, an upload or an
open binary file, read as a stream within the upload size limit) into a ``ParseResult`` and
the service in ``inputs.imports`` stores it, all or nothing. Every error is collected (up to
``workflows.import_errors.MAX_ERRORS``) so one upload shows the person everything to fix, with row numbers as they see
them in the file: in a CSV the header is row 1 and the first recipient row 2; in JSON the first
record is row 1.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from workflows.import_errors import ErrorCollector, RowError
from workflows.uploads import (
    Upload,
    UploadError,
    UploadSource,
    chosen_format,
    format_from,
    scalar_text,
)

REQUIRED_COLUMNS = ("customer_id", "email", "consent")
OPTIONAL_COLUMNS = ("role", "plan", "usage_summary", "usage_as_of")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Mirrors the lengths of inputs.models.Recipient, so a file that parses also fits the table.
MAX_LENGTHS = {"customer_id": 120, "email": 254, "role": 120, "plan": 120}
FUTURE_TOLERANCE = timedelta(hours=1)

OPTED_IN = "opted_in"
OPTED_OUT = "opted_out"
CONSENT_VALUES = {
    **dict.fromkeys(("opted_in", "in", "true", "yes", "1", "subscribed"), OPTED_IN),
    **dict.fromkeys(("opted_out", "out", "false", "no", "0", "unsubscribed"), OPTED_OUT),
}
CONSENT_MESSAGE = (
    "consent must be opted_in or opted_out (also accepted: in/out, yes/no, true/false, 1/0, "
    "subscribed/unsubscribed); never guessed"
)


@dataclass(frozen=True)
class RecipientRow:
    customer_id: str
    email: str
    consent: str  # "opted_in" or "opted_out"
    role: str = ""
    plan: str = ""
    usage_summary: str = ""
    usage_as_of: datetime | None = None  # always aware
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParseResult:
    rows: list[RecipientRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- Field checks ----------------------------------------------------------------------


def parse_consent(value: Any) -> str:
    """Map an accepted consent spelling to opted_in/opted_out; raise ValueError for anything else."""
    if isinstance(value, bool):
        return OPTED_IN if value else OPTED_OUT
    if isinstance(value, int) and value in (0, 1):
        return OPTED_IN if value else OPTED_OUT
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        if key in CONSENT_VALUES:
            return CONSENT_VALUES[key]
    shown = "empty" if value in (None, "") else repr(value)
    raise ValueError(f"{CONSENT_MESSAGE}, got {shown}")


def parse_timestamp(value: str, *, now: datetime) -> datetime | None:
    """An aware datetime from ISO 8601 text, None for empty text; raise ValueError when unusable."""
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp with a time zone: {text!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"needs a time zone, e.g. 2026-11-22T08:00:00Z: {text!r}")
    if moment > now + FUTURE_TOLERANCE:
        raise ValueError(f"is more than 1 hour in the future: {text!r}")
    return moment


class _RowBuilder:
    """Validates one record at a time and remembers customer ids across the file."""

    def __init__(self, errors: ErrorCollector, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime, e.g. django.utils.timezone.now().")
        self.errors = errors
        self.now = now
        self.first_row_of: dict[str, int] = {}
        self.rows: list[RecipientRow] = []

    def add(self, row_number: int, known: dict[str, Any], attributes: dict[str, Any]) -> None:
        """Check the known fields of one record; keep it as a row or add its errors."""
        error = self.errors.add
        values: dict[str, str] = {}
        for column in ("customer_id", "email", "role", "plan", "usage_summary"):
            try:
                values[column] = scalar_text(known.get(column))
            except ValueError as exc:
                error(row_number, column, str(exc))
                continue
            limit = MAX_LENGTHS.get(column)
            if limit and len(values[column]) > limit:
                error(row_number, column, f"is longer than {limit} characters")

        customer_id = values.get("customer_id")
        if customer_id == "":
            error(row_number, "customer_id", "is empty; every recipient needs a customer id")
        elif customer_id is not None:
            first = self.first_row_of.setdefault(customer_id, row_number)
            if first != row_number:
                error(
                    row_number,
                    "customer_id",
                    f"duplicate customer id {customer_id!r}, first seen in row {first}",
                )

        email = values.get("email")
        if email == "":
            error(row_number, "email", "is empty; every recipient needs an email address")
        elif email is not None:
            try:
                validate_email(email)
            except ValidationError:
                error(row_number, "email", f"not a valid email address: {email!r}")

        consent = ""
        try:
            consent = parse_consent(known.get("consent"))
        except ValueError as exc:
            error(row_number, "consent", str(exc))

        usage_as_of = None
        raw_as_of = known.get("usage_as_of")
        if isinstance(raw_as_of, str):
            try:
                usage_as_of = parse_timestamp(raw_as_of, now=self.now)
            except ValueError as exc:
                error(row_number, "usage_as_of", str(exc))
        elif raw_as_of is not None:
            error(
                row_number,
                "usage_as_of",
                f"not an ISO 8601 timestamp with a time zone: {raw_as_of!r}",
            )

        if self.errors:
            return  # the file is rejected: its rows are no longer needed
        self.rows.append(
            RecipientRow(
                customer_id=customer_id,
                email=email,
                consent=consent,
                role=values["role"],
                plan=values["plan"],
                usage_summary=values["usage_summary"],
                usage_as_of=usage_as_of,
                attributes=attributes,
            )
        )


# --- Formats ---------------------------------------------------------------------------


def _parse_csv(lines: Iterable[str], errors: ErrorCollector, builder: _RowBuilder) -> None:
    # csv.reader rather than DictReader: DictReader skips blank lines, which would shift the
    # row numbers away from the ones a person sees in a spreadsheet.
    reader = csv.reader(lines, strict=True)
    row_number = 0
    try:
        for record in reader:
            row_number += 1
            if row_number == 1:
                header = [name.strip() for name in record]
                columns = _csv_columns(header, errors)
                if columns is None:
                    return
                continue
            if not record or all(not value.strip() for value in record):
                continue  # a blank line is no recipient
            if len(record) > len(header):
                errors.add(
                    row_number,
                    None,
                    f"has {len(record)} values but the header has {len(header)} columns; check for an unquoted comma",
                )
                continue
            known: dict[str, Any] = {}
            attributes: dict[str, Any] = {}
            for (name, is_known), value in zip(columns, record):
                if is_known:
                    known[name] = value
                elif value.strip():
                    if not name:
                        errors.add(
                            row_number,
                            None,
                            f"has a value in a column without a name: {value.strip()!r}",
                        )
                    else:
                        attributes[name] = value.strip()
            builder.add(row_number, known, attributes)
    except csv.Error as exc:
        errors.add(row_number or 1, None, f"not readable as CSV: {exc}")
        return
    if row_number == 0:
        errors.add(None, None, "The file is empty.")
    elif not builder.rows and not errors:
        errors.add(None, None, "The file has a header but no recipient rows.")


def _csv_columns(header: list[str], errors: ErrorCollector) -> list[tuple[str, bool]] | None:
    """(name, is_known) per header cell, known names lower-cased; None when the header is unusable."""
    columns = [
        (name.lower(), True) if name.lower() in KNOWN_COLUMNS else (name, False) for name in header
    ]
    names = [name for name, _ in columns if name]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    repeated = (
        sorted({name for name in names if names.count(name) > 1})
        if len(set(names)) != len(names)
        else []
    )
    if missing:
        found = ", ".join(names) or "no column names"
        plural = "s" if len(missing) > 1 else ""
        errors.add(
            1,
            None,
            f"missing required column{plural} {', '.join(missing)} (the header has: {found})",
        )
    if repeated:
        errors.add(
            1,
            None,
            f"column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)} appear more than once",
        )
    return None if (missing or repeated) else columns


def _parse_json(text: str, errors: ErrorCollector, builder: _RowBuilder) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.add(
            None,
            None,
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
        )
        return
    if isinstance(document, dict) and "recipients" in document:
        records = document["recipients"]
    else:
        records = document
    if not isinstance(records, list):
        errors.add(
            None,
            None,
            'The JSON must be a list of recipient objects, or an object with a "recipients" list.',
        )
        return
    if not records:
        errors.add(None, None, "The file has no recipients.")
        return
    _parse_records(records, errors, builder)


def parse_records(records: list[Any], *, now: datetime | None = None) -> ParseResult:
    """Validate already-decoded records (dicts shaped like the JSON file's), row numbers from 1.

    For callers that fetch records themselves, e.g. a pull from an HTTP source.
    """
    errors = ErrorCollector()
    if not records:
        return ParseResult(rows=[], errors=[RowError(None, None, "There are no recipients.")])
    builder = _RowBuilder(errors, now or datetime.now(dt_timezone.utc))
    _parse_records(records, errors, builder)
    if errors:
        return ParseResult(rows=[], errors=errors.as_list())
    return ParseResult(rows=builder.rows, errors=[])


def _parse_records(records: list[Any], errors: ErrorCollector, builder: _RowBuilder) -> None:
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            errors.add(index, None, f"must be a JSON object, got {type(record).__name__}")
            continue
        known = {key: record[key] for key in KNOWN_COLUMNS if key in record}
        extra = record.get("attributes")
        if extra is not None and not isinstance(extra, dict):
            errors.add(index, "attributes", f"must be a JSON object, got {type(extra).__name__}")
            continue
        attributes = {
            str(key): value for key, value in (extra or {}).items() if value not in (None, "")
        }
        conflict = False
        for key, value in record.items():
            if key in KNOWN_COLUMNS or key == "attributes" or value in (None, ""):
                continue
            if key in attributes and attributes[key] != value:
                errors.add(
                    index, key, "given both as a key and inside attributes, with different values"
                )
                conflict = True
            attributes[key] = value
        if not conflict:
            builder.add(index, known, attributes)


# --- Entry point -------------------------------------------------------------------------


def parse_recipients(
    data: UploadSource,
    *,
    filename: str = "",
    format: str | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> ParseResult:
    """Parse a whole recipient file; the result has either rows or errors, never a partial file.

    ``data`` is read as a stream, never past ``limit`` bytes (default: the upload limit).
    ``now`` (aware, default: the current time) bounds usage_as_of: at most an hour ahead.
    """
    given = chosen_format(format, what="recipient")
    errors = ErrorCollector()
    builder = _RowBuilder(errors, now or datetime.now(dt_timezone.utc))
    try:
        upload = Upload(data, limit=limit)
        first = upload.first_byte()
        if not first:
            return ParseResult(rows=[], errors=[RowError(None, None, "The file is empty.")])
        if (given or format_from(filename=filename, first_byte=first)) == "csv":
            _parse_csv(upload.lines(), errors, builder)
        else:
            _parse_json(upload.read_text(), errors, builder)
    except UploadError as exc:
        return ParseResult(rows=[], errors=[RowError(None, None, str(exc))])
    if errors:
        return ParseResult(rows=[], errors=errors.as_list())
    return ParseResult(rows=builder.rows, errors=[])
