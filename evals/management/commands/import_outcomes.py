from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evals import services
from workflows.import_errors import count_errors
from workflows.management.options import acting_user, workflow_named


class Command(BaseCommand):
    help = (
        "Import campaign outcomes per prompt version from a CSV (prompt_version, period_start, period_end, sends, "
        "clicks, unsubscribes, upgrades, reviewed, approved, source). A file with any bad row imports nothing. "
        "Per-recipient events (a webhook, or a file of conversions) go through import_events instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="Workflow slug.")
        parser.add_argument("file", help="Path of the CSV file.")
        parser.add_argument(
            "--user", help="Username recorded as the importer (default: the service account)."
        )

    def handle(self, *args, workflow, file, user=None, **options):
        found = workflow_named(workflow)
        importer = acting_user(user)
        path = Path(file)
        try:
            data = path.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from exc
        with data:
            stored, errors = services.outcomes_import(
                workflow=found, data=data, filename=path.name, imported_by=importer
            )
        if errors:
            for error in errors:
                self.stderr.write(error)
            count = count_errors(errors)
            raise CommandError(
                f"Nothing imported: {count} error{'' if count == 1 else 's'} in {file}."
            )
        self.stdout.write(f"Imported {stored} outcome rows for {found.slug}.")
