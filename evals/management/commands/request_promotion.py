from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from evals import services
from workflows.management.options import acting_user, version_of, workflow_named


class Command(BaseCommand):
    help = (
        "Ask for a prompt version to serve production. Needs the version's latest eval suite against production "
        "to say promote; a second person decides (decide_promotion)."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="Workflow slug.")
        parser.add_argument("version", help="The version to promote, e.g. v9.")
        parser.add_argument(
            "--user",
            required=True,
            help="Username of the person asking (needs evals.request_promotion).",
        )
        parser.add_argument("--note", default="", help="Why this version should serve production.")

    def handle(self, *args, **options):
        workflow = workflow_named(options["workflow"])
        version = version_of(workflow, options["version"])
        try:
            request = services.promotion_request(
                workflow=workflow,
                version=version,
                requested_by=acting_user(options["user"]),
                note=options["note"],
            )
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", None) or [str(exc)])) from None
        self.stdout.write(
            f"Promotion request {request.pk}: {version.label} on {request.suite.label}, requested by {request.requested_by}; "
            f"a second person decides it (decide_promotion {request.pk} --decision approve|reject --user NAME)."
        )
