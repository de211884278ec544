from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics.imports import analytics_import
from analytics.models import AnalyticsImport
from workflows.import_errors import count_errors
from workflows.management.options import acting_user, workflow_named
from workflows.uploads import FORMATS


class Command(BaseCommand):
    help = (
        "Import a workflow's daily ad analytics from a CSV or JSON file (columns: date, platform, "
        "campaign_id, ad_id, ad_name, impressions, clicks, spend, optional currency). A file with any "
        "bad row imports nothing and lists every row-level error. The newest import wins per date, platform and ad."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="Workflow slug, e.g. weekly_ad_performance_review.")
        parser.add_argument("file", help="Path of the CSV or JSON file.")
        parser.add_argument(
            "--format", choices=FORMATS, help="Default: from the file extension, else sniffed."
        )
        parser.add_argument(
            "--user", help="Username recorded as the importer (default: the service account)."
        )

    def handle(self, *args, workflow, file, format=None, user=None, **options):
        found = workflow_named(workflow)
        importer = acting_user(user)
        path = Path(file)
        try:
            data = path.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from exc
        with data:
            record = analytics_import(
                workflow=found, data=data, filename=path.name, imported_by=importer, format=format
            )
        if record.status == AnalyticsImport.Status.REJECTED:
            for error in record.errors:
                self.stderr.write(error)
            count = count_errors(record.errors)
            raise CommandError(
                f"Nothing imported: {count} error{'' if count == 1 else 's'} in {file}."
            )
        replaced = (
            f", replacing {record.replaced_count} earlier rows" if record.replaced_count else ""
        )
        self.stdout.write(
            f"Imported {record.row_count} ad rows ({record.first_date} to {record.last_date}) "
            f"into {found.slug}{replaced}."
        )
