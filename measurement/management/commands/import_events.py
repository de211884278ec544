from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from measurement.importing import KNOWN_COLUMNS
from measurement.models import EventIngest
from measurement.services import events_import
from workflows.import_errors import count_errors
from workflows.management.options import acting_user
from workflows.uploads import FORMATS


class Command(BaseCommand):
    help = (
        f"Import campaign events (e.g. conversions from the CRM) from a CSV or JSON file "
        f"(columns: {', '.join(KNOWN_COLUMNS)}; email optional). A file with any bad row imports "
        "nothing and lists every row-level error; events already stored for the source are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the CSV or JSON file.")
        parser.add_argument(
            "--source",
            default="import",
            help="The events' source (event ids are unique per source). Default: import.",
        )
        parser.add_argument(
            "--format", choices=FORMATS, help="Default: from the file extension, else sniffed."
        )
        parser.add_argument(
            "--user", help="Username recorded as the importer (default: the service account)."
        )

    def handle(self, *args, file, source, format=None, user=None, **options):
        importer = acting_user(user)
        path = Path(file)
        try:
            data = path.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from exc
        with data:
            try:
                record = events_import(
                    data=data, filename=path.name, source=source, by=importer, format=format
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        if record.status == EventIngest.Status.REJECTED:
            for error in record.errors:
                self.stderr.write(error)
            count = count_errors(record.errors)
            raise CommandError(
                f"Nothing imported: {count} error{'' if count == 1 else 's'} in {file}."
            )
        self.stdout.write(
            f"Imported {record.stored_count} events from {path.name} (source {record.source}): "
            f"{record.duplicate_count} already stored, {record.unattributed_count} unattributed."
        )
