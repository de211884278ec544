from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api import services
from api.models import ApiToken
from workflows import identity


class Command(BaseCommand):
    help = (
        "Issue a personal API token acting as USER. The token is printed once, alone on the last "
        "line; only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="The username the token acts as.")
        parser.add_argument(
            "--expires-days",
            type=int,
            help=f"Days until it expires (1 to {services.MAX_EXPIRY_DAYS}; default: never).",
        )
        parser.add_argument("--name", default="command line", help="What uses the token.")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"There is no user {options['user']!r}.")
        try:
            token = ApiToken(
                user=user,
                name=options["name"],
                expires_at=services.expiry_after(options["expires_days"]),
            )
            secret = services.api_token_issue(token=token, by=identity.service_user_or_none())
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        expiry = (
            f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC"
            if token.expires_at
            else "never expires"
        )
        self.stdout.write(
            f"API token {token.display_prefix} for {user} ({expiry}). "
            "Copy it now: it is not shown again."
        )
        self.stdout.write(secret)
