from django.core.management.base import BaseCommand, CommandError

from approvals.services import access_sync


class Command(BaseCommand):
    help = "Create or update the role groups and their permissions, and the review teams on them."

    def handle(self, *args, **options):
        try:
            groups, teams = access_sync()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for group in groups:
            self.stdout.write(f"{group.name}: {group.permissions.count()} permissions")
        for team in teams:
            self.stdout.write(f"Review team {team.name}: members of {team.group.name}")
