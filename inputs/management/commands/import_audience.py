from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inputs.imports import audience_import
from inputs.models import AudienceImport, Recipient
from workflows.import_errors import count_errors
from workflows.management.options import acting_user
from workflows.models import AudienceSegment
from workflows.uploads import FORMATS


class Command(BaseCommand):
    help = (
        "Replace a segment's recipients with those of a CSV or JSON file. A file with any bad row "
        "imports nothing and lists every row-level error."
    )

    def add_arguments(self, parser):
        parser.add_argument("segment", help="Audience segment slug.")
        parser.add_argument("file", help="Path of the CSV or JSON file.")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help="Default: from the file extension, else sniffed.",
        )
        parser.add_argument(
            "--user", help="Username recorded as the importer (default: the service account)."
        )

    def handle(self, *args, segment, file, format=None, user=None, **options):
        found = AudienceSegment.objects.filter(slug=segment).first()
        if found is None:
            known = ", ".join(AudienceSegment.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No audience segment {segment!r}. Known segments: {known}.")
        importer = acting_user(user)
        path = Path(file)
        try:
            data = path.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from exc
        with data:
            record = audience_import(
                segment=found, data=data, filename=path.name, imported_by=importer, format=format
            )
        if record.status == AudienceImport.Status.REJECTED:
            for error in record.errors:
                self.stderr.write(error)
            count = count_errors(record.errors)
            raise CommandError(
                f"Nothing imported: {count} error{'' if count == 1 else 's'} in {file}."
            )
        opted_out = Recipient.objects.filter(
            audience_import=record, consent=Recipient.Consent.OPTED_OUT
        ).count()
        self.stdout.write(
            f"Imported {record.row_count} recipients into {found.slug} ({opted_out} opted out)."
        )
