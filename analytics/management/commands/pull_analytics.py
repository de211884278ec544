from django.core.management.base import BaseCommand, CommandError

from analytics.models import AnalyticsImport, AnalyticsSource
from analytics.sources import SourceError, analytics_pull
from workflows.management.options import acting_user, workflow_named
from workflows.redaction import safe_url


class Command(BaseCommand):
    help = "Pull a workflow's daily ad analytics from its HTTP sources and import them."

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="Workflow slug, e.g. weekly_ad_performance_review.")
        parser.add_argument("--source", help="Pull only the source with this name.")
        parser.add_argument(
            "--user", help="Username recorded as the one who pulled (default: the service account)."
        )

    def handle(self, *args, **options):
        workflow = workflow_named(options["workflow"])
        sources = AnalyticsSource.objects.filter(workflow=workflow).order_by("name")
        if options["source"]:
            sources = sources.filter(name=options["source"])
        sources = list(sources)
        if not sources:
            raise CommandError(
                f"{workflow.slug} has no analytics source"
                + (f" named {options['source']!r}" if options["source"] else "")
                + ": add one in the admin."
            )
        user = acting_user(options["user"])
        failed = []
        for source in sources:
            url = safe_url(source.url)
            try:
                result = analytics_pull(source=source, pulled_by=user)
            except SourceError as exc:
                self.stderr.write(f"{source.name}: {exc}")
                failed.append(source.name)
                continue
            if result.status != AnalyticsImport.Status.IMPORTED:
                for error in result.errors or []:
                    self.stderr.write(f"  {error}")
                self.stderr.write(
                    f"{source.name}: the pull from {url} was rejected: {source.last_status}."
                )
                failed.append(source.name)
                continue
            self.stdout.write(
                f"{source.name}: pulled {result.row_count} ad rows ({result.first_date} to "
                f"{result.last_date}) into {workflow.slug} from {url}."
            )
        if failed:
            raise CommandError(f"Nothing imported from {', '.join(failed)}.")
