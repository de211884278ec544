from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from evals import services
from evals.models import PromotionRequest
from workflows.management.options import acting_user


class Command(BaseCommand):
    help = (
        "Approve or reject a promotion request as a second person (not the version's author, not the requester). "
        "Approving pins production to the version, naming the suite and the approver in the workflow's history."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "request", type=int, help="The promotion request's id (request_promotion prints it)."
        )
        parser.add_argument("--decision", required=True, choices=["approve", "reject"])
        parser.add_argument(
            "--user",
            required=True,
            help="Username of the person deciding (needs evals.approve_promotion).",
        )
        parser.add_argument("--note", default="", help="Why.")

    def handle(self, *args, **options):
        request = (
            PromotionRequest.objects.select_related(
                "workflow", "version__template", "suite", "requested_by"
            )
            .filter(pk=options["request"])
            .first()
        )
        if request is None:
            raise CommandError(f"There is no promotion request {options['request']}.")
        by = acting_user(options["user"])
        try:
            if options["decision"] == "approve":
                workflow = services.promotion_approve(request=request, by=by, note=options["note"])
            else:
                services.promotion_reject(request=request, by=by, note=options["note"])
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", None) or [str(exc)])) from None
        if options["decision"] == "approve":
            self.stdout.write(
                f"{workflow.slug} now serves {workflow.production_version.label} in production (approved by {by})."
            )
        else:
            self.stdout.write(
                f"Promotion of {request.version.label} rejected by {by}; production stays {request.workflow.production_version.label}."
            )
