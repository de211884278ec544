from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evals import services
from workflows.import_errors import count_errors
from workflows.management.options import acting_user, workflow_named
from workflows.uploads import FORMATS


class Command(BaseCommand):
    help = (
        "Import historical campaign briefs (CSV or JSON) as a workflow's eval dataset. A file with any bad row "
        "imports nothing and lists every row-level error."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="Workflow slug.")
        parser.add_argument(
            "name",
            help="Dataset name; importing again under the same name replaces its items (if no suite used them).",
        )
        parser.add_argument("file", help="Path of the CSV or JSON file.")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help="Default: from the file extension, else sniffed.",
        )
        parser.add_argument("--description", default="", help="What the dataset holds.")
        parser.add_argument(
            "--user", help="Username recorded as the importer (default: the service account)."
        )

    def handle(
        self, *args, workflow, name, file, format=None, description="", user=None, **options
    ):
        found = workflow_named(workflow)
        importer = acting_user(user)
        path = Path(file)
        try:
            data = path.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from exc
        with data:
            try:
                result = services.dataset_import(
                    workflow=found,
                    name=name,
                    data=data,
                    filename=path.name,
                    imported_by=importer,
                    format=format,
                    description=description,
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        if not result.ok:
            for error in result.errors:
                self.stderr.write(error)
            count = count_errors(result.errors)
            raise CommandError(
                f"Nothing imported: {count} error{'' if count == 1 else 's'} in {file}."
            )
        dataset = result.dataset
        self.stdout.write(
            f"Imported {dataset.items.count()} briefs into the dataset {dataset.name!r} ({dataset.slug}) of {found.slug}."
        )
