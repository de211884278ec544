from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from approvals import services
from approvals.models import Decision, ReviewTeam
from workflows.management.options import acting_user


class Command(BaseCommand):
    help = "Decide an approval item as a reviewer, with the same checks as the admin."

    def add_arguments(self, parser):
        parser.add_argument("item", type=int, help="The approval item's id (see approval_queue).")
        parser.add_argument("--decision", required=True, choices=Decision.Kind.values)
        parser.add_argument("--user", required=True, help="The reviewer's username.")
        parser.add_argument(
            "--note", default="", help="Required to request changes, escalate or reject."
        )
        parser.add_argument("--escalate-to", help="Team slug to escalate to.")

    def handle(self, *args, **options):
        reviewer = acting_user(options["user"])
        team = None
        if options["escalate_to"]:
            team = ReviewTeam.objects.filter(slug=options["escalate_to"]).first()
            if team is None:
                raise CommandError(f"There is no team {options['escalate_to']!r}.")
        try:
            outcome = services.item_decide(
                item_id=options["item"],
                decision=options["decision"],
                reviewer=reviewer,
                note=options["note"],
                escalate_to=team,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        run = outcome.decision.item.run
        run.refresh_from_db()
        self.stdout.write(
            f"{run.run_id}: {outcome.decision.get_decision_display().lower()} by {reviewer}; run is {run.status}"
        )
        if outcome.revision is not None:
            self.stdout.write(f"Revision {outcome.revision.run_id} queued with the note.")
        if outcome.escalated_item is not None:
            self.stdout.write(
                f"Now item {outcome.escalated_item.pk} in the {outcome.escalated_item.team} queue."
            )
