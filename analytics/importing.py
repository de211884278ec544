"""Parse a daily ad analytics file (CSV or JSON) into validated rows, or into row-level errors. No ORM.

Columns: ``date`` (YYYY-MM-DD), ``platform``, ``campaign_id``, ``ad_id``, ``ad_name``,
``impressions``, ``clicks``, ``spend``, and optionally ``currency``; other columns are ignored.
A file with any error is rejected whole: every error is collected (up to
``workflows.import_errors.MAX_ERRORS``) with row numbers as a person sees them (in a CSV the
header is row 1; in JSON the first record is row 1). The service in ``analytics.imports``
stores a clean file, all or nothing.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from analytics.comparison import DailyRow
from workflows.import_errors import ErrorCollector, RowError
from workflows.uploads import Upload, UploadError, UploadSource, chosen_format, format_from

REQUIRED_COLUMNS = (
    "date",
    "platform",
    "campaign_id",
    "ad_id",
    "ad_name",
    "impressions",
    "clicks",
    "spend",
)
OPTIONAL_COLUMNS = ("currency",)
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Mirrors analytics.models.AdDailyRow, so a file that parses also fits the table.
MAX_LENGTHS = {"platform": 60, "campaign_id": 120, "ad_id": 120, "ad_name": 200}
MAX_COUNT = 2**63 - 1
SPEND_DECIMALS = 4
SPEND_MAX_DIGITS = 14
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CURRENCY = re.compile(r"[A-Z]{3}")
RECORDS_KEY = "rows"


@dataclass
class ParseResult:
    rows: list[DailyRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- Field checks ------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"must be text, got {type(value).__name__}")


def parse_day(value: Any, *, today: date) -> date:
    text = _text(value)
    if not text:
        raise ValueError("is empty; every row needs its date (YYYY-MM-DD)")
    if not ISO_DATE.fullmatch(text):
        raise ValueError(f"not a date in the form YYYY-MM-DD: {text!r}")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a calendar date: {text!r}") from None
    if day > today:
        raise ValueError(f"{text} is in the future (today is {today.isoformat()})")
    return day


def parse_count(value: Any) -> int:
    """A whole number of at least 0: an integer, or text of digits."""
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, got {value!r}")
    if isinstance(value, int):
        number = value
    else:
        text = _text(value)
        if not text:
            raise ValueError("is empty; give a whole number (0 for none)")
        if not text.isdigit():
            raise ValueError(f"must be a whole number of at least 0, got {text!r}")
        number = int(text)
    if number < 0:
        raise ValueError(f"must be a whole number of at least 0, got {number}")
    if number > MAX_COUNT:
        raise ValueError(f"is too large: {number}")
    return number


def parse_spend(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"must be an amount, got {value!r}")
    text = _text(value)
    if not text:
        raise ValueError("is empty; give the amount spent (0 for none)")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"must be an amount like 123.45, got {text!r}") from None
    if not amount.is_finite():
        raise ValueError(f"must be an amount like 123.45, got {text!r}")
    if amount < 0:
        raise ValueError(f"cannot be negative: {text}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > SPEND_DECIMALS:
        raise ValueError(f"has more than {SPEND_DECIMALS} decimals: {text}")
    if (
        len(amount.quantize(Decimal(1).scaleb(-SPEND_DECIMALS)).as_tuple().digits)
        > SPEND_MAX_DIGITS
    ):
        raise ValueError(f"is too large: {text}")
    return amount


class _RowBuilder:
    """Validates one record at a time and remembers each date x platform x ad across the file."""

    def __init__(self, errors: ErrorCollector, today: date) -> None:
        self.errors = errors
        self.today = today
        self.first_row_of: dict[tuple[date, str, str], int] = {}
        self.rows: list[DailyRow] = []

    def add(self, row_number: int, known: dict[str, Any]) -> None:
        error = self.errors.add
        texts: dict[str, str] = {}
        for column in ("platform", "campaign_id", "ad_id", "ad_name", "currency"):
            try:
                texts[column] = _text(known.get(column))
            except ValueError as exc:
                error(row_number, column, str(exc))
                continue
            limit = MAX_LENGTHS.get(column)
            if column != "currency" and not texts[column]:
                error(row_number, column, f"is empty; every row needs its {column}")
            elif limit and len(texts[column]) > limit:
                error(row_number, column, f"is longer than {limit} characters")
        texts["platform"] = texts.get("platform", "").lower()
        currency = texts.get("currency", "").upper()
        if currency and not CURRENCY.fullmatch(currency):
            error(
                row_number,
                "currency",
                f"must be a 3-letter ISO 4217 code like EUR, got {currency!r}",
            )

        day = spend = None
        counts: dict[str, int] = {}
        try:
            day = parse_day(known.get("date"), today=self.today)
        except ValueError as exc:
            error(row_number, "date", str(exc))
        for column in ("impressions", "clicks"):
            try:
                counts[column] = parse_count(known.get(column))
            except ValueError as exc:
                error(row_number, column, str(exc))
        impressions, clicks = counts.get("impressions"), counts.get("clicks")
        if impressions is not None and clicks is not None and clicks > impressions:
            error(row_number, "clicks", f"{clicks} clicks is more than {impressions} impressions")
        try:
            spend = parse_spend(known.get("spend"))
        except ValueError as exc:
            error(row_number, "spend", str(exc))

        if day is not None and texts.get("platform") and texts.get("ad_id"):
            key = (day, texts["platform"], texts["ad_id"])
            first = self.first_row_of.setdefault(key, row_number)
            if first != row_number:
                error(
                    row_number,
                    None,
                    f"{day.isoformat()}, {texts['platform']}, ad {texts['ad_id']} is already in row {first}",
                )
        if self.errors:
            return  # the file is rejected: its rows are no longer needed
        self.rows.append(
            DailyRow(
                date=day,
                platform=texts["platform"],
                campaign_id=texts["campaign_id"],
                ad_id=texts["ad_id"],
                ad_name=texts["ad_name"],
                impressions=impressions,
                clicks=clicks,
                spend=spend,
                currency=currency,
            )
        )


# --- Formats ---------------------------------------------------------------------------


def _parse_csv(lines: Iterable[str], errors: ErrorCollector, builder: _RowBuilder) -> None:
    # csv.reader, not DictReader: DictReader skips blank lines and so shifts the row numbers.
    reader = csv.reader(lines, strict=True)
    row_number = 0
    header: list[str] = []
    try:
        for record in reader:
            row_number += 1
            if row_number == 1:
                header = [name.strip().lower() for name in record]
                if not _header_ok(header, errors):
                    return
                continue
            if not record or all(not value.strip() for value in record):
                continue
            if len(record) > len(header):
                errors.add(
                    row_number,
                    None,
                    f"has {len(record)} values but the header has {len(header)} columns; check for an unquoted comma",
                )
                continue
            known = {name: value for name, value in zip(header, record) if name in KNOWN_COLUMNS}
            builder.add(row_number, known)
    except csv.Error as exc:
        errors.add(row_number or 1, None, f"not readable as CSV: {exc}")
        return
    if row_number == 0:
        errors.add(None, None, "The file is empty.")
    elif not builder.rows and not errors:
        errors.add(None, None, "The file has a header but no rows.")


def _header_ok(header: list[str], errors: ErrorCollector) -> bool:
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    named = [name for name in header if name]
    repeated = sorted({name for name in named if named.count(name) > 1 and name in KNOWN_COLUMNS})
    if missing:
        found = ", ".join(named) or "no column names"
        plural = "s" if len(missing) > 1 else ""
        errors.add(
            1,
            None,
            f"missing required column{plural} {', '.join(missing)} (the header has: {found})",
        )
    if repeated:
        errors.add(1, None, f"column(s) {', '.join(repeated)} appear more than once")
    return not (missing or repeated)


def _parse_records(records: list[Any], errors: ErrorCollector, builder: _RowBuilder) -> None:
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            errors.add(index, None, f"must be a JSON object, got {type(record).__name__}")
            continue
        missing = [name for name in REQUIRED_COLUMNS if name not in record]
        if missing:
            errors.add(index, None, f"has no {', '.join(missing)}")
            continue
        builder.add(index, {key: record[key] for key in KNOWN_COLUMNS if key in record})


def _parse_json(text: str, errors: ErrorCollector, builder: _RowBuilder) -> None:
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        errors.add(
            None,
            None,
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
        )
        return
    records = document.get(RECORDS_KEY) if isinstance(document, dict) else document
    if not isinstance(records, list):
        errors.add(
            None, None, 'The JSON must be a list of row objects, or an object with a "rows" list.'
        )
        return
    if not records:
        errors.add(None, None, "The file has no rows.")
        return
    _parse_records(records, errors, builder)


# --- Entry points ------------------------------------------------------------------------


def parse_ad_records(records: list[Any], *, today: date) -> ParseResult:
    """Validate already-decoded records (objects with our column names), row numbers from 1."""
    errors = ErrorCollector()
    if not records:
        return ParseResult(errors=[RowError(None, None, "There are no rows.")])
    builder = _RowBuilder(errors, today)
    _parse_records(records, errors, builder)
    if errors:
        return ParseResult(errors=errors.as_list())
    return ParseResult(rows=builder.rows)


def parse_ad_rows(
    data: UploadSource,
    *,
    today: date,
    filename: str = "",
    format: str | None = None,
    limit: int | None = None,
) -> ParseResult:
    """Parse a whole file; the result has either rows or errors, never part of a file.

    ``data`` is read as a stream, never past ``limit`` bytes (default: the upload limit).
    ``today`` bounds the dates: a row dated after it is an error.
    """
    given = chosen_format(format, what="analytics")
    errors = ErrorCollector()
    builder = _RowBuilder(errors, today)
    try:
        upload = Upload(data, limit=limit)
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
    return ParseResult(rows=builder.rows)
