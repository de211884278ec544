from datetime import date

from django.core.management.base import BaseCommand, CommandError

from workflows import run_report
from workflows.management.options import workflow_named


def _date(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r} is not a date: use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Export the run report (one row per run, a header row first) as CSV or XLSX."

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, help="csv or xlsx.")
        parser.add_argument(
            "--output", required=True, help="The file to write (- writes CSV to stdout)."
        )
        parser.add_argument("--workflow", help="Only this workflow's runs (its slug).")
        parser.add_argument("--since", help="Runs created on or after this date, YYYY-MM-DD.")
        parser.add_argument("--until", help="Runs created on or before this date, YYYY-MM-DD.")

    def handle(self, *args, **options):
        fmt = options["format"]
        if fmt not in run_report.FORMATS:
            raise CommandError(f"--format must be csv or xlsx, not {fmt!r}.")
        since = _date("--since", options["since"])
        until = _date("--until", options["until"])
        if since and until and since > until:
            raise CommandError(f"--since {since} is after --until {until}: no run could match.")
        if options["workflow"]:
            workflow_named(options["workflow"])
        output = options["output"]
        if output == "-" and fmt != "csv":
            raise CommandError("Only CSV can be written to stdout: give --output a file for XLSX.")
        filters = {"workflow": options["workflow"], "since": since, "until": until}
        try:
            if output == "-":
                count = run_report.export_runs(stream=self.stdout, format=fmt, **filters)
            elif fmt == "csv":
                with open(output, "w", newline="", encoding="utf-8") as stream:
                    count = run_report.export_runs(stream=stream, format=fmt, **filters)
            else:
                count = run_report.export_runs(stream=output, format=fmt, **filters)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
        self.stderr.write(f"{count} runs exported.")
