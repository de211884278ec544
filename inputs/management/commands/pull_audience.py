from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from inputs.models import AudienceImport, AudienceSource
from inputs.sources import SourceError, audience_pull
from workflows.management.options import acting_user
from workflows.redaction import safe_url


class Command(BaseCommand):
    help = "Pull a segment's recipients from its HTTP source and import them."

    def add_arguments(self, parser):
        parser.add_argument("segment", help="Segment slug, e.g. trial_ending_3_days.")
        parser.add_argument(
            "--user", help="Username recorded as the one who pulled (default: the service account)."
        )

    def handle(self, *args, **options):
        slug = options["segment"]
        source = AudienceSource.objects.select_related("segment").filter(segment__slug=slug).first()
        if source is None:
            raise CommandError(f"Segment {slug} has no HTTP source: add one in the admin.")
        user = acting_user(options["user"])
        try:
            result = audience_pull(source=source, pulled_by=user)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        url = safe_url(source.url)
        if result.status != AudienceImport.Status.IMPORTED:
            for error in result.errors or []:
                self.stderr.write(self._describe(error))
            raise CommandError(
                f"The pull from {url} was rejected: {source.last_status}. Nothing was imported into {slug}."
            )
        fetched_at = timezone.localtime(source.last_fetched_at).strftime("%Y-%m-%d %H:%M:%S %Z")
        self.stdout.write(
            f"Pulled {result.row_count} recipients into {slug} from {url} (fetched at {fetched_at})."
        )

    @staticmethod
    def _describe(error) -> str:
        if isinstance(error, dict):
            where = ", ".join(
                f"{key} {error[key]}"
                for key in ("row", "column")
                if error.get(key) not in (None, "")
            )
            message = error.get("message", "")
            return f"  {where}: {message}" if where else f"  {message}"
        return f"  {error}"
