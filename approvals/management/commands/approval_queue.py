from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from approvals.models import ApprovalItem, ReviewTeam


class Command(BaseCommand):
    help = "List open approval items, oldest first (optionally of one team's queue)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--team", help="Team slug, e.g. legal, brand, lifecycle_marketing, product_marketing."
        )

    def handle(self, *args, **options):
        items = ApprovalItem.objects.open().with_related().order_by("created_at", "pk")
        if options["team"]:
            if not ReviewTeam.objects.filter(slug=options["team"]).exists():
                known = ", ".join(
                    ReviewTeam.objects.order_by("slug").values_list("slug", flat=True)
                )
                raise CommandError(f"There is no team {options['team']!r}; known teams: {known}.")
            items = items.filter(team__slug=options["team"])
        now = timezone.now()
        count = 0
        for item in items:
            count += 1
            due = ""
            if item.due_at:
                due = (
                    " OVERDUE"
                    if item.due_at < now
                    else f" due {timezone.localtime(item.due_at):%Y-%m-%d %H:%M}"
                )
            self.stdout.write(
                f"{item.pk}\t{item.team.slug}\t{item.run.run_id}\t{item.run.prompt_version.label}\t"
                f"risk {item.run.risk_level or '-'}{due}\t{item.routing_reason}"
            )
        self.stderr.write(f"{count} open item(s).")
