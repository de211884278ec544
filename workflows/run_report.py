"""The run report for managers: one row per run, columns contributed by the apps.

The kernel writes its own columns; feature apps register a ``ColumnProvider`` in their
AppConfig.ready() (``register_columns``), so the kernel never imports them. The exporter walks
runs by primary key in chunks and asks every provider for a whole chunk at once: the query count
grows with the number of chunks, never with the number of runs, and memory stays constant.

- ``ColumnProvider(key=..., headers=(...), values=f, order=...)``: ``f(run_ids)`` returns
  ``{run_id: (value per header)}`` for the runs it knows; missing runs get empty cells.
- ``export_runs(stream=..., format="csv"|"xlsx", workflow=..., since=..., until=...)`` writes the
  report and returns its row count (header excluded). CSV cells go through ``csv_writer``; dates
  are ISO strings in CSV and real dates in XLSX.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from workflows.exports import csv_writer, spreadsheet_safe

CHUNK_SIZE = 2000
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class ColumnProvider:
    key: str
    headers: tuple[str, ...]
    values: Callable[[Sequence[int]], dict[int, Sequence[Any]]]
    order: int


class RunReportColumns:
    def __init__(self):
        self._providers: dict[str, ColumnProvider] = {}

    def register(self, provider: ColumnProvider) -> None:
        if not isinstance(provider.order, int):
            raise TypeError(f"The order of the report columns {provider.key} must be an integer.")
        if self._providers.get(provider.key) == provider:
            return  # an app's ready() ran again
        if provider.key in self._providers:
            raise ValueError(f"Report columns {provider.key} are already registered.")
        taken = {h for p in self._providers.values() for h in p.headers}
        clash = [h for h in provider.headers if h in taken]
        if clash:
            raise ValueError(f"Report column {', '.join(clash)} is already contributed.")
        self._providers[provider.key] = provider

    def unregister(self, key: str) -> None:
        self._providers.pop(key, None)

    def providers(self) -> list[ColumnProvider]:
        return sorted(self._providers.values(), key=lambda p: p.order)


columns = RunReportColumns()


def register_columns(provider: ColumnProvider) -> None:
    columns.register(provider)


def _local(value: datetime.datetime | None) -> datetime.datetime | None:
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def kernel_values(run_ids: Sequence[int]) -> dict[int, tuple]:
    from workflows.models import Run

    rows = Run.objects.filter(pk__in=run_ids).values_list(
        "pk",
        "workflow__slug",
        "created_at",
        "finished_at",
        "status",
        "prompt_version__template__slug",
        "prompt_version__version",
        "model_name",
        "risk_level",
        "started_by__username",
        "trigger",
        "as_of",
    )
    result = {}
    for (
        pk,
        slug,
        created,
        finished,
        status,
        template,
        version,
        model,
        risk,
        user,
        trigger,
        as_of,
    ) in rows:
        local_created = _local(created)
        result[pk] = (
            f"run_{local_created:%Y_%m_%d_%H%M}_{pk}",
            slug,
            local_created,
            _local(finished),
            status,
            f"{template}:v{version}",
            model,
            risk,
            user or "",
            (trigger or {}).get("kind", "manual"),
            as_of,
        )
    return result


register_columns(
    ColumnProvider(
        key="workflows",
        headers=(
            "run",
            "workflow",
            "created_at",
            "finished_at",
            "status",
            "prompt_version",
            "model",
            "risk_level",
            "started_by",
            "trigger",
            "as_of",
        ),
        values=kernel_values,
        order=0,
    )
)


def report_runs(
    *,
    workflow: str | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    run_ids: Iterable[int] | None = None,
):
    """The runs of the report, oldest first; ``since``/``until`` are inclusive local dates."""
    from workflows.models import Run

    runs = Run.objects.all()
    if workflow:
        runs = runs.filter(workflow__slug=workflow)
    tz = timezone.get_current_timezone()
    if since:
        start = datetime.datetime.combine(since, datetime.time.min, tzinfo=tz)
        runs = runs.filter(created_at__gte=start)
    if until:
        end = datetime.datetime.combine(
            until + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
        )
        runs = runs.filter(created_at__lt=end)
    if run_ids is not None:
        runs = runs.filter(pk__in=run_ids)
    return runs


def _chunks_of_ids(runs, chunk_size: int) -> Iterator[list[int]]:
    last = 0
    while True:
        ids = list(
            runs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def header() -> list[str]:
    return [h for p in columns.providers() for h in p.headers]


def report_rows(runs, *, chunk_size: int = CHUNK_SIZE) -> Iterator[list[Any]]:
    """Rows of the report (no header), a constant number of queries per chunk."""
    providers = columns.providers()
    for ids in _chunks_of_ids(runs, chunk_size):
        values = [(p, p.values(ids)) for p in providers]
        for pk in ids:
            row: list[Any] = []
            for provider, by_run in values:
                cells = by_run.get(pk)
                row.extend(cells if cells is not None else [None] * len(provider.headers))
            yield row


def _iso(value: Any) -> Any:
    """Dates and times as ISO 8601; a time in CSV says its offset (XLSX cells cannot hold one)."""
    if isinstance(value, datetime.datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def write_csv(*, stream, runs, chunk_size: int = CHUNK_SIZE) -> int:
    writer = csv_writer(stream)
    writer.writerow(header())
    count = 0
    for row in report_rows(runs, chunk_size=chunk_size):
        writer.writerow([_iso(v) for v in row])
        count += 1
    return count


class _Echo:
    def write(self, value):
        return value


def csv_lines(runs, *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """The CSV report line by line, for a streaming HTTP response."""
    writer = csv_writer(_Echo())
    yield writer.writerow(header())
    for row in report_rows(runs, chunk_size=chunk_size):
        yield writer.writerow([_iso(v) for v in row])


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value
    return spreadsheet_safe(value)


def write_xlsx(*, stream, runs, chunk_size: int = CHUNK_SIZE) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Runs")
    sheet.append(header())
    count = 0
    for row in report_rows(runs, chunk_size=chunk_size):
        sheet.append([_xlsx_cell(v) for v in row])
        count += 1
    workbook.save(stream)
    return count


def export_runs(
    *,
    stream,
    format: str,
    workflow: str | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    run_ids: Iterable[int] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Write the report to ``stream`` (text for CSV, a path or binary file for XLSX); the row count."""
    if format not in FORMATS:
        raise ValueError(f"The report format must be csv or xlsx, not {format!r}.")
    runs = report_runs(workflow=workflow, since=since, until=until, run_ids=run_ids)
    if format == "csv":
        return write_csv(stream=stream, runs=runs, chunk_size=chunk_size)
    return write_xlsx(stream=stream, runs=runs, chunk_size=chunk_size)
