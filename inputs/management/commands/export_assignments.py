import sys

from django.core.management.base import BaseCommand, CommandError

from inputs.services import assignment_rows
from workflows.exports import csv_writer
from workflows.models import Run


class Command(BaseCommand):
    help = "Export which variant each recipient of a run gets (or why none) as CSV."

    def add_arguments(self, parser):
        parser.add_argument("run", help="Run id (the number) or trace id.")
        parser.add_argument("--output", help="File to write (default: standard output).")

    def handle(self, *args, **options):
        key = options["run"]
        run = Run.objects.filter(trace_id=key).first() or (
            Run.objects.filter(pk=key).first() if key.isdigit() else None
        )
        if run is None:
            raise CommandError(f"No run {key!r}.")
        out = (
            open(options["output"], "w", newline="", encoding="utf-8")
            if options["output"]
            else sys.stdout
        )
        try:
            writer = csv_writer(out)
            count = -1
            for row in assignment_rows(run):
                writer.writerow(row)
                count += 1
        finally:
            if out is not sys.stdout:
                out.close()
        self.stderr.write(f"{count} assignments of {run.run_id} exported.")
